/**
 * Accounts: the `users` rows as identity sees them (an address, a password, whether
 * the address is proven, whether the account may sign in). Auth owns them; the users
 * module owns the profile fields and reaches accounts only through these verbs.
 *
 * Three moments of an account's life are decided here, once for every sign-in method:
 * - `createAccount`: the row, then the registration hooks (personal organization,
 *   first device, sign-up email);
 * - `claimAccount`: the owner of the address proves it by a channel that does not
 *   start from the account's own password while the account was never verified; what
 *   the registrant set up before the proof (a password, sessions, API keys) is dropped,
 *   closing pre-account takeover (Sudhodanan & Paverd, 2022);
 * - `eraseAccount`: sessions revoked (tokens refused at once), then every row in one batch.
 *
 * `changeAccountAccess` (disable an account, grant or remove staff) is the one other
 * write of an account's standing; the admin API calls it.
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { compiledRowById, compiledRowQuery } from "../../db/compiled-query";
import { constraintFailure } from "../../db/constraint-errors";
import { emailChangeTokens, type User, users } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { uuidv7 } from "../../lib/ids";
import { ProblemError, problems } from "../../lib/problem";
import { AFTER_CHANGE, auditStatement } from "../audit/audit.service";
import { deleteUserSessionsStatements, revokeUserSessions } from "./sessions.service";

export const emailTaken = () =>
  new ProblemError({
    status: 409,
    code: "email_taken",
    detail: "An account with this email address already exists.",
    errors: [{ pointer: "/email", detail: "Already registered." }],
  });

export const usernameTaken = () =>
  new ProblemError({
    status: 409,
    code: "username_taken",
    detail: "This username is taken.",
    errors: [{ pointer: "/username", detail: "Already taken." }],
  });

/** Which unique index of `users` a failed write hit (src/db/constraint-errors.ts reads D1's error). */
export function uniqueViolation(error: unknown): "email" | "username" | null {
  const failure = constraintFailure(error);
  if (failure?.kind !== "unique") return null;
  if (/users_username_unique|users\.username/.test(failure.target)) return "username";
  if (/users_email_unique|users\.email/.test(failure.target)) return "email";
  return null;
}

export const normalizeEmail = (email: string) => email.trim().toLowerCase();

// The two reads of an account nearly every flow starts from, built into SQL once per isolate
// (src/db/compiled-query.ts says why).
const userById = compiledRowById(users);
const userByEmail = compiledRowQuery<typeof users, { email: string }>(users, (t) =>
  eq(t.email, sql.placeholder("email")),
);

export function findUserById(ctx: ServiceContext, id: string): Promise<User | undefined> {
  return userById.get(ctx.dbSession, { id });
}

export function findUserByEmail(ctx: ServiceContext, email: string): Promise<User | undefined> {
  return userByEmail.get(ctx.dbSession, { email: normalizeEmail(email) });
}

/** Case-insensitive, through the index on lower(username). */
export function findUserByUsername(ctx: ServiceContext, username: string): Promise<User | undefined> {
  return ctx.db
    .select()
    .from(users)
    .where(sql`lower(${users.username}) = ${username.trim().toLowerCase()}`)
    .get();
}

// ---------------------------------------------------------------------------
// Creation

/**
 * Work that follows the creation of an account, whatever created it (registration,
 * a magic code, later a provider): a personal organization, the first device, the
 * sign-up email. Listed in order in the wiring (src/modules/wiring.ts).
 */
export type RegistrationHook = (ctx: ServiceContext, user: User) => Promise<void>;
export const registrationHooks: RegistrationHook[] = [];

export type NewAccount = {
  email: string;
  username?: string | null;
  firstName?: string;
  lastName?: string;
  /** Null: no password (magic code or provider sign-up). */
  passwordHash: string | null;
  /** True when the address was proven by the act that creates the account. */
  emailVerified: boolean;
};

/**
 * Inserts the account and runs the registration hooks. Two creations racing for one
 * address or username are decided by the unique indexes: the loser gets 409.
 */
export async function createAccount(ctx: ServiceContext, input: NewAccount, now = Date.now()): Promise<User> {
  const at = new Date(now);
  let user: User | undefined;
  try {
    [user] = await ctx.db
      .insert(users)
      .values({
        id: uuidv7(now),
        email: normalizeEmail(input.email),
        username: input.username ?? null,
        firstName: input.firstName ?? "",
        lastName: input.lastName ?? "",
        passwordHash: input.passwordHash,
        emailVerifiedAt: input.emailVerified ? at : null,
        createdAt: at,
        updatedAt: at,
      })
      .returning();
  } catch (error) {
    const field = uniqueViolation(error);
    if (field === "email") throw emailTaken();
    if (field === "username") throw usernameTaken();
    throw error;
  }
  if (!user) throw new Error("createAccount: the insert returned no row");
  for (const hook of registrationHooks) await hook(ctx, user);
  return user;
}

// ---------------------------------------------------------------------------
// Claim

/**
 * What other modules drop when an account is claimed (e.g. the API keys it created).
 * Each runs BEFORE the claim is written: if one fails, nothing is claimed and the
 * owner's next proof tries again (after the claim the account is verified, and these
 * would never run again).
 */
export type AccountClaimStep = (ctx: ServiceContext, userId: string) => Promise<void>;
export const accountClaimSteps: AccountClaimStep[] = [];

