/**
 * The ways into an account, in one place: its password, its passkeys, and the identities
 * linked at a provider, which join here as one more EXISTS beside the two below. Removing
 * a way in (a passkey) is refused when no other one would be left, and the check runs
 * inside the removing statement, so two removals racing each other cannot both pass it.
 *
 * An emailed magic code is deliberately not counted: it proves a mailbox, not the person
 * who set the account up, and the mailbox may not be theirs any more.
 */
import { and, eq, isNotNull, ne, or, type SQL, sql } from "drizzle-orm";
import { passkeyCredentials, users } from "../../../db/schema";
import { ProblemError } from "../../../lib/problem";

/** What is being removed, so it does not count as the other way in. */
export type RemovedSignInMethod = { passkeyId: string };

/** SQL true while `userId` keeps a way to sign in besides `removed`. */
export function anotherWayToSignIn(userId: string, removed: RemovedSignInMethod): SQL {
  const password = sql`EXISTS (SELECT 1 FROM ${users} WHERE ${and(eq(users.id, userId), isNotNull(users.passwordHash))})`;
  const otherPasskey = sql`EXISTS (SELECT 1 FROM ${passkeyCredentials} WHERE ${and(
    eq(passkeyCredentials.userId, userId),
    ne(passkeyCredentials.id, removed.passkeyId),
  )})`;
  return or(password, otherPasskey) as SQL;
}

export const lastSignInMethod = () =>
  new ProblemError({
    status: 409,
    code: "last_sign_in_method",
    detail:
      "This is the only way left to sign in to the account: set a password or add another passkey before removing it.",
  });
