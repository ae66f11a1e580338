/**
 * Where rate-limit counters live. Two implementations pass the same contract
 * (test/rate-limit.store.test.ts), chosen by RATE_LIMIT_STORE:
 *
 * - "kv" (KvRateLimitStore, RATE_LIMIT_KV): cheap and global, but approximate.
 *   Each isolate counts its own hits exactly in memory and syncs with KV at most
 *   once a second per key (a read, and a write after the response); KV is
 *   eventually consistent (another location can read a count up to ~60 s old),
 *   so across isolates and locations counts are lower than the truth.
 * - "durable_object" (DurableObjectRateLimitStore, RATE_LIMITER): exact. One
 *   Durable Object per limited key processes that key's hits one at a time, at
 *   the price of a round trip to wherever the object lives.
 *
 * Both count a fixed window that starts at a key's first hit and lasts
 * `windowSeconds` (not aligned to the clock, so clients do not all reset at the
 * same instant). A refused hit is not counted, so a client that keeps hammering
 * is not locked out longer than the window.
 */
export type RateLimitHit = {
  /** The key, e.g. "user:0190c6c4-…"; each store namespaces it as it needs. */
  key: string;
  limit: number;
  windowSeconds: number;
  /** The caller's clock, in ms since the epoch (injected so tests can move time). */
  now: number;
};

export type RateLimitCount = {
  allowed: boolean;
  /** Hits counted in the current window, this one included when it was allowed. */
  count: number;
  /** When the current window ends, in ms since the epoch (same clock as `now`). */
  resetAt: number;
};

export type RateLimitStoreKind = "kv" | "durable_object";

export type HitOptions = {
  /**
   * Takes a write the decision does not wait for, to finish after the response
   * (the middleware passes ExecutionContext.waitUntil, logging a failure). Without
   * it a store awaits its writes inside hit(). The write rejects when the store fails.
   */
  defer?: (write: Promise<void>) => void;
  /**
   * Told of a store failure the store could work around (the KV store keeps counting
   * in the isolate's memory when a refresh from KV fails), for the caller to log.
   * Failures it cannot work around reject hit() instead.
   */
  onDegraded?: (error: unknown) => void;
};

export interface RateLimitStore {
  readonly kind: RateLimitStoreKind;
  /**
   * Counts one hit against `key` unless it is over the limit. Rejects when the backing store fails
   * and nothing can stand in for it. A store that can decide without I/O may answer at once, not
   * with a promise: the middleware then spends nothing on waiting (no timer, no race).
   */
  hit(input: RateLimitHit, options?: HitOptions): RateLimitCount | Promise<RateLimitCount>;
}

/** Refuses input that would make a counter meaningless (NaN times, fractional limits). */
export function assertValidHit(input: RateLimitHit): void {
  if (typeof input.key !== "string" || input.key.length === 0)
    throw new RangeError("rate limit key is empty");
  if (!Number.isInteger(input.limit) || input.limit < 1)
    throw new RangeError("rate limit must be a positive integer");
  if (!Number.isInteger(input.windowSeconds) || input.windowSeconds < 1) {
    throw new RangeError("rate limit window must be a positive whole number of seconds");
  }
  if (!Number.isFinite(input.now)) throw new RangeError("rate limit clock returned a non-finite time");
}
