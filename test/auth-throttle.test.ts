/**
 * Password guessing, and what stops it. Failed sign-ins are counted in a Durable
 * Object per account (SignInThrottle): each attempt is checked and reserved in one call
 * BEFORE the password is hashed, and settled (failed or succeeded) in a second call
 * before the answer leaves, per account and client (IPv6 by /64):
 *
 * - the burst: 20 concurrent wrong passwords get at most 5 evaluations (no scrypt for the rest);
 * - the dropped request: a reservation nobody settles counts as a failure once it expires;
 * - the weapon: a stranger's failures never lock the owner out from another client;
 * - the spray across one /64: IPv6 neighbours count as one client;
 * - the slow, distributed guess: 100 failures in an hour lock the account for clients it
 *   does not trust, while a client that signed in before keeps its way in.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../src/app";
import { passwordCheckCount } from "../src/lib/password-hashing";
import { SIGN_IN_THROTTLE } from "../src/modules/auth/sign-in-throttle.do";
import { createUser, DEFAULT_PASSWORD, signIn } from "./support/factories";
import { api, as, problemOf } from "./support/http";

// Each evaluated sign-in pays one scrypt (~150 ms, more when every test file runs at once).
vi.setConfig({ testTimeout: 60_000 });

afterEach(() => {
  vi.useRealTimers();
});

/**
 * The `login` rate-limit policy (10 a minute per IP and per email) would answer many of
 * these attempts first; it is lifted here so what is seen is the throttle alone.
 */
const app = createApp();
const lifted = { ...env, RATE_LIMIT_POLICIES: '{"login":"100000/60"}' };
const login = (email: string, password: string, ip: string) =>
  app.request(
    "/api/v1/auth/login",
    {
      method: "POST",
      body: JSON.stringify({ email, password }),
      headers: { "content-type": "application/json", "cf-connecting-ip": ip },
    },
    lifted,
  );

const throttleOf = (userId: string) =>
  env.SIGN_IN_THROTTLE.get(env.SIGN_IN_THROTTLE.idFromName(`user:${userId}`));

describe("the burst: concurrent wrong passwords from one client", () => {
  it("evaluates at most 5 of 20; the rest are 429 before any password is hashed", async () => {
    const account = await createUser();
    const before = passwordCheckCount.value;
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => login(account.email, `wrong guess ${i}`, "203.0.113.10")),
    );
    const statuses = answers.map((res) => res.status);
    expect(statuses.filter((status) => status === 401)).toHaveLength(SIGN_IN_THROTTLE.clientLimit);
    expect(statuses.filter((status) => status === 429)).toHaveLength(20 - SIGN_IN_THROTTLE.clientLimit);
    expect(passwordCheckCount.value - before).toBe(SIGN_IN_THROTTLE.clientLimit);
    const refused = answers.find((res) => res.status === 429) as Response;
    const problem = await problemOf(refused, 429);
    expect(problem.code).toBe("too_many_attempts");
    // The lock lasts 15 minutes from the failure that set it.
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(890);
    expect(retryAfter).toBeLessThanOrEqual(900);
    expect(problem.retry_after).toBe(retryAfter);
  });

  it("refuses the right password too from the locked client, without hashing it, until the lock ends", async () => {
    const account = await createUser();
    for (let i = 0; i < 5; i++)
      await problemOf(await login(account.email, `wrong ${i}`, "203.0.113.11"), 401);
    const before = passwordCheckCount.value;
    await problemOf(await login(account.email, DEFAULT_PASSWORD, "203.0.113.11"), 429);
    expect(passwordCheckCount.value).toBe(before);

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 15 * 60_000 + 1_000);
    expect((await login(account.email, DEFAULT_PASSWORD, "203.0.113.11")).status).toBe(200);
  });

  it("forgives a client's failures when it signs in, so an owner's typos do not add up", async () => {
    const account = await createUser();
    for (let i = 0; i < 4; i++) await problemOf(await login(account.email, `typo ${i}`, "203.0.113.12"), 401);
    expect((await login(account.email, DEFAULT_PASSWORD, "203.0.113.12")).status).toBe(200);
    for (let i = 0; i < 4; i++)
      await problemOf(await login(account.email, `typo again ${i}`, "203.0.113.12"), 401);
    expect((await login(account.email, DEFAULT_PASSWORD, "203.0.113.12")).status).toBe(200);
  });

  it("locks an address with no account exactly like a real one (no enumeration)", async () => {
    const ghost = `ghost-${crypto.randomUUID()}@example.test`;
    for (let i = 0; i < 5; i++) await problemOf(await login(ghost, `guess ${i}`, "203.0.113.13"), 401);
    const res = await login(ghost.toUpperCase(), "guess 6", "203.0.113.13");
    expect((await problemOf(res, 429)).code).toBe("too_many_attempts");
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(890);
  });

  it("is one lock whichever identifier names the account (email or username)", async () => {
    const account = await createUser();
    for (let i = 0; i < 5; i++)
      await problemOf(await login(account.email, `wrong ${i}`, "203.0.113.14"), 401);
    const byUsername = await app.request(
      "/api/v1/auth/login",
      {
        method: "POST",
        body: JSON.stringify({ username: account.user.username, password: DEFAULT_PASSWORD }),
        headers: { "content-type": "application/json", "cf-connecting-ip": "203.0.113.14" },
      },
      lifted,
    );
    expect(byUsername.status).toBe(429);
  });
});

