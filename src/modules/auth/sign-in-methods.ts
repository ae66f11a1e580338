/**
 * The ways into an account, in one place: a password, its passkeys, and the identities
 * linked at a provider. Removing a way in (unlinking an identity, removing a passkey) is
 * refused when no other one would be left, and the check runs inside the removing
 * statement, so two removals racing each other cannot both pass it.
 *
 * An emailed magic code is deliberately not counted: it proves a mailbox, not the person
 * who set the account up, and the mailbox may not be theirs any more.
 */
import { and, eq, isNotNull, ne, or, type SQL, sql } from "drizzle-orm";
import { passkeyCredentials, userIdentities, users } from "../../db/schema";
import { ProblemError } from "../../lib/problem";

/** What is being removed, so it does not count as the other way in. */
export type RemovedSignInMethod = { identityId: string } | { passkeyId: string };

/** SQL true while `userId` keeps a way to sign in besides `removed`. */
export function anotherWayToSignIn(userId: string, removed: RemovedSignInMethod): SQL {
  const password = sql`EXISTS (SELECT 1 FROM ${users} WHERE ${and(eq(users.id, userId), isNotNull(users.passwordHash))})`;
  const identity = sql`EXISTS (SELECT 1 FROM ${userIdentities} WHERE ${and(
    eq(userIdentities.userId, userId),
    "identityId" in removed ? ne(userIdentities.id, removed.identityId) : undefined,
  )})`;
  const passkey = sql`EXISTS (SELECT 1 FROM ${passkeyCredentials} WHERE ${and(
    eq(passkeyCredentials.userId, userId),
    "passkeyId" in removed ? ne(passkeyCredentials.id, removed.passkeyId) : undefined,
  )})`;
  return or(password, identity, passkey) as SQL;
}

export const lastSignInMethod = () =>
  new ProblemError({
    status: 409,
    code: "last_sign_in_method",
    detail:
      "This is the only way left to sign in to the account: set a password, add a passkey or link another provider account before removing it.",
  });
