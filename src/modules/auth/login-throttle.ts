/**
 * Brute-force protection for password checks, counted in RATE_LIMIT_KV.
 *
 * Two counters per attempt: the account (the user id when the account exists,
 * else a hash of the identifier typed, so unknown accounts lock exactly like
 * real ones) and the client IP. A counter that reaches its limit locks for
 * LOCKOUT_BASE_SECONDS, doubling with every further failure up to
 * LOCKOUT_MAX_SECONDS; a counter forgets everything WINDOW_SECONDS after its last
 * failure. While locked, attempts are answered 429 before any password is
 * hashed. A successful sign-in clears the account counter (not the IP one:
 * otherwise an attacker's own account would reset it).
 *
 * KV is eventually consistent and rate-limits writes to one key, so counts are
 * approximate across locations; a failed KV read or write never fails the login
 * (allowed and logged).
 */
import type { ServiceContext } from "../../lib/context";
import { sha256Hex } from "../../lib/crypto";
import { serializeError } from "../../lib/logger";
import { ProblemError } from "../../lib/problem";
import { audit } from "../audit/audit.service";

export const LOGIN_THROTTLE = {
  windowSeconds: 15 * 60,
  accountLimit: 5,
  ipLimit: 20,
  lockoutBaseSeconds: 60,
  lockoutMaxSeconds: 60 * 60,
} as const;

const KV_MIN_TTL_SECONDS = 60;

export type FailureCounter = {
  failures: number;
  /** ms of the latest failure */
  lastFailureAt: number;
  /** ms until which attempts are refused; 0 when not locked */
  lockedUntil: number;
};

export type ThrottleKey = {
  key: string;
  limit: number;
  /** What a lockout of this counter is recorded against in the audit log. */
  target: { type: "user" | "login_identifier" | "ip"; id: string };
};

/** Lock length after `failures` failures against `limit`: 0 below it, then base · 2^(over), capped. */
export function lockoutSeconds(failures: number, limit: number): number {
  if (failures < limit) return 0;
  const over = Math.min(failures - limit, 16);
  return Math.min(LOGIN_THROTTLE.lockoutBaseSeconds * 2 ** over, LOGIN_THROTTLE.lockoutMaxSeconds);
}

/** The counter after one more failure at `now`. */
export function addFailure(counter: FailureCounter | null, limit: number, now: number): FailureCounter {
  const fresh =
    !counter ||
    (now - counter.lastFailureAt >= LOGIN_THROTTLE.windowSeconds * 1000 && counter.lockedUntil <= now);
  const failures = fresh ? 1 : counter.failures + 1;
  const lock = lockoutSeconds(failures, limit);
  return { failures, lastFailureAt: now, lockedUntil: lock > 0 ? now + lock * 1000 : 0 };
}

/** Seconds until `counter` stops refusing attempts, or 0. */
export function retryAfterSeconds(counter: FailureCounter | null, now: number): number {
  if (!counter || counter.lockedUntil <= now) return 0;
  return Math.ceil((counter.lockedUntil - now) / 1000);
}

/** The counters a sign-in attempt is charged to. */
export async function throttleKeys(
  ctx: ServiceContext,
  account: { userId: string } | { identifier: string },
): Promise<ThrottleKey[]> {
  const accountTarget: ThrottleKey["target"] =
    "userId" in account
      ? { type: "user", id: account.userId }
      : { type: "login_identifier", id: await sha256Hex(account.identifier.trim().toLowerCase()) };
  const accountKey = `login:${accountTarget.type === "user" ? "user" : "id"}:${accountTarget.id}`;
  const keys: ThrottleKey[] = [
    { key: accountKey, limit: LOGIN_THROTTLE.accountLimit, target: accountTarget },
  ];
  if (ctx.client.ip) {
    keys.push({
      key: `login:ip:${ctx.client.ip}`,
      limit: LOGIN_THROTTLE.ipLimit,
      target: { type: "ip", id: ctx.client.ip },
    });
  }
  return keys;
}

async function readCounter(ctx: ServiceContext, key: string): Promise<FailureCounter | null> {
  try {
    const value = await ctx.env.RATE_LIMIT_KV.get<FailureCounter>(key, "json");
    if (
      value &&
      typeof value.failures === "number" &&
      typeof value.lastFailureAt === "number" &&
      typeof value.lockedUntil === "number"
    ) {
      return value;
    }
    return null;
  } catch (error) {
    ctx.logger.warn("login throttle: KV read failed; allowing", { key, error: serializeError(error) });
    return null;
  }
}

/** Throws 429 `too_many_attempts` with Retry-After while any of the counters is locked. */
export async function assertNotLocked(
  ctx: ServiceContext,
  keys: ThrottleKey[],
  now = Date.now(),
): Promise<void> {
  const counters = await Promise.all(keys.map((entry) => readCounter(ctx, entry.key)));
  const retryAfter = Math.max(0, ...counters.map((counter) => retryAfterSeconds(counter, now)));
  if (retryAfter > 0) {
    throw new ProblemError({
      status: 429,
      code: "too_many_attempts",
      detail: `Too many failed sign-in attempts. Try again in ${retryAfter} seconds.`,
      extensions: { retry_after: retryAfter },
      headers: { "Retry-After": String(retryAfter) },
    });
  }
}

/** Counts one failure against every key; a counter this failure locks is a security event (audit log). */
export async function recordFailure(
  ctx: ServiceContext,
  keys: ThrottleKey[],
  now = Date.now(),
): Promise<void> {
  await Promise.all(
    keys.map(async (entry) => {
      const next = addFailure(await readCounter(ctx, entry.key), entry.limit, now);
      if (next.lockedUntil > 0) {
        await audit(ctx, {
          action: "auth.lockout",
          target: entry.target,
          after: {
            failures: next.failures,
            locked_until: new Date(next.lockedUntil).toISOString(),
            retry_after_seconds: Math.ceil((next.lockedUntil - now) / 1000),
          },
        });
      }
      const forgetAt = Math.max(next.lockedUntil, next.lastFailureAt + LOGIN_THROTTLE.windowSeconds * 1000);
      const ttl = Math.max(KV_MIN_TTL_SECONDS, Math.ceil((forgetAt - now) / 1000));
      try {
        await ctx.env.RATE_LIMIT_KV.put(entry.key, JSON.stringify(next), { expirationTtl: ttl });
      } catch (error) {
        ctx.logger.warn("login throttle: KV write failed; allowing", {
          key: entry.key,
          error: serializeError(error),
        });
      }
    }),
  );
}

/** Clears the account counter after a successful sign-in. */
export async function clearFailures(ctx: ServiceContext, keys: ThrottleKey[]): Promise<void> {
  const [account] = keys;
  if (!account) return;
  try {
    await ctx.env.RATE_LIMIT_KV.delete(account.key);
  } catch (error) {
    ctx.logger.warn("login throttle: KV delete failed", { key: account.key, error: serializeError(error) });
  }
}
