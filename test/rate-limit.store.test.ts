/**
 * The RateLimitStore contract, run against both stores over the real local KV
 * namespace and the real RateLimiter Durable Object, then what only one of them
 * promises (KV: TTLs, and how an isolate's own counts meet KV's; Durable Object:
 * durability, clean-up). Time is whatever `now` the test passes: nothing sleeps.
 */
import {
  evictDurableObject,
  listDurableObjectIds,
  runDurableObjectAlarm,
  runInDurableObject,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { DurableObjectRateLimitStore } from "../src/lib/rate-limit/durable-object-store";
import {
  KV_MAX_KEY_BYTES,
  KV_MIN_TTL_SECONDS,
  KvRateLimitStore,
  kvTtlSeconds,
} from "../src/lib/rate-limit/kv-store";
import type { RateLimiter } from "../src/lib/rate-limit/rate-limiter.do";
import type { RateLimitStore } from "../src/lib/rate-limit/store";
import { kvWithOutage } from "./support/kv-outage";

const T0 = Date.UTC(2031, 0, 1, 12, 0, 0);
const MINUTE = 60_000;

const freshKey = (label: string) => `contract:${label}:${crypto.randomUUID()}`;

const stores: Array<{ kind: string; make: () => RateLimitStore }> = [
  { kind: "kv", make: () => new KvRateLimitStore(env.RATE_LIMIT_KV) },
  { kind: "durable_object", make: () => new DurableObjectRateLimitStore(env.RATE_LIMITER) },
];

/** Alarms outlive a test; run them so no object is left with one pending. */
afterEach(async () => {
  for (const id of await listDurableObjectIds(env.RATE_LIMITER)) {
    await runDurableObjectAlarm(env.RATE_LIMITER.get(id));
  }
});

describe.each(stores)("RateLimitStore contract: $kind", ({ make }) => {
  it("allows `limit` hits in a window, counting each, then refuses", async () => {
    const store = make();
    const key = freshKey("limit");
    const results = [];
    for (let i = 0; i < 4; i++)
      results.push(await store.hit({ key, limit: 3, windowSeconds: 60, now: T0 + i }));
    expect(results).toEqual([
      { allowed: true, count: 1, resetAt: T0 + MINUTE },
      { allowed: true, count: 2, resetAt: T0 + MINUTE },
      { allowed: true, count: 3, resetAt: T0 + MINUTE },
      { allowed: false, count: 3, resetAt: T0 + MINUTE },
    ]);
  });

  it("does not count refused hits, nor let them extend the window", async () => {
    const store = make();
    const key = freshKey("refused");
    await store.hit({ key, limit: 1, windowSeconds: 60, now: T0 });
    for (let i = 1; i <= 5; i++) {
      expect(await store.hit({ key, limit: 1, windowSeconds: 60, now: T0 + i * 10_000 - 1 })).toEqual({
        allowed: false,
        count: 1,
        resetAt: T0 + MINUTE,
      });
    }
  });

  it("starts a new window, from zero, once the old one has ended", async () => {
    const store = make();
    const key = freshKey("reset");
    for (let i = 0; i < 3; i++) await store.hit({ key, limit: 2, windowSeconds: 60, now: T0 });
    expect(await store.hit({ key, limit: 2, windowSeconds: 60, now: T0 + MINUTE - 1 })).toMatchObject({
      allowed: false,
    });
    expect(await store.hit({ key, limit: 2, windowSeconds: 60, now: T0 + MINUTE })).toEqual({
      allowed: true,
      count: 1,
      resetAt: T0 + 2 * MINUTE,
    });
  });

  it("starts a window at the key's first hit, not on a clock boundary", async () => {
    const store = make();
    const key = freshKey("anchor");
    const first = T0 + 12_345;
    expect(await store.hit({ key, limit: 5, windowSeconds: 90, now: first })).toEqual({
      allowed: true,
      count: 1,
      resetAt: first + 90_000,
    });
    expect((await store.hit({ key, limit: 5, windowSeconds: 90, now: first + 89_999 })).resetAt).toBe(
      first + 90_000,
    );
  });

  // KV: within one isolate, which is where concurrent hits meet (across isolates, see below).
  it("counts concurrent hits exactly", async () => {
    const store = make();
    const key = freshKey("concurrent");
    const results = await Promise.all(
      Array.from({ length: 25 }, () => store.hit({ key, limit: 10, windowSeconds: 60, now: T0 })),
    );
    expect(
      results
        .filter((result) => result.allowed)
        .map((result) => result.count)
        .sort((a, b) => a - b),
    ).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it("keeps keys apart", async () => {
    const store = make();
    const a = freshKey("a");
    const b = freshKey("b");
    await store.hit({ key: a, limit: 1, windowSeconds: 60, now: T0 });
    expect((await store.hit({ key: a, limit: 1, windowSeconds: 60, now: T0 })).allowed).toBe(false);
    expect(await store.hit({ key: b, limit: 1, windowSeconds: 60, now: T0 })).toEqual({
      allowed: true,
      count: 1,
      resetAt: T0 + MINUTE,
    });
  });

  it("applies a lowered limit at once, to the count already in the window", async () => {
    const store = make();
    const key = freshKey("lowered");
    for (let i = 0; i < 4; i++) await store.hit({ key, limit: 10, windowSeconds: 60, now: T0 });
    expect(await store.hit({ key, limit: 3, windowSeconds: 60, now: T0 + 1 })).toEqual({
      allowed: false,
      count: 4,
      resetAt: T0 + MINUTE,
    });
  });

  it.each([
    ["a non-finite time", { limit: 5, windowSeconds: 60, now: Number.NaN }],
    ["a zero limit", { limit: 0, windowSeconds: 60, now: T0 }],
    ["a fractional limit", { limit: 2.5, windowSeconds: 60, now: T0 }],
    ["a fractional window", { limit: 5, windowSeconds: 0.5, now: T0 }],
  ])("rejects %s instead of storing it", async (_, input) => {
    await expect(make().hit({ key: freshKey("invalid"), ...input })).rejects.toThrow(/rate limit/);
  });
});

describe("KvRateLimitStore", () => {
  it("writes each counter to expire when its window ends, and never under KV's 60 s minimum", async () => {
    const store = new KvRateLimitStore(env.RATE_LIMIT_KV, { prefix: `ttl-${crypto.randomUUID()}:` });
    const wall = Math.floor(Date.now() / 1000);
    // A 10-minute window that started now: the counter lives 600 s.
    await store.hit({ key: "long", limit: 5, windowSeconds: 600, now: T0 });
    // A 60-second window 50 s in: 10 s left, clamped to 60 s.
    await store.hit({ key: "late", limit: 5, windowSeconds: 60, now: T0 });
    await store.hit({ key: "late", limit: 5, windowSeconds: 60, now: T0 + 50_000 });
    // A 30-second window (allowed for a policy) still gets 60 s.
    await store.hit({ key: "short", limit: 5, windowSeconds: 30, now: T0 });

    const { keys } = await env.RATE_LIMIT_KV.list({ prefix: "ttl-" });
    const expiry = (suffix: string) => keys.find((key) => key.name.endsWith(`:${suffix}`))?.expiration ?? 0;
    expect(expiry("long") - wall).toBeGreaterThanOrEqual(599);
    expect(expiry("long") - wall).toBeLessThanOrEqual(602);
    for (const suffix of ["late", "short"]) {
      expect(expiry(suffix) - wall).toBeGreaterThanOrEqual(KV_MIN_TTL_SECONDS - 1);
      expect(expiry(suffix) - wall).toBeLessThanOrEqual(KV_MIN_TTL_SECONDS + 2);
    }
  });

  it("computes TTLs in whole seconds, clamped to 60", () => {
    expect(kvTtlSeconds(0)).toBe(60);
    expect(kvTtlSeconds(10_000)).toBe(60);
    expect(kvTtlSeconds(60_001)).toBe(61);
    expect(kvTtlSeconds(3_600_000)).toBe(3_600);
  });

  it("starts a fresh window over a counter it cannot read", async () => {
    const store = new KvRateLimitStore(env.RATE_LIMIT_KV);
    const key = freshKey("garbage");
    await env.RATE_LIMIT_KV.put(`rl:${key}`, "not json", { expirationTtl: 60 });
    expect(await store.hit({ key, limit: 2, windowSeconds: 60, now: T0 })).toEqual({
      allowed: true,
      count: 1,
      resetAt: T0 + MINUTE,
    });
  });

  it("counts a key too long for KV under its SHA-256, so a long client value cannot make it fail open", async () => {
    const store = new KvRateLimitStore(env.RATE_LIMIT_KV);
    const key = `${freshKey("long")}:${"é".repeat(600)}`;
    // A second apart: each hit is written to KV (at most one write a second per key).
    for (const [count, at] of [
      [1, T0],
      [2, T0 + 1_000],
    ] as const) {
      expect(await store.hit({ key, limit: 2, windowSeconds: 60, now: at })).toMatchObject({
        allowed: true,
        count,
      });
    }
    // A fresh isolate (a new store) reads the same counter back from KV.
    const elsewhere = new KvRateLimitStore(env.RATE_LIMIT_KV);
    expect(await elsewhere.hit({ key, limit: 2, windowSeconds: 60, now: T0 + 1_010 })).toMatchObject({
      allowed: false,
      count: 2,
    });
  });

  it("fails loudly when KV refuses the key, for the middleware to allow and log", async () => {
    const store = new KvRateLimitStore(env.RATE_LIMIT_KV, { prefix: "x".repeat(KV_MAX_KEY_BYTES) });
    await expect(store.hit({ key: "k", limit: 1, windowSeconds: 60, now: T0 })).rejects.toThrow();
  });
});

describe("RateLimiter Durable Object", () => {
  const stubFor = (key: string) => env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(key));

  it("keeps its count in storage, not in memory", async () => {
    const store = new DurableObjectRateLimitStore(env.RATE_LIMITER);
    const key = freshKey("evicted");
    for (let i = 0; i < 3; i++) await store.hit({ key, limit: 5, windowSeconds: 60, now: T0 });
    await evictDurableObject(stubFor(key));
    expect(await store.hit({ key, limit: 5, windowSeconds: 60, now: T0 + 1 })).toMatchObject({ count: 4 });
  });

  it("lives in the object named by the key, and forgets it all when the window's alarm fires", async () => {
    const store = new DurableObjectRateLimitStore(env.RATE_LIMITER);
    const key = freshKey("cleanup");
    await store.hit({ key, limit: 5, windowSeconds: 60, now: T0 });
    await store.hit({ key, limit: 5, windowSeconds: 60, now: T0 });
    const stub = stubFor(key);

    const before = await runInDurableObject(stub, async (_: RateLimiter, state) => ({
      window: state.storage.kv.get("window"),
      alarm: await state.storage.getAlarm(),
    }));
    expect(before.window).toEqual({ start: T0, count: 2 });
    // Set on the object's own clock, one window from the first hit.
    expect(before.alarm).toBeGreaterThan(Date.now());
    expect(before.alarm).toBeLessThanOrEqual(Date.now() + MINUTE);

    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const after = await runInDurableObject(stub, async (_: RateLimiter, state) => ({
      keys: [...state.storage.kv.list()].length,
      alarm: await state.storage.getAlarm(),
    }));
    expect(after).toEqual({ keys: 0, alarm: null });
    expect(await store.hit({ key, limit: 5, windowSeconds: 60, now: T0 + 1 })).toMatchObject({ count: 1 });
  });
});

/** The real namespace, counting the calls made to it (to show which hits reach KV at all). */
function countedKv(kv: KVNamespace = env.RATE_LIMIT_KV) {
  const calls = { get: 0, put: 0 };
  const counted = {
    get: (key: string) => {
      calls.get += 1;
      return kv.get(key);
    },
    put: (key: string, value: string, options?: KVNamespacePutOptions) => {
      calls.put += 1;
      return kv.put(key, value, options);
    },
  } as unknown as KVNamespace;
  return { kv: counted, calls };
}

describe("KvRateLimitStore in one isolate", () => {
  const stored = async (key: string) => JSON.parse((await env.RATE_LIMIT_KV.get(`rl:${key}`)) ?? "null");

  it("counts every hit in memory, reads KV once a second and writes at most once a second, after the response", async () => {
    const { kv, calls } = countedKv();
    const store = new KvRateLimitStore(kv);
    const key = freshKey("memory");
    const deferred: Promise<void>[] = [];
    const defer = (write: Promise<void>) => void deferred.push(write);

    const counts = [];
    for (let i = 0; i < 10; i++) {
      counts.push((await store.hit({ key, limit: 100, windowSeconds: 60, now: T0 + i }, { defer })).count);
    }
    expect(counts).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(calls).toEqual({ get: 1, put: 1 });
    // The one write was handed over, not awaited: it lands when its promise settles.
    expect(deferred).toHaveLength(1);
    await Promise.all(deferred);
    expect(await stored(key)).toEqual({ count: 1, start: T0 });

    // A second on: KV is read again and the count so far written.
    expect(await store.hit({ key, limit: 100, windowSeconds: 60, now: T0 + 1_000 }, { defer })).toEqual({
      allowed: true,
      count: 11,
      resetAt: T0 + MINUTE,
    });
    expect(calls).toEqual({ get: 2, put: 2 });
    await Promise.all(deferred);
    expect(await stored(key)).toEqual({ count: 11, start: T0 });
  });

  it("answers at once, without a promise, when it counts from memory; with one when it must read or wait", async () => {
    const { kv, calls } = countedKv();
    const store = new KvRateLimitStore(kv);
    const key = freshKey("at-once");
    const defer = (write: Promise<void>) => void write.catch(() => undefined);
    const hit = (now: number, options = { defer }) =>
      store.hit({ key, limit: 3, windowSeconds: 60, now }, options);

    const first = hit(T0);
    expect(first).toBeInstanceOf(Promise); // the first hit reads KV
    expect(await first).toEqual({ allowed: true, count: 1, resetAt: T0 + MINUTE });
    // Within the second: counted and refused from memory, as plain answers.
    expect(hit(T0 + 1)).toEqual({ allowed: true, count: 2, resetAt: T0 + MINUTE });
    const counted = hit(T0 + 2);
    expect(counted).not.toBeInstanceOf(Promise);
    expect(counted).toEqual({ allowed: true, count: 3, resetAt: T0 + MINUTE });
    expect(hit(T0 + 3)).toEqual({ allowed: false, count: 3, resetAt: T0 + MINUTE });
    expect(calls.get).toBe(1);
    // After it: KV is read again, so a promise.
    const refreshed = hit(T0 + 1_500);
    expect(refreshed).toBeInstanceOf(Promise);
    expect(await refreshed).toMatchObject({ allowed: false });

    // Without `defer`, a hit that writes waits for its write.
    const other = freshKey("at-once-awaited");
    await store.hit({ key: other, limit: 5, windowSeconds: 60, now: T0 });
    expect(store.hit({ key: other, limit: 5, windowSeconds: 60, now: T0 + 1 })).not.toBeInstanceOf(Promise);
    expect(store.hit({ key: other, limit: 5, windowSeconds: 60, now: T0 + 900 })).not.toBeInstanceOf(Promise);
    const stored = await kv.get(`rl:${other}`);
    expect(JSON.parse(stored ?? "null")).toEqual({ count: 1, start: T0 });

    // A key too long for KV is hashed first: always a promise.
    expect(store.hit({ key: "k".repeat(600), limit: 5, windowSeconds: 60, now: T0 })).toBeInstanceOf(Promise);
    // Invalid input rejects rather than throws, as before.
    await expect(
      store.hit({ key, limit: 0, windowSeconds: 60, now: T0 }) as Promise<unknown>,
    ).rejects.toThrow(/positive integer/);
  });

  it("refuses a client over its limit without any KV call until the next refresh", async () => {
    const { kv, calls } = countedKv();
    const store = new KvRateLimitStore(kv);
    const key = freshKey("storm");
    await store.hit({ key, limit: 2, windowSeconds: 60, now: T0 });
    await store.hit({ key, limit: 2, windowSeconds: 60, now: T0 + 1 });
    for (let i = 2; i < 50; i++) {
      expect((await store.hit({ key, limit: 2, windowSeconds: 60, now: T0 + i })).allowed).toBe(false);
    }
    expect(calls).toEqual({ get: 1, put: 1 });
  });

  it("learns of other isolates' hits at its next refresh, the larger count winning", async () => {
    const key = freshKey("isolates");
    const a = new KvRateLimitStore(env.RATE_LIMIT_KV);
    const b = new KvRateLimitStore(env.RATE_LIMIT_KV);
    const hit = (store: KvRateLimitStore, now: number) =>
      store.hit({ key, limit: 4, windowSeconds: 60, now });

    expect((await hit(a, T0)).count).toBe(1); // written: 1
    expect((await hit(a, T0 + 1_000)).count).toBe(2); // written: 2
    expect((await hit(b, T0 + 1_001)).count).toBe(3); // B reads 2, writes 3
    expect((await hit(a, T0 + 1_002)).count).toBe(3); // A has not looked since: its own count
    expect(await hit(a, T0 + 2_002)).toEqual({ allowed: true, count: 4, resetAt: T0 + MINUTE }); // reads 3
    expect(await hit(b, T0 + 2_003)).toEqual({ allowed: false, count: 4, resetAt: T0 + MINUTE }); // reads 4
  });

  it("keeps counting in memory when KV fails after the first read, and says so", async () => {
    const outage = kvWithOutage(env.RATE_LIMIT_KV);
    const store = new KvRateLimitStore(outage.kv);
    const key = freshKey("outage");
    const degraded: unknown[] = [];
    const failedWrites: Promise<void>[] = [];
    const options = {
      onDegraded: (error: unknown) => void degraded.push(error),
      defer: (write: Promise<void>) => void failedWrites.push(write.catch(() => undefined)),
    };
    const hit = (now: number) => store.hit({ key, limit: 3, windowSeconds: 60, now }, options);

    expect((await hit(T0)).count).toBe(1);
    outage.state.down = true;
    expect(await hit(T0 + 1_000)).toMatchObject({ allowed: true, count: 2 });
    expect(degraded).toHaveLength(1);
    expect(await hit(T0 + 1_500)).toMatchObject({ allowed: true, count: 3 }); // no new read within the second
    expect(await hit(T0 + 2_500)).toEqual({ allowed: false, count: 3, resetAt: T0 + MINUTE });
    expect(degraded).toHaveLength(2);
    await Promise.all(failedWrites);

    // A key this isolate has never seen has nothing to count with: the store fails for the caller to handle.
    await expect(
      store.hit({ key: freshKey("unknown"), limit: 3, windowSeconds: 60, now: T0 }, options),
    ).rejects.toThrow(/KV GET failed/);
  });

  it("remembers a bounded number of windows, forgetting ended ones first, then the oldest", async () => {
    const { kv, calls } = countedKv();
    const store = new KvRateLimitStore(kv, { maxWindows: 3 });
    const [short, a, b, c] = ["short", "a", "b", "c"].map(freshKey) as [string, string, string, string];
    await store.hit({ key: short, limit: 5, windowSeconds: 1, now: T0 });
    await store.hit({ key: a, limit: 5, windowSeconds: 60, now: T0 + 500 });
    await store.hit({ key: b, limit: 5, windowSeconds: 60, now: T0 + 600 });
    // Full: the 1 s window has ended by now, so it is the one dropped.
    await store.hit({ key: c, limit: 5, windowSeconds: 60, now: T0 + 1_100 });
    const readsBefore = calls.get;
    await store.hit({ key: a, limit: 5, windowSeconds: 60, now: T0 + 1_200 });
    expect(calls.get).toBe(readsBefore); // still remembered: no read within its refresh interval
    // Full again, nothing ended: the oldest remembered (a) goes.
    await store.hit({ key: short, limit: 5, windowSeconds: 60, now: T0 + 1_300 });
    await store.hit({ key: b, limit: 5, windowSeconds: 60, now: T0 + 1_400 });
    expect(calls.get).toBe(readsBefore + 1);
    await store.hit({ key: a, limit: 5, windowSeconds: 60, now: T0 + 1_400 });
    expect(calls.get).toBe(readsBefore + 2);
    // Forgetting loses no hits: what was written is read back.
    expect((await store.hit({ key: c, limit: 5, windowSeconds: 60, now: T0 + 1_500 })).count).toBe(2);
  });
});
