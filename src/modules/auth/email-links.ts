/**
 * What every identity email shares: the base of its links, the greeting name, and
 * the one answer for an emailed token that cannot be used.
 */
import type { User } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { problems } from "../../lib/problem";

/** The one answer for any token that cannot be used, so it says nothing about why. */
export const invalidOrExpired = (what: string) =>
  problems.badRequest(
    "invalid_or_expired",
    `The ${what} is not valid: it is unknown, expired or already used.`,
  );

/** `APP_URL` without a trailing slash: emailed links are built on it. */
export function appBaseUrl(ctx: ServiceContext): string {
  return ctx.config.APP_URL.replace(/\/+$/, "");
}

/** `{APP_URL}{path}?token=…`: the app page that posts the token back to the API. */
export function tokenLink(ctx: ServiceContext, path: string, token: string): string {
  return `${appBaseUrl(ctx)}${path}?token=${encodeURIComponent(token)}`;
}

/**
 * The greeting name for an email. Profile names may be longer (100) than email
 * display fields (80) and may hold control characters the templates refuse, so
 * they are cleaned rather than allowed to make the email invalid.
 */
export function emailName(user: Pick<User, "firstName">): string | undefined {
  return (
    user.firstName
      .replace(/\p{Cc}+/gu, " ")
      .trim()
      .slice(0, 80)
      .trim() || undefined
  );
}
