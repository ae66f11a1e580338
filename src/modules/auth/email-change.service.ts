/**
 * Changing an account's address. Asking needs re-authentication (a stolen token
 * alone must not move the account to another mailbox); the new address gets a
 * single-use link (24 h) and the current one a notice; the address changes only when
 * the link is used, and stays verified (the link proved the new mailbox).
 *
 * The answer does not say whether the new address already has an account: when it
 * does, no link is sent (the old address still gets its notice) and a link that was
 * sent before the address got taken answers 409 `email_taken` when used.
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import { emailChangeTokens, type User, users } from "../../db/schema";
import { sendEmail } from "../../email/send-email";
import type { ServiceContext } from "../../lib/context";
import { randomToken, sha256Hex } from "../../lib/crypto";
import { uuidv7 } from "../../lib/ids";
import { currentUser } from "../../lib/principal";
import { ProblemError, problems } from "../../lib/problem";
import { AFTER_CHANGE, audit, auditStatement } from "../audit/audit.service";
import { emailTaken, findUserByEmail, findUserById, normalizeEmail, uniqueViolation } from "./accounts";
import { appBaseUrl, emailName, invalidOrExpired, tokenLink } from "./email-links";
import { assertRecentAuthentication, type ReauthenticationProof } from "./reauthentication";
import { SECURITY_SETTINGS_PATH } from "./security-events";

export const EMAIL_CHANGE_TTL_MS = 24 * 60 * 60 * 1000;
/** One request a minute per account: each one sends two emails. */
export const EMAIL_CHANGE_COOLDOWN_MS = 60 * 1000;
const TOKEN_PREFIX = "ec_";

/** `ada@example.com` → `a***@example.com`: enough for the owner to recognise, not a full address in a notice. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf("@");
  if (at < 1) return "***";
  return `${email[0]}***${email.slice(at)}`;
}

/** POST /users/me/email (re-auth): 202; the confirmation goes to the new address, the notice to the current one. */
export async function requestEmailChange(
  ctx: ServiceContext,
  input: { email: string } & ReauthenticationProof,
  now = Date.now(),
): Promise<{ expiresInSeconds: number }> {
  await assertRecentAuthentication(ctx, input, now);
  const user = await findUserById(ctx, currentUser(ctx).userId);
  if (!user) throw problems.unauthorized("The account no longer exists.", "invalid_token");
  const newEmail = normalizeEmail(input.email);
  if (newEmail === user.email) {
    throw problems.validation([{ pointer: "/email", detail: "This is already your address." }]);
  }

  const token = `${TOKEN_PREFIX}${randomToken(32)}`;
  const t = emailChangeTokens;
  // The cooldown check and the insert are one statement, so two concurrent requests cannot both pass it.
  // Columns in table order: id, user_id, new_email, old_email, token_hash, expires_at, used_at, created_at.
  const inserted = await ctx.db
    .insert(t)
    .select(
      sql`SELECT ${uuidv7(now)}, ${user.id}, ${newEmail}, ${user.email}, ${await sha256Hex(token)}, ${now + EMAIL_CHANGE_TTL_MS}, NULL, ${now}
          WHERE NOT EXISTS (SELECT 1 FROM ${t} WHERE ${t.userId} = ${user.id} AND ${t.createdAt} > ${now - EMAIL_CHANGE_COOLDOWN_MS})`,
    )
    .returning({ id: t.id });
  if (inserted.length === 0) {
    const retryAfter = Math.ceil(EMAIL_CHANGE_COOLDOWN_MS / 1000);
    throw new ProblemError({
      status: 429,
      code: "email_change_too_soon",
      detail:
        "An address change was asked for less than a minute ago. Use the link already sent, or try again shortly.",
      headers: { "Retry-After": String(retryAfter) },
    });
  }
  await audit(ctx, {
    action: "auth.email_change_requested",
    target: { type: "user", id: user.id },
    after: { new_email_hint: maskEmail(newEmail) },
  });

  const name = emailName(user);
  if (await findUserByEmail(ctx, newEmail)) {
    ctx.logger.info("email change asked for an address that has an account; no link sent", {
      user_id: user.id,
    });
  } else {
    await sendEmail(ctx, {
      template: "email_change_confirm",
      to: newEmail,
      data: {
        name,
        confirm_url: tokenLink(ctx, "/confirm-email-change", token),
        expires_in_minutes: EMAIL_CHANGE_TTL_MS / 60_000,
      },
    });
  }
  await sendEmail(ctx, {
    template: "email_change_notice",
    to: user.email,
    data: {
      name,
      new_email_hint: maskEmail(newEmail),
      requested_at: new Date(now).toISOString(),
      security_url: `${appBaseUrl(ctx)}${SECURITY_SETTINGS_PATH}`,
    },
  });
  return { expiresInSeconds: EMAIL_CHANGE_TTL_MS / 1000 };
}

/**
 * POST /auth/email/change/confirm: the link from the new address. Spent by a
 * conditional UPDATE (one winner); it confirms nothing once the account's address is
 * no longer the one it was asked from, or the account is disabled.
 */
export async function confirmEmailChange(
  ctx: ServiceContext,
  token: string,
  now = Date.now(),
): Promise<User> {
  const t = emailChangeTokens;
  const found = await ctx.db
    .select({ token: t, user: users })
    .from(t)
    .innerJoin(users, eq(users.id, t.userId))
    .where(eq(t.tokenHash, await sha256Hex(token)))
    .get();
  if (
    !found ||
    found.token.usedAt !== null ||
    found.token.expiresAt.getTime() <= now ||
    found.token.oldEmail !== found.user.email ||
    !found.user.isActive
  ) {
    throw invalidOrExpired("confirmation link");
  }
  const { user } = found;
  if (await findUserByEmail(ctx, found.token.newEmail)) throw emailTaken();
  const at = new Date(now);
  const [spent] = await ctx.db
    .update(t)
    .set({ usedAt: at })
    .where(and(eq(t.id, found.token.id), isNull(t.usedAt)))
    .returning({ id: t.id });
  if (!spent) throw invalidOrExpired("confirmation link");
  try {
    const [[updated]] = await ctx.db.batch([
      ctx.db
        .update(users)
        .set({ email: found.token.newEmail, emailVerifiedAt: at, updatedAt: at })
        .where(and(eq(users.id, user.id), eq(users.email, found.token.oldEmail)))
        .returning(),
      auditStatement(
        ctx,
        {
          action: "auth.email_changed",
          target: { type: "user", id: user.id },
          before: { email_hint: maskEmail(found.token.oldEmail) },
          after: { email_hint: maskEmail(found.token.newEmail), email_verified: true },
        },
        { when: AFTER_CHANGE },
      ),
      // Every other pending change of this account dies with this one.
      ctx.db
        .update(t)
        .set({ usedAt: at })
        .where(and(eq(t.userId, user.id), isNull(t.usedAt))),
    ]);
    if (!updated) throw invalidOrExpired("confirmation link");
    ctx.logger.info("account email changed", { user_id: user.id });
    return updated;
  } catch (error) {
    // The address was taken between the check and the write: the unique index decides.
    if (uniqueViolation(error) === "email") throw emailTaken();
    throw error;
  }
}
