/**
 * Rate limiting, with the named policies of src/lib/rate-limit/policies.ts.
 *
 * - `globalRateLimit()` is installed once in createApp(), after authentication:
 *   it counts every request against the caller's policy — `api_key` per key,
 *   `user` per user, `anonymous` per client IP — except `system` principals,
 *   /admin routes, GET /health/live, CORS preflights and, where it is on, the dev mailbox.
 * - `rateLimit(name, { key })` adds a strict policy to one route (login, magic
 *   code, password reset, waitlist, WebSocket ticket, verification resend, registration,
 *   email change).
 *
 * Every limited response carries `X-RateLimit-Limit`, `X-RateLimit-Remaining`,
 * `X-RateLimit-Reset` (seconds) for the tightest policy, and the IETF draft-10
 * `RateLimit-Policy` / `RateLimit` fields listing each policy that applied. Over
 * the limit: 429 `rate_limited` problem with `Retry-After` and
 * `violated_policies`. A store that fails or is slow never fails the request:
 * the request is allowed and the failure logged (fail open: a limiter outage must
 * not become an API outage). So nothing a client sends may make the store fail:
 * the address is parsed strictly (anything that is not an IP address counts in the
 * shared "unknown" bucket), route keys are hashed, and the KV store hashes any key
 * too long for KV.
 *
 * Because the limiter runs after authentication, a request whose credentials are
 * rejected (401) never reaches it under the identity it claimed, so a forged or
 * expired token cannot spend the real user's quota; a request that reaches it
 * without a verified principal is counted as anonymous, by IP.
 */
import type { Context, MiddlewareHandler, Next } from "hono";
import type { AppEnv } from "../app-env";
import { type Bindings, type Config, getConfig } from "../env";
import { sha256Hex } from "../lib/crypto";
import { createLogger, serializeError } from "../lib/logger";
import { ANONYMOUS, type Principal } from "../lib/principal";
import { ProblemError } from "../lib/problem";
import { addressBucket } from "../lib/rate-limit/client-address";
import {
  checkedLimit,
  isRoutePolicyName,
  type PolicyLimit,
  type PolicyOverrides,
  type PolicyState,
  type RateLimitPolicies,
  type RateLimitPolicy,
  ROUTE_POLICY_NAMES,
  type RoutePolicyName,
  resolvePolicies,
} from "../lib/rate-limit/policies";
import { rateLimitStoreFor } from "../lib/rate-limit/select-store";
import type { RateLimitCount, RateLimitStore } from "../lib/rate-limit/store";

/** Milliseconds since the epoch. */
export type Clock = () => number;

export type RateLimitOptions = {
  /** The counters; by default the store RATE_LIMIT_STORE names. A function is given the request's env. */
  store?: RateLimitStore | ((env: Bindings) => RateLimitStore);
  /** Date.now unless a test moves time. */
  clock?: Clock;
  /** Limits that win over the defaults and RATE_LIMIT_POLICIES (tests, special deployments). */
  policies?: PolicyOverrides;
  /** How long to wait for the store before allowing the request anyway. */
  storeTimeoutMs?: number;
};

export type GlobalRateLimitOptions = RateLimitOptions & {
  /** Requests that are not counted at all; `isExemptFromGlobalRateLimit` by default. */
  skip?: (c: Context<AppEnv>) => boolean;
  /**
   * A principal's own limit instead of its policy's, e.g. an API key sold with a
   * higher quota: `limitFor: (p) => (p.kind === "api_key" ? p.rateLimit : undefined)`.
   */
  limitFor?: (principal: Principal) => PolicyLimit | undefined;
};

type RouteKey = string | null | undefined;

export type RouteRateLimitOptions = RateLimitOptions & {
  /**
   * A second thing to count by besides the policy's subject, typically the email
   * in the body: `key: async (c) => (await c.req.json()).email?.toLowerCase()`.
   * Both counters must be under the limit. Normalise it (lower-case an email),
   * or every spelling gets its own budget. Nothing, or an error, means no key.
   */
  key?: (c: Context<AppEnv>) => RouteKey | Promise<RouteKey>;
};

export const DEFAULT_STORE_TIMEOUT_MS = 1_500;