describe("reservations: what is counted between the check and the answer", () => {
  it("a right password writes nothing once the client is trusted; a wrong one is stored", async () => {
    const account = await createUser();
    const client = "203.0.113.15";
    expect((await login(account.email, DEFAULT_PASSWORD, client)).status).toBe(200);
    const stored = () =>
      runInDurableObject(throttleOf(account.user.id), async (_, state) => [
        ...state.storage.kv.list<unknown>(),
      ]);
    const afterFirst = await stored();
    expect(afterFirst.map(([key]) => key)).toEqual([`trusted:${client}`]);
    expect((await login(account.email, DEFAULT_PASSWORD, client)).status).toBe(200);
    expect(await stored()).toEqual(afterFirst);

    await problemOf(await login(account.email, "a wrong one", client), 401);
    const keys = (await stored()).map(([key]) => key).sort();
    expect(keys).toEqual(["account", `client:${client}`, `trusted:${client}`]);
  });

  it("holds the 6th concurrent attempt while 5 are in flight, and lets it in once they are settled right", async () => {
    const account = await createUser();
    const throttle = throttleOf(account.user.id);
    const now = Date.now();
    const client = "203.0.113.16";
    const tickets: string[] = [];
    for (let i = 0; i < SIGN_IN_THROTTLE.clientLimit; i++) {
      const verdict = await throttle.attempt(client, now);
      if (!verdict.allowed) throw new Error(`attempt ${i + 1} refused`);
      tickets.push(verdict.ticket);
    }
    const sixth = await throttle.attempt(client, now);
    expect(sixth).toMatchObject({ allowed: false, scope: "client", retryAfterSeconds: 900 });
    for (const ticket of tickets) await throttle.succeeded(client, ticket, now);
    expect((await throttle.attempt(client, now)).allowed).toBe(true);
  });

  it("counts a reservation nobody settled (the request died after hashing) as a failure once it expires", async () => {
    const account = await createUser();
    const throttle = throttleOf(account.user.id);
    const client = "203.0.113.17";
    const start = Date.now();
    for (let i = 0; i < SIGN_IN_THROTTLE.clientLimit; i++) {
      expect((await throttle.attempt(client, start)).allowed).toBe(true);
    }
    // A minute later nobody has settled them: five failures, and the client is locked from then.
    const later = start + SIGN_IN_THROTTLE.pendingTtlMs + 1_000;
    expect(await throttle.attempt(client, later)).toEqual({
      allowed: false,
      scope: "client",
      retryAfterSeconds: SIGN_IN_THROTTLE.clientLockMs / 1000,
    });
    const res = await login(account.email, DEFAULT_PASSWORD, client);
    expect((await problemOf(res, 429)).code).toBe("too_many_attempts");
  });

  it("records a failure settled with a ticket the object no longer knows (it was restarted in between)", async () => {
    const account = await createUser();
    const throttle = throttleOf(account.user.id);
    const client = "203.0.113.18";
    const now = Date.now();
    const locks = [];
    for (let i = 0; i < SIGN_IN_THROTTLE.clientLimit; i++) {
      locks.push(...(await throttle.failed(client, crypto.randomUUID(), now)));
    }
    expect(locks).toEqual([
      {
        scope: "client",
        failures: SIGN_IN_THROTTLE.clientLimit,
        lockedUntil: now + SIGN_IN_THROTTLE.clientLockMs,
      },
    ]);
    expect((await throttle.attempt(client, now)).allowed).toBe(false);
  });
});

