/**
 * Who is calling. Authentication turns a bearer JWT or an API key into one of
 * these; queue consumers and cron run as `system`. Services decide on the
 * principal, never on raw headers.
 */
import { problems } from "./problem";
import type { PolicyLimit } from "./rate-limit/policies";

export type AnonymousPrincipal = { kind: "anonymous" };

export type UserPrincipal = {
  kind: "user";
  userId: string;
  sessionId: string;
  isStaff: boolean;
  /** The access token's id (`jti`) and expiry, so logout can revoke exactly this token. */
  tokenId: string;
  tokenExpiresAt: number;
  /** When the person last authenticated on this session (ms; the token's `auth_time`): re-authentication reads it. */
  authTime: number;
  /** How (the token's `amr`). */
  amr: string[];
};

export type ApiKeyPrincipal = {
  kind: "api_key";
  keyId: string;
  organizationId: string;
  scopes: string[];
  /** The key's own rate limit, when it has one (instead of the `api_key` policy). */
  rateLimit?: PolicyLimit;
};

export type SystemPrincipal = { kind: "system"; reason: string };

export type Principal = AnonymousPrincipal | UserPrincipal | ApiKeyPrincipal | SystemPrincipal;

export const ANONYMOUS: AnonymousPrincipal = { kind: "anonymous" };

export function systemPrincipal(reason: string): SystemPrincipal {
  return { kind: "system", reason };
}

/** A short, log-safe description: never a token or a key. */
export function describePrincipal(principal: Principal): string {
  switch (principal.kind) {
    case "anonymous":
      return "anonymous";
    case "user":
      return `user:${principal.userId}`;
    case "api_key":
      return `api_key:${principal.keyId}`;
    case "system":
      return `system:${principal.reason}`;
  }
}

/** The signed-in person behind a context, or 401: for verbs that only people may call. */
export function currentUser(ctx: { principal: Principal }): UserPrincipal {
  if (ctx.principal.kind !== "user") throw problems.unauthorized();
  return ctx.principal;
}
