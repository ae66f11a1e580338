/**
 * Every rate-limit policy the API has, in one place. A policy is a name (it is
 * what clients see in `RateLimit-Policy` and in a 429's `violated_policies`), a
 * number of requests and a window in seconds, and what it counts by.
 *
 * Limits can be changed per environment without a code change through the
 * RATE_LIMIT_POLICIES variable: a JSON object from policy name to
 * "<requests>/<window>", e.g. {"anonymous":"120/60","login":"5/15m"}. Names not
 * in the object keep the defaults below; an unknown name or a malformed value
 * fails configuration validation (src/env.ts) instead of being ignored.
 */
import { z } from "zod";
import { jsonSetting } from "../json-setting";

export const POLICY_NAMES = [
  "anonymous",
  "user",
  "api_key",
  "login",
  "magic_request",
  "password_forgot",
  "waitlist",
  "ws_ticket",
  "email_resend",
  "register",
  "email_change",
  "mfa_verify",
  "provider_sign_in",
  "passkey_login",
  "passkey_register",
] as const;

export type PolicyName = (typeof POLICY_NAMES)[number];

/** The global policies, picked from the principal by the app-wide limiter. */
export type PrincipalPolicyName = "anonymous" | "user" | "api_key";

/** The strict policies that routes attach with `rateLimit(name)`. */
export type RoutePolicyName = Exclude<PolicyName, PrincipalPolicyName>;

export const ROUTE_POLICY_NAMES = POLICY_NAMES.filter(
  (name): name is RoutePolicyName => name !== "anonymous" && name !== "user" && name !== "api_key",
);

export type PolicyLimit = { limit: number; windowSeconds: number };

/**
 * What a route policy counts by:
 * - "ip": the client address (cf-connecting-ip), whoever the caller is — for
 *   routes used before signing in (login, magic code, password reset, waitlist);
 * - "principal": the signed-in user or API key, or the address for anonymous
 *   callers — for signed-in routes, so people behind one NAT do not share a budget.
 * Either way a route can add its own key (e.g. the email in the body), which is
 * counted as well: both counters must be under the limit.
 */
export type PolicySubject = "ip" | "principal";

export type RateLimitPolicy = PolicyLimit & {
  name: PolicyName;
  subject: PolicySubject;
  description: string;
};

export type RateLimitPolicies = Readonly<Record<PolicyName, RateLimitPolicy>>;

/** One policy's state for this request, as the headers report it. */
export type PolicyState = {
  name: string;
  limit: number;
  windowSeconds: number;
  remaining: number;
  /** Seconds until the window resets. */
  resetSeconds: number;
  allowed: boolean;
};

export const DEFAULT_POLICIES: RateLimitPolicies = {
  anonymous: {
    name: "anonymous",
    limit: 60,
    windowSeconds: 60,
    subject: "ip",
    description: "Every request without credentials, per client IP (IPv6 per /64).",
  },
  user: {
    name: "user",
    limit: 600,
    windowSeconds: 60,
    subject: "principal",
    description: "Every request with a person's access token, per user.",
  },
  api_key: {
    name: "api_key",
    limit: 1000,
    windowSeconds: 60,
    subject: "principal",
    description: "Every request with an API key, per key (a key may carry its own limit).",
  },
  login: {
    name: "login",
    limit: 10,
    windowSeconds: 60,
    subject: "ip",
    description: "POST /auth/login, per IP and per email.",
  },
  magic_request: {
    name: "magic_request",
    limit: 5,
    windowSeconds: 60,
    subject: "ip",
    description: "POST /auth/magic/request, per IP and per email.",
  },
  password_forgot: {
    name: "password_forgot",
    limit: 5,
    windowSeconds: 60,
    subject: "ip",
    description: "POST /auth/password/forgot, per IP and per email.",
  },
  waitlist: {
    name: "waitlist",
    limit: 10,
    windowSeconds: 60,
    subject: "ip",
    description: "POST /pre-registrations, per IP.",
  },
  ws_ticket: {
    name: "ws_ticket",
    limit: 10,
    windowSeconds: 60,
    subject: "principal",
    description: "POST /notifications/ws-ticket, per user.",
  },
  email_resend: {
    name: "email_resend",
    limit: 5,
    windowSeconds: 60,
    subject: "principal",
    description: "POST /auth/email/resend, per user.",
  },
  register: {
    name: "register",
    limit: 10,
    windowSeconds: 3_600,
    subject: "ip",
    description:
      "POST /auth/register, per IP and per email: each attempt may send an email to the address (verification, or `account_exists` in strict mode).",
  },
  email_change: {
    name: "email_change",
    limit: 5,
    windowSeconds: 3_600,
    subject: "principal",
    description: "POST /users/me/email, per user: each request emails the new and the old address.",
  },
  mfa_verify: {
    name: "mfa_verify",
    limit: 10,
    windowSeconds: 60,
    subject: "ip",
    description:
      "POST /auth/mfa/verify and /auth/mfa/totp/confirm, per IP (wrong codes also count in the account's sign-in throttle).",
  },
  provider_sign_in: {
    name: "provider_sign_in",
    limit: 30,
    windowSeconds: 60,
    subject: "ip",
    description:
      "GET /auth/oauth/{provider}/authorize and /callback, POST /auth/oauth/exchange, per IP (one sign-in is one of each): each flow stores a row and the callback calls the provider.",
  },
  passkey_login: {
    name: "passkey_login",
    limit: 20,
    windowSeconds: 60,
    subject: "ip",
    description:
      "POST /auth/passkeys/login/options and /login/verify together, per IP (and per email on options): a sign-in is one of each.",
  },
  passkey_register: {
    name: "passkey_register",
    limit: 20,
    windowSeconds: 3_600,
    subject: "principal",
    description:
      "POST /auth/passkeys/register/options and /register/verify together, per user: each passkey added emails the owner.",
  },
};