/**
 * Paths the global limiter never counts, whatever the method and configuration: the liveness
 * probe, the staff-only admin API, and the signed Stripe webhook (/api/v1/webhooks/stripe: Stripe sends
 * bursts from a few addresses, retries what we refuse, and each delivery is checked against its
 * signature before any work). The OpenAPI document reads this too, to declare the 429 on every
 * other operation (src/modules/docs/middleware-responses.ts).
 */
export function isPathExemptFromGlobalRateLimit(path: string): boolean {
  return (
    path === "/health/live" ||
    path === "/admin" ||
    path.startsWith("/admin/") ||
    // Only the signed receiver: GET /api/v1/webhooks/event-types beside it is a public read like any other.
    path === "/api/v1/webhooks/stripe" ||
    // Library files of the docs pages: one page load fetches several, none reaches our data.
    path.startsWith("/api/docs/assets/")
  );
}

/**
 * Not counted by the global limiter: preflights, the exempt paths above and, only where it is on
 * (development), the dev mailbox: scripts poll it for an email, and must not spend the per-IP
 * budget of the very API calls they are exercising.
 */
export function isExemptFromGlobalRateLimit(c: Context<AppEnv>): boolean {
  const path = c.req.path;
  return (
    c.req.method === "OPTIONS" ||
    isPathExemptFromGlobalRateLimit(path) ||
    (path.startsWith("/dev/mailbox") && getConfig(c.env).DEV_MAILBOX_ENABLED)
  );
}

/** One counter to hit: a policy and what it counts by. */
type Counter = { policy: RateLimitPolicy; key: string };
/** A counter's count, or undefined when its store failed (logged, and the request allowed). */
type Answer = RateLimitCount | undefined;

type Limiter = {
  policiesFor(config: Config): RateLimitPolicies;
  storeFor(env: Bindings, config: Config): RateLimitStore;
  clock: Clock;
  timeoutMs: number;
};

