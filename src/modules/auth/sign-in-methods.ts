/**
 * The ways into an account, in one place: a password, a linked identity at a provider,
 * and (when they land) passkeys, which add one more EXISTS below. Removing a way in
 * (unlinking an identity, later removing a passkey) is refused when no other one would
 * be left, and the check runs inside the removing statement, so two removals racing
 * each other cannot both pass it.
 *
 * An emailed magic code is deliberately not counted: it proves a mailbox, not the
 * person who set the account up, and the mailbox may not be theirs any more.
 */
import { and, eq, isNotNull, ne, or, type SQL, sql } from "drizzle-orm";
import { userIdentities, users } from "../../db/schema";

/** What is being removed, so it does not count as the other way in. */
export type RemovedSignInMethod = { identityId: string };

/** SQL true while `userId` keeps a way to sign in besides `removed`. */
export function anotherWayToSignIn(userId: string, removed: RemovedSignInMethod): SQL {
  const password = sql`EXISTS (SELECT 1 FROM ${users} WHERE ${and(eq(users.id, userId), isNotNull(users.passwordHash))})`;
  const otherIdentity = sql`EXISTS (SELECT 1 FROM ${userIdentities} WHERE ${and(
    eq(userIdentities.userId, userId),
    ne(userIdentities.id, removed.identityId),
  )})`;
  return or(password, otherIdentity) as SQL;
}
