/**
 * Rate-limit counters in Workers KV (RATE_LIMIT_KV). The default store: no extra
 * product to run, and a read is served from the nearest location.
 *
 * Each isolate keeps the windows it has seen in memory and counts its own hits
 * there, exactly; KV is how isolates (and locations) learn of each other:
 *
 * - a key's counter is read from KV on its first hit in this isolate, then again
 *   at most once a second (REFRESH_MS), and the larger count wins;
 * - an allowed hit is written back at most once a second per key (WRITE_INTERVAL_MS,
 *   which is also KV's own limit of about one write per second per key), and the
 *   write can go after the response: the middleware hands it to `waitUntil`.
 *
 * So a request pays nothing for the limiter most of the time (no KV call on the
 * response path), a client hammering one isolate is counted exactly, a refused
 * client costs no I/O at all, and a KV outage does not stop an isolate from
 * limiting the clients it already knows. Across isolates the count is a lower bound, as it
 * always was with KV: concurrent isolates can overwrite each other's counts, the
 * hits of an isolate's last second may never be written, and KV itself is
 * eventually consistent (another location can read a count up to ~60 s old). Fine
 * for abuse protection, not for billing or hard quotas: choose
 * RATE_LIMIT_STORE=durable_object for exact counts.
 *
 * A refused hit is neither counted nor written.
 */
import { sha256Hex } from "../crypto";
import {
  assertValidHit,
  type HitOptions,
  type RateLimitCount,
  type RateLimitHit,
  type RateLimitStore,
} from "./store";

/** KV refuses TTLs shorter than this. */
export const KV_MIN_TTL_SECONDS = 60;

/** KV keys are at most 512 bytes. */
export const KV_MAX_KEY_BYTES = 512;

/** How long this isolate trusts what it read of a key before reading KV again. */
export const REFRESH_MS = 1_000;

/** The least time between two writes of one key from one isolate (KV takes about one a second). */
export const WRITE_INTERVAL_MS = 1_000;

/** Windows remembered per isolate; past this, ended windows and then the oldest are forgotten. */
export const MAX_LOCAL_WINDOWS = 10_000;

const utf8 = new TextEncoder();

type StoredWindow = { count: number; start: number };

