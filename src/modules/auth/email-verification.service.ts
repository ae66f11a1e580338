/**
 * Email verification: a random link token (only its SHA-256 is stored) mailed at
 * registration and on request, valid 24 h and single use. Verifying continues the
 * registration it belongs to (password and sessions kept: the honest flow), marks
 * the account verified and queues the welcome email. Because whoever registered the
 * address may not own it, the same email carries a "this was not me" link with its
 * own token: it erases the account while it has never been verified (disownAccount).
 * Unverified accounts can sign in unless AUTH_EMAIL_VERIFICATION=required; routes
 * that need a verified address use `requireVerifiedEmail()`.
 */
import { and, desc, eq, isNull, sql } from "drizzle-orm";
import { emailVerificationTokens, type User, users } from "../../db/schema";
import { sendEmail } from "../../email/send-email";
import type { ServiceContext } from "../../lib/context";
import { randomToken, sha256Hex } from "../../lib/crypto";
import { uuidv7 } from "../../lib/ids";
import { serializeError } from "../../lib/logger";
import { currentUser } from "../../lib/principal";
import { ProblemError, problems } from "../../lib/problem";
import { auditStatement } from "../audit/audit.service";
import { eraseAccount, findUserById } from "./accounts";
import { emailName, invalidOrExpired, tokenLink } from "./email-links";

export const EMAIL_VERIFICATION_TTL_MS = 24 * 60 * 60 * 1000;
/** One verification email a minute per account (registration included), decided in D1 so it is exact. */
export const VERIFICATION_RESEND_COOLDOWN_MS = 60 * 1000;

const TOKEN_PREFIX = "ev_";
const DISOWN_TOKEN_PREFIX = "do_";

/**
 * Issues a token for the account's current address and queues the email. With
 * `cooldown`, nothing is issued while the newest token of the account is younger
 * than a minute: the check and the insert are one statement, so two concurrent
 * requests cannot both pass it. Returns false when the cooldown refused.
 */
async function issueVerification(
  ctx: ServiceContext,
  user: Pick<User, "id" | "email" | "firstName">,
  options: { cooldown: boolean; now: number },
): Promise<boolean> {
  const { now } = options;
  const token = `${TOKEN_PREFIX}${randomToken(32)}`;
  const disownToken = `${DISOWN_TOKEN_PREFIX}${randomToken(32)}`;
  const tokenHash = await sha256Hex(token);
  const disownTokenHash = await sha256Hex(disownToken);
  const expiresAt = now + EMAIL_VERIFICATION_TTL_MS;
  const t = emailVerificationTokens;
  const notTooSoon = options.cooldown
    ? sql`WHERE NOT EXISTS (SELECT 1 FROM ${t} WHERE ${t.userId} = ${user.id} AND ${t.createdAt} > ${now - VERIFICATION_RESEND_COOLDOWN_MS})`
    : sql``;
  // Columns in schema order (drizzle lists them so): id, user_id, email, token_hash, disown_token_hash,
  // expires_at, used_at, created_at.
  const inserted = await ctx.db
    .insert(t)
    .select(
      sql`SELECT ${uuidv7(now)}, ${user.id}, ${user.email}, ${tokenHash}, ${disownTokenHash}, ${expiresAt}, NULL, ${now} ${notTooSoon}`,
    )
    .returning({ id: t.id });
  if (inserted.length === 0) return false;
  await sendEmail(ctx, {
    template: "verify_email",
    to: user.email,
    data: {
      name: emailName(user),
      verify_url: tokenLink(ctx, "/verify-email", token),
      disown_url: tokenLink(ctx, "/disown-account", disownToken),
      expires_in_minutes: EMAIL_VERIFICATION_TTL_MS / 60_000,
    },
  });
  return true;
}

/**
 * Registration hook: the verification email, or the welcome email for an account
 * that is verified from the start (signed up with a magic code). A failure is
 * logged and does not fail the sign-up: the account exists, and the user can ask
 * for the email again.
 */
export async function sendSignUpEmail(ctx: ServiceContext, user: User): Promise<void> {
  try {
    if (user.emailVerifiedAt !== null) {
      await sendEmail(ctx, { template: "welcome", to: user.email, data: { name: emailName(user) } });
    } else {
      await issueVerification(ctx, user, { cooldown: false, now: Date.now() });
    }
  } catch (error) {
    ctx.logger.error("could not queue the sign-up email", { user_id: user.id, error: serializeError(error) });
  }
}

