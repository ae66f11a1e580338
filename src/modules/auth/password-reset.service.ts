/**
 * Password reset by email: a single-use link token (only its SHA-256 is stored),
 * valid one hour. Setting the new password proves the mailbox (a never-verified
 * account is claimed first, see accounts.ts) and revokes every session of the account.
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import { passwordResetTokens, users } from "../../db/schema";
import { sendEmail } from "../../email/send-email";
import type { ServiceContext } from "../../lib/context";
import { randomToken, sha256Hex } from "../../lib/crypto";
import { uuidv7 } from "../../lib/ids";
import { serializeError } from "../../lib/logger";
import { hashPassword } from "../../lib/password";
import { problems } from "../../lib/problem";
import { auditStatement } from "../audit/audit.service";
import { claimAccount, findUserByEmail } from "./accounts";
import { emailName, invalidOrExpired, tokenLink } from "./email-links";
import { passwordPolicyProblem } from "./password-policy";
import type { PasswordResetInput } from "./password-reset.schemas";
import { revokeUserSessions } from "./sessions.service";
import { trustSignInClient } from "./sign-in-throttle";

export const PASSWORD_RESET_TTL_MS = 60 * 60 * 1000;

const TOKEN_PREFIX = "pr_";

/**
 * POST /auth/password/forgot. Answers without revealing whether the account
 * exists, in what it says and in how long it takes: the request path does the
 * same work for every address (make a token, hash it, schedule the delivery) and
 * returns; looking the account up, storing the token and queueing the email
 * happen after the response (`waitUntil`), so none of their cost shows in the
 * answer's timing. A failure there is logged: the client was never going to be told.
 */
export async function requestPasswordReset(
  ctx: ServiceContext,
  email: string,
  now = Date.now(),
): Promise<void> {
  const token = `${TOKEN_PREFIX}${randomToken(32)}`;
  const tokenHash = await sha256Hex(token);
  ctx.waitUntil(
    deliverPasswordReset(ctx, { email, token, tokenHash, now }).catch((error: unknown) => {
      ctx.logger.error("password reset delivery failed", { error: serializeError(error) });
    }),
  );
}

/** The part of /password/forgot that depends on the account: runs after the response. Exported for tests. */
export async function deliverPasswordReset(
  ctx: ServiceContext,
  input: { email: string; token: string; tokenHash: string; now: number },
): Promise<"sent" | "no_account"> {
  const user = await findUserByEmail(ctx, input.email);
  // A disabled account could not sign in with the new password anyway.
  if (!user?.isActive) return "no_account";
  await ctx.db.insert(passwordResetTokens).values({
    id: uuidv7(input.now),
    userId: user.id,
    tokenHash: input.tokenHash,
    expiresAt: new Date(input.now + PASSWORD_RESET_TTL_MS),
    createdAt: new Date(input.now),
  });
  await sendEmail(ctx, {
    template: "password_reset",
    to: user.email,
    data: {
      name: emailName(user),
      reset_url: tokenLink(ctx, "/reset-password", input.token),
      expires_in_minutes: PASSWORD_RESET_TTL_MS / 60_000,
    },
  });
  return "sent";
}

/**
 * POST /auth/password/reset. The token is checked first (400 `invalid_or_expired`),
 * then the password policy (a refused password does not spend the token), then the
 * token is spent by a conditional UPDATE so only one request can use it. The link
 * proves the mailbox: a never-verified account is claimed (whatever its registrant
 * set up goes), then the new password is set, every other reset link dies, every
 * session is revoked and this client's sign-in failures are forgiven.
 */
export async function resetPassword(
  ctx: ServiceContext,
  input: PasswordResetInput,
  now = Date.now(),
): Promise<void> {
  const t = passwordResetTokens;
  const found = await ctx.db
    .select({ token: t, user: users })
    .from(t)
    .innerJoin(users, eq(users.id, t.userId))
    .where(eq(t.tokenHash, await sha256Hex(input.token)))
    .get();
  if (
    !found ||
    found.token.usedAt !== null ||
    found.token.expiresAt.getTime() <= now ||
    !found.user.isActive
  ) {
    throw invalidOrExpired("reset link");
  }
  const { user } = found;
  const policy = passwordPolicyProblem(input.password, { email: user.email, username: user.username });
  if (policy) {
    throw problems.validation(
      [{ pointer: "/password", detail: policy }],
      "The password does not meet the policy.",
    );
  }
  const passwordHash = await hashPassword(input.password, ctx.config.PASSWORD_HASH_PARAMS);

  const at = new Date(now);
  const [spent] = await ctx.db
    .update(t)
    .set({ usedAt: at })
    .where(and(eq(t.id, found.token.id), isNull(t.usedAt), sql`${t.expiresAt} > ${now}`))
    .returning({ id: t.id });
  if (!spent) throw invalidOrExpired("reset link");

  await claimAccount(ctx, user, now);
  await ctx.db.batch([
    ctx.db
      .update(users)
      .set({ passwordHash, emailVerifiedAt: sql`coalesce(${users.emailVerifiedAt}, ${now})`, updatedAt: at })
      .where(eq(users.id, user.id)),
    ctx.db
      .update(t)
      .set({ usedAt: at })
      .where(and(eq(t.userId, user.id), isNull(t.usedAt))),
    auditStatement(ctx, {
      action: "auth.password_reset",
      target: { type: "user", id: user.id },
      after: { via: "email_link", sessions_revoked: true },
    }),
  ]);
  await revokeUserSessions(ctx, { userId: user.id, reason: "password_changed" }, now);
  await trustSignInClient(ctx, user.id, now);
}