export const MAX_LIMIT = 1_000_000;
export const MAX_WINDOW_SECONDS = 86_400;

const UNIT_SECONDS = { s: 1, m: 60, h: 3_600 } as const;

/** "600/60", "600/60s", "5/15m", "1000/1h" → { limit, windowSeconds }. */
export const policyLimitSchema = z
  .string()
  .trim()
  .regex(/^\d+\/\d+[smh]?$/, 'expected "<requests>/<window>", e.g. "60/60", "5/15m" or "1000/1h"')
  .transform((value, ctx): PolicyLimit => {
    const [requests = "", window = ""] = value.split("/");
    const unit = /[smh]$/.test(window) ? (window.slice(-1) as keyof typeof UNIT_SECONDS) : "s";
    const limit = Number(requests);
    const windowSeconds = Number.parseInt(window, 10) * UNIT_SECONDS[unit];
    if (limit < 1 || limit > MAX_LIMIT) {
      ctx.addIssue({ code: "custom", message: `requests must be between 1 and ${MAX_LIMIT}` });
    }
    if (windowSeconds < 1 || windowSeconds > MAX_WINDOW_SECONDS) {
      ctx.addIssue({ code: "custom", message: `window must be between 1 s and ${MAX_WINDOW_SECONDS} s` });
    }
    return { limit, windowSeconds };
  });

export type PolicyOverrides = Partial<Record<PolicyName, PolicyLimit>>;

/** The RATE_LIMIT_POLICIES variable: a JSON object, policy name → "<requests>/<window>". */
export const policyOverridesSchema = jsonSetting(
  z.partialRecord(z.enum(POLICY_NAMES), policyLimitSchema),
  'must be a JSON object such as {"anonymous":"60/60","login":"5/15m"}',
);

/** The defaults with `overrides` applied; the result is what the limiter enforces. */
export function resolvePolicies(...overrides: Array<PolicyOverrides | undefined>): RateLimitPolicies {
  const resolved = { ...DEFAULT_POLICIES };
  for (const layer of overrides) {
    if (!layer) continue;
    for (const name of POLICY_NAMES) {
      const override = layer[name];
      if (override) resolved[name] = { ...resolved[name], ...checkedLimit(override, name) };
    }
  }
  return resolved;
}

/** Limits given in code (a per-key override, a test) are held to the same bounds as configured ones. */
export function checkedLimit(limit: PolicyLimit, context: string): PolicyLimit {
  const ok =
    Number.isInteger(limit.limit) &&
    limit.limit >= 1 &&
    limit.limit <= MAX_LIMIT &&
    Number.isInteger(limit.windowSeconds) &&
    limit.windowSeconds >= 1 &&
    limit.windowSeconds <= MAX_WINDOW_SECONDS;
  if (!ok) {
    throw new RangeError(
      `${context}: a rate limit needs 1..${MAX_LIMIT} requests in a whole window of 1..${MAX_WINDOW_SECONDS} s`,
    );
  }
  return { limit: limit.limit, windowSeconds: limit.windowSeconds };
}

export function isRoutePolicyName(name: string): name is RoutePolicyName {
  return (ROUTE_POLICY_NAMES as readonly string[]).includes(name);
}
