/**
 * Rate-limit counters in Workers KV (RATE_LIMIT_KV). The default store: no extra
 * product to run, and a read is served from the nearest location.
 *
 * Accuracy, plainly: each hit is one KV read and, when allowed, one KV write of
 * `{ count, start }`. That read-modify-write is not atomic, so concurrent hits on
 * one key can read the same count and both write count + 1; KV is eventually
 * consistent, so a location other than the one that wrote may read a count up
 * to ~60 s old (or none, and start its own window); and KV accepts about one
 * write per second per key, so a key hit faster than that sees writes refused.
 * The count is therefore a lower bound: fine for abuse protection, not for
 * billing or hard quotas. Choose RATE_LIMIT_STORE=durable_object for exact counts.
 *
 * A refused hit is not written, so a client that is over its limit costs reads only.
 */
import { assertValidHit, type RateLimitCount, type RateLimitHit, type RateLimitStore } from "./store";

/** KV refuses TTLs shorter than this. */
export const KV_MIN_TTL_SECONDS = 60;

/** KV keys are at most 512 bytes. */
export const KV_MAX_KEY_BYTES = 512;

type StoredWindow = { count: number; start: number };

function parseStoredWindow(raw: string | null): StoredWindow | undefined {
  if (raw === null) return undefined;
  try {
    const value = JSON.parse(raw) as Partial<StoredWindow>;
    if (Number.isInteger(value.count) && Number.isFinite(value.start)) return value as StoredWindow;
  } catch {}
  return undefined; // unreadable: start a new window rather than fail the request
}

/**
 * Seconds a counter must live: until its window ends, but never less than KV's
 * 60 s minimum (a 60 s window that started 20 s ago is kept 60 s, not 40 s; the
 * value still carries its own start, so the extra life does not extend the window).
 * Relative to the injected clock rather than absolute, so it is right whatever
 * clock the caller uses.
 */
export function kvTtlSeconds(msUntilReset: number): number {
  return Math.max(KV_MIN_TTL_SECONDS, Math.ceil(msUntilReset / 1000));
}

export class KvRateLimitStore implements RateLimitStore {
  readonly kind = "kv" as const;
  private readonly prefix: string;

  constructor(
    private readonly kv: KVNamespace,
    options: { prefix?: string } = {},
  ) {
    this.prefix = options.prefix ?? "rl:";
  }

  async hit(input: RateLimitHit): Promise<RateLimitCount> {
    assertValidHit(input);
    const storageKey = `${this.prefix}${input.key}`;
    const windowMs = input.windowSeconds * 1000;

    const stored = parseStoredWindow(await this.kv.get(storageKey));
    const current = stored && input.now < stored.start + windowMs ? stored : undefined;
    const start = current?.start ?? input.now;
    const count = current?.count ?? 0;
    const resetAt = start + windowMs;
    if (count >= input.limit) return { allowed: false, count, resetAt };

    await this.kv.put(storageKey, JSON.stringify({ count: count + 1, start } satisfies StoredWindow), {
      expirationTtl: kvTtlSeconds(resetAt - input.now),
    });
    return { allowed: true, count: count + 1, resetAt };
  }
}
