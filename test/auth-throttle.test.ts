/**
 * Brute-force protection: failures counted per account and per IP in
 * RATE_LIMIT_KV, 429 with Retry-After after 5 failures, growing lockouts, reset
 * on success, identical for unknown accounts, and never a 500 when KV fails.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { createApp } from "../src/app";
import type { Bindings } from "../src/env";
import {
  addFailure,
  type FailureCounter,
  LOGIN_THROTTLE,
  lockoutSeconds,
  retryAfterSeconds,
} from "../src/modules/auth/login-throttle";
import { createUser, DEFAULT_PASSWORD, signIn } from "./support/factories";
import { api, as, problemOf } from "./support/http";

// Each sign-in pays one scrypt (~150 ms, more when every test file runs at once).
vi.setConfig({ testTimeout: 30_000 });

const login = (email: string, password: string, ip?: string) =>
  api("POST", "/api/v1/auth/login", { body: { email, password }, ip });

describe("lockout arithmetic", () => {
  it("locks at the limit, doubles per further failure, and caps", () => {
    expect(lockoutSeconds(4, 5)).toBe(0);
    expect(lockoutSeconds(5, 5)).toBe(60);
    expect(lockoutSeconds(6, 5)).toBe(120);
    expect(lockoutSeconds(7, 5)).toBe(240);
    expect(lockoutSeconds(50, 5)).toBe(LOGIN_THROTTLE.lockoutMaxSeconds);
  });

  it("forgets a counter a window after its last failure, but not while locked", () => {
    const start = 1_000_000;
    let counter: FailureCounter | null = null;
    for (let i = 0; i < 4; i++) counter = addFailure(counter, 5, start + i);
    expect(counter).toEqual({ failures: 4, lastFailureAt: start + 3, lockedUntil: 0 });
    const windowMs = LOGIN_THROTTLE.windowSeconds * 1000;
    expect(addFailure(counter, 5, start + 3 + windowMs).failures).toBe(1);

    const locked = addFailure(counter, 5, start + 10);
    expect(locked.lockedUntil).toBe(start + 10 + 60_000);
    expect(retryAfterSeconds(locked, start + 10)).toBe(60);
    expect(retryAfterSeconds(locked, start + 10 + 60_000)).toBe(0);
    // After the lock, the next failure inside the window locks twice as long.
    const again = addFailure(locked, 5, start + 10 + 61_000);
    expect(again.failures).toBe(6);
    expect(again.lockedUntil - (start + 10 + 61_000)).toBe(120_000);
  });
});

describe("POST /auth/login brute force", () => {
  it("answers 429 with Retry-After after 5 failures, even to the right password", async () => {
    const account = await createUser();
    for (let i = 0; i < 5; i++) {
      expect((await problemOf(await login(account.email, `wrong guess ${i}`), 401)).code).toBe(
        "invalid_credentials",
      );
    }
    const res = await login(account.email, DEFAULT_PASSWORD);
    const problem = await problemOf(res, 429);
    expect(problem.code).toBe("too_many_attempts");
    const retryAfter = Number(res.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(50);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(problem.retry_after).toBe(retryAfter);
    // The same lock, whichever identifier names the account.
    const byUsername = await api("POST", "/api/v1/auth/login", {
      body: { username: account.user.username, password: DEFAULT_PASSWORD },
    });
    expect(byUsername.status).toBe(429);
  });

  it("locks an unknown account exactly like a real one (no enumeration)", async () => {
    for (let i = 0; i < 5; i++) expect((await login("ghost@example.test", `guess ${i}`)).status).toBe(401);
    const res = await login("GHOST@example.test", "guess 6");
    expect((await problemOf(res, 429)).code).toBe("too_many_attempts");
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(50);
  });

  it("grows the lockout on failures after it ends", async () => {
    const account = await createUser();
    // The state after a first lockout that has just run out: 5 failures, lock over.
    const now = Date.now();
    await env.RATE_LIMIT_KV.put(
      `login:user:${account.user.id}`,
      JSON.stringify({ failures: 5, lastFailureAt: now - 61_000, lockedUntil: now - 1_000 }),
      { expirationTtl: 900 },
    );
    expect((await login(account.email, "still wrong")).status).toBe(401);
    const res = await login(account.email, DEFAULT_PASSWORD);
    await problemOf(res, 429);
    const retryAfter = Number(res.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(110);
    expect(retryAfter).toBeLessThanOrEqual(120);
  });

  it("starts again from zero after a successful sign-in", async () => {
    const account = await createUser();
    for (let i = 0; i < 4; i++) expect((await login(account.email, `wrong ${i}`)).status).toBe(401);
    expect((await login(account.email, DEFAULT_PASSWORD)).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await login(account.email, `wrong again ${i}`)).status).toBe(401);
    expect((await login(account.email, DEFAULT_PASSWORD)).status).toBe(200);
  });

  it("counts failures per IP across accounts", async () => {
    // The `login` rate-limit policy (10 a minute per IP) would answer first; lift it to see the lockout alone.
    const app = createApp();
    const liftedLimits = { ...env, RATE_LIMIT_POLICIES: '{"login":"1000/60"}' };
    const loginFrom = (email: string, password: string, ip: string) =>
      app.request(
        "/api/v1/auth/login",
        {
          method: "POST",
          body: JSON.stringify({ email, password }),
          headers: { "content-type": "application/json", "cf-connecting-ip": ip },
        },
        liftedLimits,
      );
    const ip = "203.0.113.77";
    for (let i = 0; i < LOGIN_THROTTLE.ipLimit; i++) {
      expect((await loginFrom(`spray-${i}@example.test`, "Summer2026!", ip)).status).toBe(401);
    }
    const account = await createUser();
    const blocked = await loginFrom(account.email, DEFAULT_PASSWORD, ip);
    expect((await problemOf(blocked, 429)).code).toBe("too_many_attempts");
    expect((await loginFrom(account.email, DEFAULT_PASSWORD, "203.0.113.78")).status).toBe(200);
  });

  it("limits how often one IP may try at all, whatever the outcome", async () => {
    const ip = "203.0.113.90";
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++)
      statuses.push((await login(`burst-${i}@example.test`, "Summer2026!", ip)).status);
    expect(statuses).toEqual(Array(10).fill(401));
    const refused = await login("burst-last@example.test", "Summer2026!", ip);
    const problem = await problemOf(refused, 429);
    expect(problem.code).toBe("rate_limited");
    expect(problem.violated_policies).toEqual(["login"]);
    expect(refused.headers.get("retry-after")).not.toBeNull();
  });

  it("throttles wrong current passwords on password change too", async () => {
    const account = await createUser();
    const tokens = await signIn(account.user);
    const change = (current: string) =>
      as(tokens.accessToken).post("/api/v1/auth/password/change", {
        body: {
          current_password: current,
          password: "brand new phrase",
          password_confirm: "brand new phrase",
        },
      });
    for (let i = 0; i < 5; i++) expect((await change(`wrong ${i}`)).status).toBe(400);
    const res = await change(DEFAULT_PASSWORD);
    expect((await problemOf(res, 429)).code).toBe("too_many_attempts");
    expect(res.headers.get("retry-after")).not.toBeNull();
  });
});

describe("when RATE_LIMIT_KV fails", () => {
  /** A KV namespace whose every call throws, as during an outage or a write-rate refusal. */
  const brokenKv = new Proxy({} as KVNamespace, {
    get: () => () => Promise.reject(new Error("KV PUT failed: 429 Too Many Requests")),
  });

  it("still answers sign-ins (allowed and logged), never a 500", async () => {
    const account = await createUser();
    const app = createApp();
    const broken: Bindings = { ...env, RATE_LIMIT_KV: brokenKv };
    const attempt = (password: string) =>
      app.request(
        "/api/v1/auth/login",
        {
          method: "POST",
          headers: { "content-type": "application/json", "cf-connecting-ip": "198.51.100.9" },
          body: JSON.stringify({ email: account.email, password }),
        },
        broken,
      );
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    for (let i = 0; i < 6; i++) expect((await attempt(`wrong ${i}`)).status).toBe(401);
    expect((await attempt(DEFAULT_PASSWORD)).status).toBe(200);
    const messages = logged.mock.calls.map((call) => JSON.parse(String(call[0])).msg);
    expect(messages).toContain("rate limit store failed; request allowed");
    logged.mockRestore();
  });
});