describe("the weapon: locking the owner out on purpose", () => {
  it("a stranger's failures never refuse the owner's correct password from another client", async () => {
    const owner = await createUser();
    for (let i = 0; i < 12; i++) {
      const res = await login(owner.email, `stranger guess ${i}`, "198.51.100.66");
      expect(res.status).toBe(i < 5 ? 401 : 429);
    }
    expect((await login(owner.email, DEFAULT_PASSWORD, "203.0.113.20")).status).toBe(200);
  });
});

describe("the spray across one IPv6 /64", () => {
  it("counts every address of a /64 as one client, and another /64 as another", async () => {
    const account = await createUser();
    for (let i = 1; i <= 5; i++) {
      await problemOf(await login(account.email, `wrong ${i}`, `2001:db8:1:2::${i}`), 401);
    }
    const neighbour = await login(account.email, DEFAULT_PASSWORD, "2001:db8:1:2:ffff:ffff:ffff:ffff");
    expect((await problemOf(neighbour, 429)).code).toBe("too_many_attempts");
    expect((await login(account.email, DEFAULT_PASSWORD, "2001:db8:1:3::1")).status).toBe(200);
  });
});

describe("the slow, distributed guess", () => {
  it("locks the account after 100 failures in an hour for untrusted clients only", async () => {
    const account = await createUser();
    // A client the owner signed in from before is trusted.
    expect((await login(account.email, DEFAULT_PASSWORD, "203.0.113.30")).status).toBe(200);
    // 100 failures from 100 addresses (no single client reaches its own limit).
    const throttle = throttleOf(account.user.id);
    const now = Date.now();
    for (let i = 0; i < SIGN_IN_THROTTLE.accountLimit; i++) {
      const verdict = await throttle.attempt(`198.18.9.${i}`, now);
      expect(verdict.allowed).toBe(true);
    }
    const stranger = await login(account.email, DEFAULT_PASSWORD, "198.18.10.1");
    expect((await problemOf(stranger, 429)).code).toBe("too_many_attempts");
    const retryAfter = Number(stranger.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(890);
    expect(retryAfter).toBeLessThanOrEqual(900);
    // The owner's usual client still signs in.
    expect((await login(account.email, DEFAULT_PASSWORD, "203.0.113.30")).status).toBe(200);
  });

  it("once the account's lock ends within its hour, lets one untrusted attempt in at a time; a wrong one locks again", async () => {
    const account = await createUser();
    const throttle = throttleOf(account.user.id);
    const start = Date.now();
    for (let i = 0; i < SIGN_IN_THROTTLE.accountLimit; i++) {
      await throttle.failed(`198.18.20.${i}`, crypto.randomUUID(), start);
    }
    expect(await throttle.attempt("198.18.21.1", start)).toMatchObject({ allowed: false, scope: "account" });

    const later = start + SIGN_IN_THROTTLE.accountLockMs + 1_000;
    const first = await throttle.attempt("198.18.21.1", later);
    if (!first.allowed) throw new Error("the attempt after the lock was refused");
    // While that one is in flight it holds the lock it would set.
    expect(await throttle.attempt("198.18.21.2", later)).toMatchObject({
      allowed: false,
      scope: "account",
      retryAfterSeconds: SIGN_IN_THROTTLE.accountLockMs / 1000,
    });
    expect(await throttle.failed("198.18.21.1", first.ticket, later)).toEqual([
      {
        scope: "account",
        failures: SIGN_IN_THROTTLE.accountLimit + 1,
        lockedUntil: later + SIGN_IN_THROTTLE.accountLockMs,
      },
    ]);
    expect(await throttle.attempt("198.18.21.3", later)).toMatchObject({ allowed: false, scope: "account" });
  });

  it("also trusts a client that proved the address another way (a magic code), forgiving its failures", async () => {
    const account = await createUser();
    const client = "203.0.113.31";
    for (let i = 0; i < 5; i++) await problemOf(await login(account.email, `wrong ${i}`, client), 401);
    await problemOf(await login(account.email, DEFAULT_PASSWORD, client), 429);
    await throttleOf(account.user.id).trustClient(client, Date.now());
    expect((await login(account.email, DEFAULT_PASSWORD, client)).status).toBe(200);
  });
});

describe("other password checks go through the same throttle", () => {
  it("password change: 5 wrong current passwords, then 429 even for the right one", async () => {
    const account = await createUser();
    const tokens = await signIn(account.user);
    const change = (current: string) =>
      as(tokens.accessToken).post("/api/v1/auth/password/change", {
        ip: "203.0.113.40",
        body: {
          current_password: current,
          password: "brand new phrase",
          password_confirm: "brand new phrase",
        },
      });
    for (let i = 0; i < 5; i++) expect((await change(`wrong ${i}`)).status).toBe(400);
    const res = await change(DEFAULT_PASSWORD);
    expect((await problemOf(res, 429)).code).toBe("too_many_attempts");
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(890);
  });

  it("still limits how often one IP may try at all (the `login` policy), whatever the outcome", async () => {
    const ip = "203.0.113.90";
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await api("POST", "/api/v1/auth/login", {
        body: { email: `burst-${i}@example.test`, password: "Summer2026!" },
        ip,
      });
      statuses.push(res.status);
    }
    expect(statuses).toEqual(Array(10).fill(401));
    const refused = await api("POST", "/api/v1/auth/login", {
      body: { email: "burst-last@example.test", password: "Summer2026!" },
      ip,
    });
    const problem = await problemOf(refused, 429);
    expect(problem.code).toBe("rate_limited");
    expect(problem.violated_policies).toEqual(["login"]);
  });
});

describe("when the throttle cannot be reached", () => {
  it("refuses password sign-in with 503 (fails closed), never a 500, and never hashes", async () => {
    const account = await createUser();
    const broken = {
      ...lifted,
      SIGN_IN_THROTTLE: {
        idFromName: () => ({}),
        get: () => ({
          attempt: () => Promise.reject(new Error("Durable Object reset because its code was updated")),
        }),
      },
    } as unknown as typeof env;
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const before = passwordCheckCount.value;
    const res = await app.request(
      "/api/v1/auth/login",
      {
        method: "POST",
        body: JSON.stringify({ email: account.email, password: DEFAULT_PASSWORD }),
        headers: { "content-type": "application/json", "cf-connecting-ip": "203.0.113.50" },
      },
      broken,
    );
    expect((await problemOf(res, 503)).code).toBe("service_unavailable");
    expect(passwordCheckCount.value).toBe(before);
    logged.mockRestore();
  });
});