/**
 * The owner of `user`'s address has just proved it (magic code or link, a password
 * reset, a provider that verified the email). If the account was never verified,
 * whoever registered it may not be its owner: the password set before the proof is
 * cleared, every session is revoked (sockets close), pending address changes die and
 * the claim steps run; the account becomes verified. One D1 batch decides it, guarded
 * by "still unverified", so of two concurrent proofs one claims and the other finds a
 * verified account. A verified account is returned unchanged: it is never claimed.
 */
export async function claimAccount(ctx: ServiceContext, user: User, now = Date.now()): Promise<User> {
  if (user.emailVerifiedAt !== null) return user;
  for (const step of accountClaimSteps) await step(ctx, user.id);
  const at = new Date(now);
  const stillUnverified = sql`EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${user.id} AND ${users.emailVerifiedAt} IS NULL)`;
  const claimed: User[] = [];
  await revokeUserSessions(
    ctx,
    {
      userId: user.id,
      reason: "account_claimed",
      onlyIf: stillUnverified,
      alsoInBatch: [
        ctx.db
          .update(emailChangeTokens)
          .set({ usedAt: at })
          .where(
            and(eq(emailChangeTokens.userId, user.id), isNull(emailChangeTokens.usedAt), stillUnverified),
          ),
        auditStatement(
          ctx,
          {
            action: "auth.account_claimed",
            target: { type: "user", id: user.id },
            // Facts only (audit redaction would hide any field named after a password).
            before: { email_verified: false, sign_in_methods: user.passwordHash !== null ? ["pwd"] : [] },
            after: { email_verified: true, sign_in_methods: [], sessions_revoked: true },
          },
          { when: stillUnverified },
        ),
        // Last: the statements above read "still unverified"; this one makes it false.
        ctx.db
          .update(users)
          .set({ passwordHash: null, emailVerifiedAt: at, updatedAt: at })
          .where(and(eq(users.id, user.id), isNull(users.emailVerifiedAt)))
          .returning(),
      ],
      onBatch: (results) => {
        const rows = results.at(-1) as User[] | undefined;
        if (rows) claimed.push(...rows);
      },
    },
    now,
  );
  if (claimed[0]) {
    ctx.logger.warn("never-verified account claimed by the owner of its address", { user_id: user.id });
    return claimed[0];
  }
  // A concurrent proof claimed it first (or it was verified meanwhile): read what it is now.
  return (await findUserById(ctx, user.id)) ?? user;
}

// ---------------------------------------------------------------------------
// Access

/** Whether the account may sign in (`isActive`) and use the admin API (`isStaff`); omitted means unchanged. */
export type AccessChange = { isActive?: boolean; isStaff?: boolean };

/**
 * Changes is_active / is_staff. The change and its audit row (`user.update`) are one
 * batch; then every session of the account is revoked, because `is_staff` travels in
 * the access token and a disabled account must stop at once. Values the account
 * already has change nothing and record nothing. 404 for an unknown account.
 */
export async function changeAccountAccess(
  ctx: ServiceContext,
  id: string,
  change: AccessChange,
): Promise<User> {
  const user = await findUserById(ctx, id);
  if (!user) throw problems.notFound("user");
  const changes: Partial<Pick<User, "isActive" | "isStaff">> = {};
  if (change.isActive !== undefined && change.isActive !== user.isActive) changes.isActive = change.isActive;
  if (change.isStaff !== undefined && change.isStaff !== user.isStaff) changes.isStaff = change.isStaff;
  if (Object.keys(changes).length === 0) return user;

  const before = { is_active: user.isActive, is_staff: user.isStaff };
  const after = { is_active: changes.isActive ?? user.isActive, is_staff: changes.isStaff ?? user.isStaff };
  const [[updated]] = await ctx.db.batch([
    ctx.db
      .update(users)
      .set({ ...changes, updatedAt: new Date() })
      .where(eq(users.id, id))
      .returning(),
    auditStatement(
      ctx,
      { action: "user.update", target: { type: "user", id }, before, after },
      { when: AFTER_CHANGE },
    ),
  ]);
  if (!updated) throw problems.notFound("user");
  await revokeUserSessions(ctx, {
    userId: id,
    reason: changes.isActive === false ? "account_disabled" : "session_revoked",
  });
  ctx.logger.info("account access changed", { user_id: id, before, after });
  return updated;
}

// ---------------------------------------------------------------------------
// Erasure

/**
 * Extra deletions other modules need when an account is erased (memberships,
 * avatars, ...): each returns statements for the erasure batch, or does its own
 * off-D1 clean-up (R2) and returns none. Listed in the wiring.
 */
export type AccountErasureStep = (ctx: ServiceContext, userId: string) => Promise<BatchItem<"sqlite">[]>;
export const accountErasureSteps: AccountErasureStep[] = [];

/**
 * Erases an account (its owner's DELETE /users/me, a staff deletion, a disown link).
 * Every session is revoked first so its tokens stop at once; then the rows go in one
 * batch. `alsoInBatch` rides in that batch, e.g. the audit row of a staff deletion.
 */
export async function eraseAccount(
  ctx: ServiceContext,
  userId: string,
  alsoInBatch: BatchItem<"sqlite">[] = [],
): Promise<void> {
  await revokeUserSessions(ctx, { userId, reason: "account_deleted" });
  const extra: BatchItem<"sqlite">[] = [];
  for (const step of accountErasureSteps) extra.push(...(await step(ctx, userId)));
  await ctx.db.batch([
    ...deleteUserSessionsStatements(ctx, userId),
    ...extra,
    ctx.db.delete(users).where(eq(users.id, userId)),
    ...alsoInBatch,
  ]);
}