/** What this isolate knows of one key's current window. */
type LocalWindow = StoredWindow & {
  /** When KV was last read for this key (the caller's clock). */
  readAt: number;
  /** When this isolate last wrote it, or -Infinity: not yet in this window. */
  writtenAt: number;
  /** The window's length at the last hit, to know when it is surely over. */
  windowMs: number;
};

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
  private readonly maxWindows: number;
  private readonly windows = new Map<string, LocalWindow>();

  constructor(
    private readonly kv: KVNamespace,
    options: { prefix?: string; maxWindows?: number } = {},
  ) {
    this.prefix = options.prefix ?? "rl:";
    this.maxWindows = options.maxWindows ?? MAX_LOCAL_WINDOWS;
  }

  /**
   * Answers at once (not a promise) when this isolate can count the hit on its own: its window
   * for the key was read from KV less than a second ago and no write has to be awaited. That is
   * most hits, and the middleware then skips its timeout race (src/middleware/rate-limit.ts).
   */
  hit(input: RateLimitHit, options: HitOptions = {}): RateLimitCount | Promise<RateLimitCount> {
    try {
      assertValidHit(input);
    } catch (error) {
      return Promise.reject(error);
    }
    const storageKey = this.plainStorageKey(input.key);
    if (storageKey !== undefined) return this.hitKey(storageKey, input, options);
    return this.hashedStorageKey(input.key).then((hashed) => this.hitKey(hashed, input, options));
  }

  private hitKey(
    storageKey: string,
    input: RateLimitHit,
    options: HitOptions,
  ): RateLimitCount | Promise<RateLimitCount> {
    const windowMs = input.windowSeconds * 1000;
    const window = this.current(storageKey, input.now, windowMs);
    if (window && input.now - window.readAt < REFRESH_MS)
      return this.count(storageKey, window, input, options);
    return this.readThenCount(storageKey, window, input, options);
  }

  /** The key's first hit in this isolate, or its first after REFRESH_MS: KV is read before counting. */
  private async readThenCount(
    storageKey: string,
    known: LocalWindow | undefined,
    input: RateLimitHit,
    options: HitOptions,
  ): Promise<RateLimitCount> {
    const windowMs = input.windowSeconds * 1000;
    let window: LocalWindow;
    if (!known) {
      // Nothing to count with but KV: a failed read rejects (the middleware allows and logs).
      const stored = parseStoredWindow(await this.kv.get(storageKey));
      // Read again after the await: hits of this isolate may have counted meanwhile.
      window = this.merge(storageKey, this.current(storageKey, input.now, windowMs), stored, input, windowMs);
    } else {
      try {
        const stored = parseStoredWindow(await this.kv.get(storageKey));
        window = this.merge(
          storageKey,
          this.current(storageKey, input.now, windowMs),
          stored,
          input,
          windowMs,
        );
      } catch (error) {
        // KV is down or refusing: go on with this isolate's own count, and look again in a second.
        known.readAt = input.now;
        options.onDegraded?.(error);
        window = known;
      }
    }
    return this.count(storageKey, window, input, options);
  }

  /** Counts the hit in `window` (unless it is over the limit) and writes it back at most once a second. */
  private count(
    storageKey: string,
    window: LocalWindow,
    input: RateLimitHit,
    options: HitOptions,
  ): RateLimitCount | Promise<RateLimitCount> {
    const resetAt = window.start + input.windowSeconds * 1000;
    if (window.count >= input.limit) return { allowed: false, count: window.count, resetAt };
    window.count += 1;
    const counted = { allowed: true, count: window.count, resetAt };

    if (input.now - window.writtenAt >= WRITE_INTERVAL_MS) {
      window.writtenAt = input.now;
      const write = this.kv.put(storageKey, JSON.stringify({ count: window.count, start: window.start }), {
        expirationTtl: kvTtlSeconds(resetAt - input.now),
      });
      if (!options.defer) return write.then(() => counted);
      options.defer(write);
    }
    return counted;
  }

  /**
   * The KV key of a counter. A key too long for KV (512 bytes) is stored under its SHA-256
   * instead: keys can carry what a client sent, and a refused key would make the middleware
   * allow the request (fail open). Short keys stay readable, for an operator browsing KV.
   * `plainStorageKey` is that readable key, or undefined when it is too long.
   */
  private plainStorageKey(key: string): string | undefined {
    const plain = `${this.prefix}${key}`;
    // At most 3 UTF-8 bytes per UTF-16 unit: short keys need no encoding to know they fit.
    if (plain.length * 3 <= KV_MAX_KEY_BYTES || utf8.encode(plain).byteLength <= KV_MAX_KEY_BYTES)
      return plain;
    return undefined;
  }

  private async hashedStorageKey(key: string): Promise<string> {
    return `${this.prefix}sha256:${await sha256Hex(key)}`;
  }

  /** This isolate's window for the key, if it has one that has not ended. */
  private current(storageKey: string, now: number, windowMs: number): LocalWindow | undefined {
    const window = this.windows.get(storageKey);
    if (window && now < window.start + windowMs) {
      window.windowMs = windowMs;
      return window;
    }
    if (window) this.windows.delete(storageKey);
    return undefined;
  }

  /** Folds what KV says into this isolate's window: the larger count of a current window wins. */
  private merge(
    storageKey: string,
    local: LocalWindow | undefined,
    stored: StoredWindow | undefined,
    input: RateLimitHit,
    windowMs: number,
  ): LocalWindow {
    const storedIsCurrent = stored && input.now < stored.start + windowMs;
    if (local) {
      local.readAt = input.now;
      if (storedIsCurrent && stored.count > local.count) {
        local.count = stored.count;
        local.start = stored.start;
      }
      return local;
    }
    const fresh: LocalWindow = {
      ...(storedIsCurrent ? stored : { count: 0, start: input.now }),
      readAt: input.now,
      writtenAt: Number.NEGATIVE_INFINITY,
      windowMs,
    };
    this.remember(storageKey, fresh, input.now);
    return fresh;
  }

  private remember(storageKey: string, window: LocalWindow, now: number): void {
    if (this.windows.size >= this.maxWindows) this.forget(now);
    this.windows.set(storageKey, window);
  }

  /** Drops windows that have surely ended, then, if still full, the oldest tenth. */
  private forget(now: number): void {
    for (const [key, window] of this.windows) {
      if (now >= window.start + window.windowMs) this.windows.delete(key);
    }
    if (this.windows.size < this.maxWindows) return;
    let drop = Math.ceil(this.maxWindows / 10);
    for (const key of this.windows.keys()) {
      if (drop-- <= 0) break;
      this.windows.delete(key);
    }
  }
}
