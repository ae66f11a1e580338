/**
 * The RateLimitStore contract, run against both stores over the real local KV
 * namespace and the real RateLimiter Durable Object, then what only one of them
 * promises (KV: TTLs; Durable Object: exact counts under concurrency, durability,
 * clean-up). Time is whatever `now` the test passes: nothing sleeps.
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

  it("fails loudly when KV refuses the key, for the middleware to allow and log", async () => {
    const store = new KvRateLimitStore(env.RATE_LIMIT_KV, { prefix: "x".repeat(KV_MAX_KEY_BYTES) });
    await expect(store.hit({ key: "k", limit: 1, windowSeconds: 60, now: T0 })).rejects.toThrow();
  });
});

describe("RateLimiter Durable Object", () => {
  const stubFor = (key: string) => env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(key));

  it("counts exactly under concurrency", async () => {
    const store = new DurableObjectRateLimitStore(env.RATE_LIMITER);
    const key = freshKey("concurrent");
    const results = await Promise.all(
      Array.from({ length: 25 }, () => store.hit({ key, limit: 10, windowSeconds: 60, now: T0 })),
    );
    expect(results.filter((result) => result.allowed)).toHaveLength(10);
    expect(
      results
        .filter((result) => result.allowed)
        .map((result) => result.count)
        .sort((a, b) => a - b),
    ).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

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
