/**
 * The limiter as createApp() installs it, through the Worker's own fetch
 * handler: anonymous callers counted per client IP with the configured policy
 * (RATE_LIMIT_POLICIES from wrangler.toml, the KV store), and what is exempt.
 * Windows start at a key's first request, so this runs on the real clock without
 * depending on where a minute boundary falls.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getConfig } from "../src/env";
import { resolvePolicies } from "../src/lib/rate-limit/policies";

const { limit, windowSeconds } = resolvePolicies(getConfig(env).RATE_LIMIT_POLICIES).anonymous;
// Fixed addresses: each test file has its own KV, and no other test here uses them.
const clientByte = 120;

const get = (path: string, ip: string, init: RequestInit = {}) =>
  exports.default.fetch(`http://localhost${path}`, {
    ...init,
    headers: { "cf-connecting-ip": ip, ...(init.headers as Record<string, string> | undefined) },
  });

describe("the app-wide limiter", () => {
  it("serves the anonymous policy per IP: the N+1th request in the window is a 429 problem", async () => {
    const ip = `198.51.100.${clientByte}`;
    for (let i = 1; i <= limit; i++) {
      const res = await get("/", ip);
      expect(res.status).toBe(200);
      expect(res.headers.get("x-ratelimit-limit")).toBe(String(limit));
      expect(res.headers.get("x-ratelimit-remaining")).toBe(String(limit - i));
      expect(res.headers.get("ratelimit-policy")).toBe(`"anonymous";q=${limit};w=${windowSeconds}`);
      await res.body?.cancel();
    }

    const refused = await get("/", ip, { headers: { "x-request-id": "rate-limited-0001" } });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
    expect(refused.headers.get("x-ratelimit-remaining")).toBe("0");
    expect(refused.headers.get("x-ratelimit-reset")).toBe(String(retryAfter));
    expect(refused.headers.get("ratelimit")).toBe(`"anonymous";r=0;t=${retryAfter}`);
    expect(await refused.json()).toMatchObject({
      type: "/problems/rate_limited",
      status: 429,
      code: "rate_limited",
      instance: "/",
      request_id: "rate-limited-0001",
      violated_policies: ["anonymous"],
    });

    // Another address is not affected by the first one's budget.
    const other = await get("/", `198.51.100.${clientByte + 1}`);
    expect(other.status).toBe(200);
    expect(other.headers.get("x-ratelimit-remaining")).toBe(String(limit - 1));

    // Nor are the liveness probe and CORS preflights, even from the exhausted address.
    const live = await get("/health/live", ip);
    expect(live.status).toBe(200);
    expect(live.headers.get("x-ratelimit-limit")).toBeNull();
    const preflight = await get("/", ip, {
      method: "OPTIONS",
      headers: { origin: "http://localhost:3000", "access-control-request-method": "GET" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-expose-headers")).toContain("RateLimit-Policy");
  });

  it("counts IPv6 clients by their /64", async () => {
    const prefix = `2001:db8:${clientByte.toString(16)}:7`;
    const first = await get("/", `${prefix}::1`);
    const second = await get("/", `${prefix}:0:0:0:abcd`);
    expect(first.headers.get("x-ratelimit-remaining")).toBe(String(limit - 1));
    expect(second.headers.get("x-ratelimit-remaining")).toBe(String(limit - 2));
  });
});

describe("a CF-Connecting-IP that is not an IP address", () => {
  // Only a request that bypassed Cloudflare's edge can send one. Once it made a KV key longer
  // than KV takes, and the store's refusal let every such request through (fail open).
  it("is counted in the one shared `unknown` bucket, so a 2,000-character or non-IP value is limited like anyone", async () => {
    const junk = ["x".repeat(2_000), "not-an-ip", "203.0.113.1, 10.0.0.1", "::ffff:999.1.1.1", "1.2.3.04"];
    let answered = 0;
    let refused: Response | undefined;
    for (let i = 0; !refused && i <= limit; i++) {
      const res = await get("/", junk[i % junk.length] as string);
      if (res.status === 429) {
        refused = res;
        break;
      }
      expect(res.status).toBe(200);
      answered += 1;
      await res.body?.cancel();
    }
    // Every junk value spent the same budget (this file's KV: nothing else used `unknown`).
    expect(answered).toBe(limit);
    expect(refused?.status).toBe(429);
    expect(await refused?.json()).toMatchObject({ code: "rate_limited", violated_policies: ["anonymous"] });
    // A real address still has its own budget.
    const real = await get("/", `198.51.100.${clientByte + 2}`);
    expect(real.status).toBe(200);
  });
});