/** POST /auth/email/resend: 409 when already verified, 429 within a minute of the previous email. */
export async function resendVerificationEmail(
  ctx: ServiceContext,
  now = Date.now(),
): Promise<{ expiresInSeconds: number }> {
  const user = await findUserById(ctx, currentUser(ctx).userId);
  if (!user) throw problems.unauthorized("The account no longer exists.", "invalid_token");
  if (user.emailVerifiedAt !== null) {
    throw problems.conflict("email_already_verified", "Your email address is already verified.");
  }
  if (!(await issueVerification(ctx, user, { cooldown: true, now }))) {
    const newest = await ctx.db
      .select({ createdAt: emailVerificationTokens.createdAt })
      .from(emailVerificationTokens)
      .where(eq(emailVerificationTokens.userId, user.id))
      .orderBy(desc(emailVerificationTokens.createdAt))
      .get();
    const waitMs = (newest?.createdAt.getTime() ?? now) + VERIFICATION_RESEND_COOLDOWN_MS - now;
    const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
    throw new ProblemError({
      status: 429,
      code: "email_resend_too_soon",
      detail: `A verification email was sent less than a minute ago. Try again in ${retryAfter} seconds.`,
      headers: { "Retry-After": String(retryAfter) },
    });
  }
  return { expiresInSeconds: EMAIL_VERIFICATION_TTL_MS / 1000 };
}

/**
 * POST /auth/email/verify. The token is spent by a conditional UPDATE (one winner
 * under concurrency); then the account is marked verified, every other pending
 * token of the account dies, and the welcome email is queued (only by the request
 * that did the verifying).
 */
export async function verifyEmail(ctx: ServiceContext, token: string, now = Date.now()): Promise<User> {
  const tokenHash = await sha256Hex(token);
  const t = emailVerificationTokens;
  const found = await ctx.db
    .select({ token: t, user: users })
    .from(t)
    .innerJoin(users, eq(users.id, t.userId))
    .where(eq(t.tokenHash, tokenHash))
    .get();
  // A token for an address the account no longer has confirms nothing.
  if (!found || found.token.email !== found.user.email) throw invalidOrExpired("verification link");
  const at = new Date(now);
  const [spent] = await ctx.db
    .update(t)
    .set({ usedAt: at })
    .where(and(eq(t.id, found.token.id), isNull(t.usedAt), sql`${t.expiresAt} > ${now}`))
    .returning({ id: t.id });
  if (!spent) throw invalidOrExpired("verification link");

  const [verified] = await ctx.db.batch([
    ctx.db
      .update(users)
      .set({ emailVerifiedAt: at, updatedAt: at })
      .where(and(eq(users.id, found.user.id), isNull(users.emailVerifiedAt)))
      .returning(),
    ctx.db
      .update(t)
      .set({ usedAt: at })
      .where(and(eq(t.userId, found.user.id), isNull(t.usedAt))),
  ]);
  const user = verified[0];
  if (!user) return (await findUserById(ctx, found.user.id)) ?? found.user;
  try {
    await sendEmail(ctx, { template: "welcome", to: user.email, data: { name: emailName(user) } });
  } catch (error) {
    // The address is verified either way; a lost welcome email is not worth failing the request.
    ctx.logger.error("could not queue the welcome email", { user_id: user.id, error: serializeError(error) });
  }
  return user;
}

/**
 * POST /auth/email/disown: the "this was not me" link of a verification email. The
 * account it was sent for is erased (sessions revoked, sockets closed, its data
 * removed, the address free again) while it has never been verified. For an account
 * that has since been verified, or an address it no longer has, the answer is 400
 * `invalid_or_expired` and nothing changes: a verified account belongs to whoever
 * proved the address, and this link must not become a way to delete it.
 */
export async function disownAccount(ctx: ServiceContext, token: string, now = Date.now()): Promise<void> {
  const t = emailVerificationTokens;
  const found = await ctx.db
    .select({ token: t, user: users })
    .from(t)
    .innerJoin(users, eq(users.id, t.userId))
    .where(eq(t.disownTokenHash, await sha256Hex(token)))
    .get();
  if (
    !found ||
    found.user.emailVerifiedAt !== null ||
    found.token.email !== found.user.email ||
    found.token.expiresAt.getTime() <= now
  ) {
    throw invalidOrExpired("link");
  }
  const { user } = found;
  await eraseAccount(ctx, user.id, [
    auditStatement(ctx, {
      action: "auth.account_disowned",
      target: { type: "user", id: user.id },
      // No personal data of the erased account: only facts about it.
      before: { id: user.id, email_verified: false, created_at: user.createdAt.toISOString() },
      after: null,
    }),
  ]);
  ctx.logger.warn("never-verified account disowned by the owner of its address", { user_id: user.id });
}
