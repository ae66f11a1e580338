/**
 * What the account holder is told when auth detects an attack on their account. Each
 * report is best effort: it runs after the protective action (the revocation) is
 * already done, and a failure to tell is logged, never turned into an error.
 */
import { eq } from "drizzle-orm";
import { z } from "zod";
import { type Session, users } from "../../db/schema";
import { sendEmail } from "../../email/send-email";
import type { SignInMethodEvent } from "../../email/templates/sign-in-method-changed";
import type { ServiceContext } from "../../lib/context";
import { serializeError } from "../../lib/logger";
import { describeDevice } from "../../lib/user-agent";
import { audit } from "../audit/audit.service";
import { notify } from "../notifications/notifications.service";

const ipAddress = z.union([z.ipv4(), z.ipv6()]);
/** Email display fields refuse control characters; a User-Agent is client-controlled text. */
const displayable = (text: string | null | undefined, max: number) =>
  text
    ? text
        .replace(/\p{Cc}+/gu, " ")
        .trim()
        .slice(0, max) || undefined
    : undefined;

/** Where the web app lets the user review their devices (APP_URL is the base of every link in email). */
export const SECURITY_SETTINGS_PATH = "/settings/security";

/**
 * A spent refresh token was presented again and its session revoked (refreshSession):
 * the event goes to the audit log, the user gets a `system` notification and a
 * `security_alert` email. The session's sockets are closed by the revocation itself
 * (sessionRevocationHooks).
 */
export async function reportRefreshTokenReuse(
  ctx: ServiceContext,
  session: Session,
  now: number,
): Promise<void> {
  const device = displayable(session.userAgent, 200);
  await audit(ctx, {
    action: "auth.refresh_token_reuse",
    target: { type: "user", id: session.userId },
    before: { session_id: session.id, revoked: false },
    after: { session_id: session.id, revoked: true, reason: "refresh_token_reused" },
  });
  try {
    await notify(ctx, session.userId, {
      type: "system",
      title: "A device was signed out to protect your account",
      message: `A sign-in token that had already been used was presented again, so we signed out ${device ?? "that device"}. If anything looks unfamiliar, change your password.`,
      target_url: SECURITY_SETTINGS_PATH,
      data: { event: "refresh_token_reused", session_id: session.id },
    });
  } catch (error) {
    ctx.logger.error("could not notify a refresh-token reuse", {
      session_id: session.id,
      error: serializeError(error),
    });
  }
  try {
    const user = await ctx.db
      .select({ email: users.email, firstName: users.firstName })
      .from(users)
      .where(eq(users.id, session.userId))
      .get();
    if (!user) return;
    const ip = ipAddress.safeParse(ctx.client.ip);
    const location = [ctx.client.city, ctx.client.country].filter(Boolean).join(", ");
    const name = displayable(user.firstName, 80);
    await sendEmail(ctx, {
      template: "security_alert",
      to: user.email,
      data: {
        ...(name ? { name } : {}),
        event: "refresh_token_reused",
        ...(device ? { device } : {}),
        ...(ip.success ? { ip: ip.data } : {}),
        ...(location ? { location: displayable(location, 200) } : {}),
        occurred_at: new Date(now).toISOString(),
        manage_url: `${ctx.config.APP_URL.replace(/\/+$/, "")}${SECURITY_SETTINGS_PATH}`,
      },
    });
  } catch (error) {
    ctx.logger.error("could not email a refresh-token reuse alert", {
      session_id: session.id,
      error: serializeError(error),
    });
  }
}

/**
 * A change to the account's second factor (an authenticator app turned on or off,
 * recovery codes replaced or used): the owner gets a `system` notification and a
 * `sign_in_method_changed` email naming the device it came from. The audit row is the
 * caller's, written in the same batch as the change. Best effort, like every report here.
 */
export async function reportSignInMethodChange(
  ctx: ServiceContext,
  userId: string,
  event: SignInMethodEvent,
  options: { now?: number } = {},
): Promise<void> {
  const now = options.now ?? Date.now();
  const text = SIGN_IN_METHOD_NOTICES[event];
  try {
    await notify(ctx, userId, {
      type: "system",
      title: text,
      message: `${text}. If this was not you, change your password and review your security settings.`,
      target_url: SECURITY_SETTINGS_PATH,
      data: { event },
    });
  } catch (error) {
    ctx.logger.error("could not notify a sign-in method change", { event, error: serializeError(error) });
  }
  try {
    const user = await ctx.db
      .select({ email: users.email, firstName: users.firstName })
      .from(users)
      .where(eq(users.id, userId))
      .get();
    if (!user) return;
    const ip = ipAddress.safeParse(ctx.client.ip);
    const location = [ctx.client.city, ctx.client.country].filter(Boolean).join(", ");
    const name = displayable(user.firstName, 80);
    const device = ctx.client.userAgent ? displayable(describeDevice(ctx.client.userAgent), 200) : undefined;
    await sendEmail(ctx, {
      template: "sign_in_method_changed",
      to: user.email,
      data: {
        ...(name ? { name } : {}),
        event,
        ...(device ? { device } : {}),
        ...(ip.success ? { ip: ip.data } : {}),
        ...(location ? { location: displayable(location, 200) } : {}),
        occurred_at: new Date(now).toISOString(),
        manage_url: `${ctx.config.APP_URL.replace(/\/+$/, "")}${SECURITY_SETTINGS_PATH}`,
      },
    });
  } catch (error) {
    ctx.logger.error("could not email a sign-in method change", { event, error: serializeError(error) });
  }
}

const SIGN_IN_METHOD_NOTICES: Record<SignInMethodEvent, string> = {
  mfa_enabled: "Two-step sign-in was turned on",
  mfa_disabled: "Two-step sign-in was turned off",
  recovery_codes_regenerated: "Your recovery codes were replaced",
  recovery_code_used: "A recovery code was used to sign in",
};