function buildLimiter(options: RateLimitOptions, who: string): Limiter {
  if (options.policies) resolvePolicies(options.policies); // throws now, not on the first request
  const timeoutMs = options.storeTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError(`${who}: storeTimeoutMs must be a positive whole number of milliseconds`);
  }
  const resolved = new WeakMap<Config, RateLimitPolicies>();
  const { store } = options;
  return {
    policiesFor(config) {
      let policies = resolved.get(config);
      if (!policies) {
        policies = resolvePolicies(config.RATE_LIMIT_POLICIES, options.policies);
        resolved.set(config, policies);
      }
      return policies;
    },
    storeFor(env, config) {
      if (!store) return rateLimitStoreFor(env, config.RATE_LIMIT_STORE);
      return typeof store === "function" ? store(env) : store;
    },
    clock: options.clock ?? Date.now,
    timeoutMs,
  };
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | null)?.then === "function";
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`rate-limit store did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function clientAddress(c: Context<AppEnv>): string {
  return addressBucket(c.req.header("cf-connecting-ip"));
}

/** "user:<id>", "key:<id>" or "ip:<address>": who a principal-based counter belongs to. */
function principalSubject(c: Context<AppEnv>, principal: Principal): string {
  switch (principal.kind) {
    case "user":
      return `user:${principal.userId}`;
    case "api_key":
      return `key:${principal.keyId}`;
    default:
      return `ip:${clientAddress(c)}`;
  }
}

/**
 * Hits every counter, folds them into one state per policy, records and sets the
 * headers, and throws the 429 when any policy is over its limit. Synchronous when
 * every store answer is (a KV window already counted in this isolate's memory, the
 * usual case): then no promise is made for the request's limit at all; a Promise
 * only when some store answer has to be waited for.
 */
function enforce(c: Context<AppEnv>, limiter: Limiter, counters: Counter[]): void | Promise<void> {
  const config = getConfig(c.env);
  const store = limiter.storeFor(c.env, config);
  const now = limiter.clock();
  const logger = c.get("logger") ?? createLogger(config.LOG_LEVEL);

  // The store's write of a counted hit is not needed for this decision: it finishes after the
  // response. (Without a request context, as in some unit tests, the store awaits it instead.)
  const waitUntil = c.get("ctx")?.waitUntil;
  const deferWrite = waitUntil
    ? (write: Promise<void>) =>
        waitUntil(
          write.catch((error: unknown) => {
            logger.error("rate limit store could not record a hit", {
              store: store.kind,
              error: serializeError(error),
            });
          }),
        )
    : undefined;

  const onDegraded = (error: unknown) =>
    logger.warn("rate limit store unreachable; counting in this isolate only", {
      store: store.kind,
      error: serializeError(error),
    });

  // Fail open: a limiter outage must not become an API outage.
  const allowOnFailure = (policy: RateLimitPolicy, error: unknown): undefined => {
    logger.error("rate limit store failed; request allowed", {
      policy: policy.name,
      store: store.kind,
      error: serializeError(error),
    });
    return undefined;
  };

  const hit = ({ policy, key }: Counter): Answer | Promise<Answer> => {
    try {
      const answer = store.hit(
        { key: `${policy.name}:${key}`, limit: policy.limit, windowSeconds: policy.windowSeconds, now },
        { defer: deferWrite, onDegraded },
      );
      // Counted in this isolate's memory (the usual case with KV): nothing to wait for. Any thenable
      // is waited for, not only a native Promise: a Durable Object stub's call returns its own kind.
      if (!isThenable(answer)) return answer;
      return withTimeout(Promise.resolve(answer), limiter.timeoutMs).catch((error: unknown) =>
        allowOnFailure(policy, error),
      );
    } catch (error) {
      return allowOnFailure(policy, error);
    }
  };

  // One after another, stopping at the first refusal: a refused request must not
  // spend the route key's budget (an exhausted IP cannot go on locking out an email).
  const states = new Map<string, PolicyState>();
  const countFrom = (first: number): void | Promise<void> => {
    for (let index = first; index < counters.length; index++) {
      const counter = counters[index] as Counter;
      const answer = hit(counter);
      if (isThenable(answer)) {
        return answer.then((result) =>
          result && !record(states, counter.policy, result, now)
            ? concludeLimits(c, states)
            : countFrom(index + 1),
        );
      }
      if (answer && !record(states, counter.policy, answer, now)) break;
    }
    return concludeLimits(c, states);
  };
  return countFrom(0);
}

/** Folds one counter's answer into its policy's state; false when it refused the request. */
function record(
  states: Map<string, PolicyState>,
  policy: RateLimitPolicy,
  result: RateLimitCount,
  now: number,
): boolean {
  const state: PolicyState = {
    name: policy.name,
    limit: policy.limit,
    windowSeconds: policy.windowSeconds,
    remaining: result.allowed ? Math.max(0, policy.limit - result.count) : 0,
    resetSeconds: Math.max(0, Math.ceil((result.resetAt - now) / 1000)),
    allowed: result.allowed,
  };
  // A policy counted twice (per IP and per email) reports its tighter counter.
  const previous = states.get(policy.name);
  if (!previous || tighter(state, previous)) states.set(policy.name, state);
  return result.allowed;
}

/** Records and sets the headers for the policies counted, and throws the 429 when any refused. */
function concludeLimits(c: Context<AppEnv>, states: Map<string, PolicyState>): void {
  if (states.size === 0) return;

  // Policies already applied to this request, so a route limiter's headers include the global one's.
  const applied = (c.get("rateLimit")?.states ?? []).filter((state) => !states.has(state.name));
  applied.push(...states.values());
  const headers = rateLimitHeaders(applied);
  c.set("rateLimit", { states: applied, headers });
  for (const [name, value] of Object.entries(headers)) c.header(name, value);

  const violated = [...states.values()].filter((state) => !state.allowed);
  if (violated.length === 0) return;
  const retryAfter = Math.max(1, ...violated.map((state) => state.resetSeconds));
  const first = violated[0] as PolicyState;
  throw new ProblemError({
    status: 429,
    code: "rate_limited",
    detail: `Too many requests: the "${first.name}" limit is ${first.limit} per ${first.windowSeconds} s. Retry after ${retryAfter} seconds.`,
    extensions: { violated_policies: violated.map((state) => state.name) },
    headers: { ...headers, "Retry-After": String(retryAfter) },
  });
}

/** Denied beats allowed; then fewer requests left; then the later reset. */
function tighter(a: PolicyState, b: PolicyState): boolean {
  if (a.allowed !== b.allowed) return !a.allowed;
  if (a.remaining !== b.remaining) return a.remaining < b.remaining;
  return a.resetSeconds > b.resetSeconds;
}

/** The headers API.md specifies, for every policy applied to this request. */
function rateLimitHeaders(states: PolicyState[]): Record<string, string> {
  const binding = states.reduce((a, b) => (tighter(b, a) ? b : a));
  return {
    "X-RateLimit-Limit": String(binding.limit),
    "X-RateLimit-Remaining": String(binding.remaining),
    "X-RateLimit-Reset": String(binding.resetSeconds),
    "RateLimit-Policy": states.map((s) => `"${s.name}";q=${s.limit};w=${s.windowSeconds}`).join(", "),
    RateLimit: states.map((s) => `"${s.name}";r=${s.remaining};t=${s.resetSeconds}`).join(", "),
  };
}

/**
 * The handler's response may have been built without the headers set before it
 * ran (a raw `new Response`), so they are set again on the way out. A WebSocket
 * upgrade (101) is left untouched: it cannot be copied.
 */
function reapplyHeaders(c: Context<AppEnv>): void {
  const applied = c.get("rateLimit");
  if (!applied || c.res.status === 101) return;
  for (const [name, value] of Object.entries(applied.headers)) {
    if (c.res.headers.get(name) !== value) c.header(name, value);
  }
}

async function nextThenReapplyHeaders(c: Context<AppEnv>, next: Next): Promise<void> {
  await next();
  reapplyHeaders(c);
}

/** The app-wide limiter: one policy per request, picked from the principal. Install after authentication. */
export function globalRateLimit(options: GlobalRateLimitOptions = {}): MiddlewareHandler<AppEnv> {
  const limiter = buildLimiter(options, "globalRateLimit");
  const skip = options.skip ?? isExemptFromGlobalRateLimit;
  const { limitFor } = options;

  // Not an async function: when the count was answered from memory, the request goes on to the
  // next middleware without waiting a turn of the microtask queue for a decision already made.
  return function globalRateLimit(c, next) {
    const principal = c.get("principal") ?? ANONYMOUS;
    if (principal.kind === "system" || skip(c)) return next();

    let policy = limiter.policiesFor(getConfig(c.env))[principal.kind];
    const own = limitFor?.(principal);
    if (own) policy = { ...policy, ...checkedLimit(own, `limitFor(${principal.kind})`) };

    const enforced = enforce(c, limiter, [{ policy, key: principalSubject(c, principal) }]);
    return enforced ? enforced.then(() => nextThenReapplyHeaders(c, next)) : nextThenReapplyHeaders(c, next);
  };
}

/**
 * A strict, named policy on one route, counted by the policy's subject (client
 * IP or principal) and, when given, by `key` too. Attach it in the route:
 * `defineRoute({ ..., middleware: [rateLimit("login", { key: emailFromBody })] })`.
 */
export function rateLimit(
  policyName: RoutePolicyName,
  options: RouteRateLimitOptions = {},
): MiddlewareHandler<AppEnv> {
  if (!isRoutePolicyName(policyName)) {
    throw new TypeError(`rateLimit: unknown policy "${policyName}"; one of ${ROUTE_POLICY_NAMES.join(", ")}`);
  }
  if (options.key !== undefined && typeof options.key !== "function") {
    throw new TypeError("rateLimit: key must be a function of the request context");
  }
  const limiter = buildLimiter(options, `rateLimit(${policyName})`);
  const { key } = options;

  return async function rateLimit(c, next) {
    const principal = c.get("principal") ?? ANONYMOUS;
    if (principal.kind === "system") return next();

    const policy = limiter.policiesFor(getConfig(c.env))[policyName];
    const subject = policy.subject === "ip" ? `ip:${clientAddress(c)}` : principalSubject(c, principal);
    const counters: Counter[] = [{ policy, key: subject }];
    const routeKey = key ? await routeKeyOf(c, key) : undefined;
    // Hashed: the key is often personal data (an email) and KV keys are limited to 512 bytes.
    if (routeKey) counters.push({ policy, key: `k:${await sha256Hex(routeKey)}` });

    await enforce(c, limiter, counters);
    await nextThenReapplyHeaders(c, next);
  };
}

async function routeKeyOf(
  c: Context<AppEnv>,
  key: NonNullable<RouteRateLimitOptions["key"]>,
): Promise<string | undefined> {
  try {
    const value = await key(c);
    return typeof value === "string" && value.length > 0 ? value : undefined;
  } catch {
    // An unreadable body has no key; the subject is still counted and validation answers the body.
    return undefined;
  }
}
