/**
 * The rate-limit middleware on a small test-only app: a stand-in authentication
 * middleware sets the principal from a test token, then the real global limiter
 * and real route limiters count in the real store (each suite runs once per
 * store, picked through RATE_LIMIT_STORE exactly as in production). Time moves
 * only through the clock the limiters are built with.
 */

import { listDurableObjectIds, runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { z } from "@hono/zod-openapi";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Bindings } from "../src/env";
import { createServiceContext } from "../src/lib/context";
import { createRouter } from "../src/lib/create-router";
import type { Logger, LogLevel } from "../src/lib/logger";
import { defineRoute, jsonContent } from "../src/lib/openapi";
import { ANONYMOUS, type Principal } from "../src/lib/principal";
import { problems } from "../src/lib/problem";
import { KV_MAX_KEY_BYTES, KvRateLimitStore } from "../src/lib/rate-limit/kv-store";
import type { PolicyOverrides, RoutePolicyName } from "../src/lib/rate-limit/policies";
import type { RateLimitCount, RateLimitStore } from "../src/lib/rate-limit/store";
import { handleError, handleNotFound } from "../src/middleware/error-handler";
import { type Clock, globalRateLimit, type RateLimitOptions, rateLimit } from "../src/middleware/rate-limit";
import type { Problem } from "./support/http";
import { kvWithOutage } from "./support/kv-outage";

const T0 = Date.UTC(2031, 5, 1, 9, 0, 0);

type LogLine = { level: LogLevel; msg: string } & Record<string, unknown>;

function captureLogger(lines: LogLine[], base: Record<string, unknown> = {}): Logger {
  const write = (level: LogLevel) => (msg: string, fields?: Record<string, unknown>) =>
    void lines.push({ level, msg, ...base, ...fields });
  return {
    debug: write("debug"),
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
    child: (fields) => captureLogger(lines, { ...base, ...fields }),
  };
}

/**
 * Stand-in for authenticate(): "Bearer user:<id>" and "Bearer key:<id>" are
 * verified principals; "Bearer forged:<id>" is rejected with 401 before the
 * limiter (as a strict authenticate does); "Bearer expired:<id>" leaves the
 * caller anonymous (as a lenient one does, letting the route answer 401).
 */
function principalFrom(authorization: string | undefined, system: boolean): Principal {
  if (system) return { kind: "system", reason: "test" };
  const [kind, id = ""] = authorization?.replace(/^Bearer /, "").split(":") ?? [];
  if (kind === "user") {
    return {
      kind: "user",
      userId: id,
      sessionId: "s",
      isStaff: false,
      tokenId: "t",
      tokenExpiresAt: 0,
      authTime: 0,
      amr: [],
    };
  }
  if (kind === "key") return { kind: "api_key", keyId: id, organizationId: "o", scopes: [] };
  if (kind === "forged") throw problems.unauthorized("The access token is not valid.", "invalid_token");
  return ANONYMOUS;
}

type TestAppOptions = RateLimitOptions & {
  limitFor?: (principal: Principal) => { limit: number; windowSeconds: number } | undefined;
};

/** `waitUntil`, when given, stands for the ExecutionContext's: the request then has a ServiceContext. */
function buildApp(
  options: TestAppOptions,
  logs: LogLine[] = [],
  waitUntil?: (promise: Promise<unknown>) => void,
) {
  const { limitFor, ...shared } = options;
  const app = createRouter();
  app.use(async (c, next) => {
    const logger = captureLogger(logs);
    const principal = principalFrom(c.req.header("authorization"), c.req.header("x-test-system") === "1");
    c.set("requestId", "req-test-0001");
    c.set("logger", logger);
    c.set("principal", principal);
    if (waitUntil) {
      c.set(
        "ctx",
        createServiceContext({ env: c.env, principal, requestId: "req-test-0001", logger, waitUntil }),
      );
    }
    await next();
  });
  app.use(globalRateLimit({ ...shared, limitFor }));

  const signedIn = (principal: Principal) => {
    if (principal.kind === "anonymous") throw problems.unauthorized();
  };
  const emailFromBody = async (c: { req: { json: () => Promise<unknown> } }) =>
    ((await c.req.json()) as { email?: string }).email?.trim().toLowerCase();

  app.get("/things", (c) => c.json({ ok: true }));
  app.get("/me", (c) => {
    signedIn(c.get("principal"));
    return c.json({ ok: true });
  });
  app.get("/raw", () => new Response("raw body", { status: 200 }));
  app.get("/admin/v1/users", (c) => c.json({ ok: true }));
  app.get("/health/live", (c) => c.json({ status: "ok" }));
  app.on("OPTIONS", "/things", (c) => c.body(null, 204));
  app.post("/login", rateLimit("login", { ...shared, key: emailFromBody }), (c) => c.json({ ok: true }));
  app.post("/ws-ticket", rateLimit("ws_ticket", shared), (c) => {
    signedIn(c.get("principal"));
    return c.json({ ticket: "t" });
  });
  // The way modules attach a policy: one line in the route definition.
  app.openapi(
    defineRoute({
      method: "post",
      path: "/pre-registrations",
      middleware: [rateLimit("waitlist", { ...shared, key: emailFromBody })],
      request: { body: { content: { "application/json": { schema: z.object({ email: z.email() }) } } } },
      responses: { 201: jsonContent(z.object({ email: z.string() }), "Registered.") },
    }),
    (c) => c.json({ email: c.req.valid("json").email }, 201),
  );
  app.onError(handleError);
  app.notFound(handleNotFound);
  return app;
}

let sequence = 0;
const runId = crypto.randomUUID().slice(0, 8);
/** An IPv4 address no other test uses. */
const freshIp = () => {
  sequence += 1;
  return `10.${(sequence >> 8) & 255}.${sequence & 255}.${Number.parseInt(runId.slice(0, 2), 16) % 250}`;
};
const freshId = (label: string) => `${label}-${runId}-${++sequence}`;

type Caller = { ip?: string; token?: string; system?: boolean; method?: string; body?: unknown };

function requestInit({ ip, token, system, method = "GET", body }: Caller): RequestInit {
  const headers: Record<string, string> = {};
  if (ip) headers["cf-connecting-ip"] = ip;
  if (token) headers.authorization = `Bearer ${token}`;
  if (system) headers["x-test-system"] = "1";
  if (body !== undefined) headers["content-type"] = "application/json";
  return {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  };
}

function rateHeaders(res: Response) {
  return {
    limit: res.headers.get("x-ratelimit-limit"),
    remaining: res.headers.get("x-ratelimit-remaining"),
    reset: res.headers.get("x-ratelimit-reset"),
    policy: res.headers.get("ratelimit-policy"),
    state: res.headers.get("ratelimit"),
  };
}

afterEach(async () => {
  for (const id of await listDurableObjectIds(env.RATE_LIMITER)) {
    await runDurableObjectAlarm(env.RATE_LIMITER.get(id));
  }
});

const SMALL: PolicyOverrides = {
  anonymous: { limit: 3, windowSeconds: 60 },
  user: { limit: 5, windowSeconds: 60 },
  api_key: { limit: 4, windowSeconds: 60 },
  login: { limit: 2, windowSeconds: 60 },
  ws_ticket: { limit: 2, windowSeconds: 60 },
};

describe.each([
  {
    kind: "kv",
    broken: { store: new KvRateLimitStore(env.RATE_LIMIT_KV, { prefix: "x".repeat(KV_MAX_KEY_BYTES) }) },
  },
  // The object itself refuses a hit it cannot place in time: a real exception across the RPC boundary.
  { kind: "durable_object", broken: { clock: () => Number.NaN } },
] satisfies Array<{ kind: string; broken: { store?: RateLimitStore; clock?: Clock } }>)(
  "rate limiting with RATE_LIMIT_STORE=$kind",
  ({ kind, broken }) => {
    const storeEnv = { ...env, RATE_LIMIT_STORE: kind } as Bindings;
    let now = T0;
    const clock = () => now;
    const send = (app: ReturnType<typeof buildApp>, path: string, caller: Caller = {}, withEnv = storeEnv) =>
      app.request(path, requestInit(caller), withEnv);

    beforeEach(() => {
      now = T0;
    });

    describe("happy path", () => {
      it("lets the limit through with decreasing headers, then answers 429 with the headers API.md specifies", async () => {
        const app = buildApp({ clock, policies: SMALL });
        const ip = freshIp();
        for (let remaining = 2; remaining >= 0; remaining--) {
          const res = await send(app, "/things", { ip });
          expect(res.status).toBe(200);
          expect(rateHeaders(res)).toEqual({
            limit: "3",
            remaining: String(remaining),
            reset: "60",
            policy: '"anonymous";q=3;w=60',
            state: `"anonymous";r=${remaining};t=60`,
          });
        }

        now += 20_000;
        const res = await send(app, "/things", { ip });
        expect(res.status).toBe(429);
        expect(res.headers.get("content-type")).toBe("application/problem+json");
        expect(res.headers.get("retry-after")).toBe("40");
        expect(rateHeaders(res)).toEqual({
          limit: "3",
          remaining: "0",
          reset: "40",
          policy: '"anonymous";q=3;w=60',
          state: '"anonymous";r=0;t=40',
        });
        const body = (await res.json()) as Problem;
        expect(body).toMatchObject({
          type: "/problems/rate_limited",
          status: 429,
          code: "rate_limited",
          violated_policies: ["anonymous"],
        });
        expect(body.detail).toMatch(/Retry after 40 seconds/);
      });

      it("resets when the window ends", async () => {
        const app = buildApp({ clock, policies: SMALL });
        const token = `user:${freshId("reset")}`;
        for (let i = 0; i < 5; i++) expect((await send(app, "/things", { token })).status).toBe(200);
        now += 59_999;
        expect((await send(app, "/things", { token })).status).toBe(429);
        now += 1;
        const res = await send(app, "/things", { token });
        expect(res.status).toBe(200);
        expect(rateHeaders(res)).toMatchObject({ remaining: "4", reset: "60", state: '"user";r=4;t=60' });
      });

      it("counts two IPs apart", async () => {
        const app = buildApp({ clock, policies: SMALL });
        const [a, b] = [freshIp(), freshIp()];
        for (let i = 0; i < 3; i++) await send(app, "/things", { ip: a });
        expect((await send(app, "/things", { ip: a })).status).toBe(429);
        const res = await send(app, "/things", { ip: b });
        expect(res.status).toBe(200);
        expect(rateHeaders(res).remaining).toBe("2");
      });

      it("counts two users apart, even from one IP, and apart from that IP's anonymous budget", async () => {
        const app = buildApp({ clock, policies: SMALL });
        const ip = freshIp();
        const [alice, bob] = [`user:${freshId("alice")}`, `user:${freshId("bob")}`];
        for (let i = 0; i < 5; i++) await send(app, "/things", { ip, token: alice });
        const refused = await send(app, "/things", { ip, token: alice });
        expect(refused.status).toBe(429);
        expect(((await refused.json()) as Problem).violated_policies).toEqual(["user"]);

        const other = await send(app, "/things", { ip, token: bob });
        expect(other.status).toBe(200);
        expect(rateHeaders(other)).toMatchObject({ policy: '"user";q=5;w=60', remaining: "4" });

        const anonymous = await send(app, "/things", { ip });
        expect(anonymous.status).toBe(200);
        expect(rateHeaders(anonymous)).toMatchObject({ policy: '"anonymous";q=3;w=60', remaining: "2" });
      });

      it("counts API keys per key, and honours a key's own limit", async () => {
        const premium = freshId("premium");
        const app = buildApp({
          clock,
          policies: SMALL,
          limitFor: (p) =>
            p.kind === "api_key" && p.keyId === premium ? { limit: 6, windowSeconds: 60 } : undefined,
        });
        const basic = `key:${freshId("basic")}`;
        for (let i = 0; i < 4; i++) expect((await send(app, "/things", { token: basic })).status).toBe(200);
        const refused = await send(app, "/things", { token: basic });
        expect(refused.status).toBe(429);
        expect(((await refused.json()) as Problem).violated_policies).toEqual(["api_key"]);

        const res = await send(app, "/things", { token: `key:${premium}` });
        expect(res.status).toBe(200);
        expect(rateHeaders(res)).toMatchObject({ policy: '"api_key";q=6;w=60', remaining: "5" });
      });

      it("puts the headers on responses a handler builds itself", async () => {
        const app = buildApp({ clock, policies: SMALL });
        const res = await send(app, "/raw", { ip: freshIp() });
        expect(await res.text()).toBe("raw body");
        expect(rateHeaders(res)).toMatchObject({ limit: "3", remaining: "2" });
      });

      it("counts requests to unknown routes too", async () => {
        const app = buildApp({ clock, policies: SMALL });
        const ip = freshIp();
        const res = await send(app, "/nowhere", { ip });
        expect(res.status).toBe(404);
        expect(rateHeaders(res).remaining).toBe("2");
      });
    });

    describe("configuration", () => {
      it("takes limits from RATE_LIMIT_POLICIES without a code change", async () => {
        const app = buildApp({ clock });
        const configured = {
          ...storeEnv,
          RATE_LIMIT_POLICIES: '{"user":"2/30s","login":"1/2m"}',
        } as Bindings;
        const token = `user:${freshId("configured")}`;
        for (let remaining = 1; remaining >= 0; remaining--) {
          const res = await send(app, "/things", { token }, configured);
          expect(res.status).toBe(200);
          expect(rateHeaders(res)).toMatchObject({ limit: "2", remaining: String(remaining), reset: "30" });
          expect(rateHeaders(res).policy).toBe('"user";q=2;w=30');
        }
        const refused = await send(app, "/things", { token }, configured);
        expect(refused.status).toBe(429);
        expect(refused.headers.get("retry-after")).toBe("30");

        // Policies the variable does not name keep their defaults.
        const anonymous = await send(app, "/things", { ip: freshIp() }, configured);
        expect(rateHeaders(anonymous).policy).toBe('"anonymous";q=60;w=60');
        const login = await send(app, "/login", { ip: freshIp(), method: "POST", body: {} }, configured);
        expect(rateHeaders(login).policy).toBe('"anonymous";q=60;w=60, "login";q=1;w=120');
      });

      it("answers a configuration error, not a silent default, when RATE_LIMIT_POLICIES is wrong", async () => {
        const app = buildApp({ clock });
        const res = await send(app, "/things", { ip: freshIp() }, {
          ...storeEnv,
          RATE_LIMIT_POLICIES: '{"anonymus":"10/60"}',
        } as Bindings);
        expect(res.status).toBe(500);
        expect(((await res.json()) as Problem).code).toBe("configuration_error");
      });

      it("refuses bad options when the middleware is built, not on the first request", () => {
        expect(() => rateLimit(String("user") as RoutePolicyName)).toThrow(TypeError);
        expect(() => rateLimit(String("nope") as RoutePolicyName)).toThrow(/unknown policy "nope"/);
        expect(() => globalRateLimit({ policies: { user: { limit: 0, windowSeconds: 60 } } })).toThrow(
          RangeError,
        );
        expect(() => rateLimit("login", { policies: { login: { limit: 5, windowSeconds: 0.5 } } })).toThrow(
          RangeError,
        );
        expect(() => globalRateLimit({ storeTimeoutMs: 0 })).toThrow(TypeError);
      });
    });

    describe("what is not counted", () => {
      it("does not limit system principals, the admin API, the liveness probe or CORS preflights", async () => {
        const app = buildApp({ clock, policies: { ...SMALL, anonymous: { limit: 1, windowSeconds: 60 } } });
        const ip = freshIp();
        const cases: Array<[string, Caller]> = [
          ["/things", { ip, system: true }],
          ["/admin/v1/users", { ip }],
          ["/health/live", { ip }],
          ["/things", { ip, method: "OPTIONS" }],
        ];
        for (const [path, caller] of cases) {
          for (let i = 0; i < 3; i++) {
            const res = await send(app, path, caller);
            expect(res.status, `${caller.method ?? "GET"} ${path}`).toBeLessThan(300);
            expect(res.headers.get("x-ratelimit-limit")).toBeNull();
          }
        }
        // None of them spent the IP's single request.
        expect((await send(app, "/things", { ip })).status).toBe(200);
      });

      it("never counts a rejected token against the user it names", async () => {
        const app = buildApp({ clock, policies: SMALL });
        const victim = freshId("victim");
        const ip = freshIp();
        for (let i = 0; i < 8; i++) {
          const res = await send(app, "/things", { ip, token: `forged:${victim}` });
          expect(res.status).toBe(401);
        }
        // Lenient authentication: the bad token leaves the caller anonymous, counted by IP.
        for (let remaining = 2; remaining >= 0; remaining--) {
          const res = await send(app, "/me", { ip, token: `expired:${victim}` });
          expect(res.status).toBe(401);
          expect(rateHeaders(res)).toMatchObject({
            policy: '"anonymous";q=3;w=60',
            remaining: String(remaining),
          });
        }
        expect((await send(app, "/me", { ip, token: `expired:${victim}` })).status).toBe(429);

        // The real user, from that same address, still has the whole budget.
        const res = await send(app, "/me", { ip, token: `user:${victim}` });
        expect(res.status).toBe(200);
        expect(rateHeaders(res)).toMatchObject({ policy: '"user";q=5;w=60', remaining: "4" });
      });
    });

    describe("route policies", () => {
      const login = (app: ReturnType<typeof buildApp>, ip: string, email: unknown) =>
        send(app, "/login", { ip, method: "POST", body: email === undefined ? {} : { email } });

      it("limits one IP trying many emails, and reports both policies", async () => {
        const app = buildApp({ clock, policies: SMALL });
        const ip = freshIp();
        const first = await login(app, ip, `${freshId("a")}@example.com`);
        expect(first.status).toBe(200);
        expect(rateHeaders(first)).toEqual({
          limit: "2",
          remaining: "1",
          reset: "60",
          policy: '"anonymous";q=3;w=60, "login";q=2;w=60',
          state: '"anonymous";r=2;t=60, "login";r=1;t=60',
        });
        expect((await login(app, ip, `${freshId("b")}@example.com`)).status).toBe(200);
        const refused = await login(app, ip, `${freshId("c")}@example.com`);
        expect(refused.status).toBe(429);
        expect(((await refused.json()) as Problem).violated_policies).toEqual(["login"]);
        expect(refused.headers.get("retry-after")).toBe("60");
        expect(rateHeaders(refused).state).toBe('"anonymous";r=0;t=60, "login";r=0;t=60');
      });

      it("limits one email tried from many IPs, whatever its spelling", async () => {
        const app = buildApp({ clock, policies: SMALL });
        const email = `${freshId("target")}@example.com`;
        expect((await login(app, freshIp(), email)).status).toBe(200);
        expect((await login(app, freshIp(), ` ${email.toUpperCase()}`)).status).toBe(200);
        const refused = await login(app, freshIp(), email);
        expect(refused.status).toBe(429);
        expect(((await refused.json()) as Problem).violated_policies).toEqual(["login"]);
        // Another email from a fresh address is unaffected.
        expect((await login(app, freshIp(), `${freshId("other")}@example.com`)).status).toBe(200);
      });

      it("does not let an address that is over the limit spend an email's budget", async () => {
        const app = buildApp({ clock, policies: { ...SMALL, anonymous: { limit: 100, windowSeconds: 60 } } });
        const attacker = freshIp();
        const victim = `${freshId("victim")}@example.com`;
        for (let i = 0; i < 2; i++) await login(app, attacker, `${freshId("spray")}@example.com`);
        for (let i = 0; i < 5; i++) expect((await login(app, attacker, victim)).status).toBe(429);
        const res = await login(app, freshIp(), victim);
        expect(res.status).toBe(200);
        expect(rateHeaders(res).state).toContain('"login";r=1;t=60');
      });

      it("still counts by IP when the body has no key, and never answers 500 for it", async () => {
        const app = buildApp({ clock, policies: SMALL });
        const ip = freshIp();
        expect((await login(app, ip, undefined)).status).toBe(200);
        const malformed = await send(app, "/login", { ip, method: "POST", body: "{not json" });
        expect(malformed.status).not.toBe(500);
        expect((await login(app, ip, undefined)).status).toBe(429);
      });

      it("counts a signed-in route policy per user, not per shared address", async () => {
        const app = buildApp({ clock, policies: SMALL });
        const ip = freshIp();
        const [alice, bob] = [`user:${freshId("alice")}`, `user:${freshId("bob")}`];
        for (let i = 0; i < 2; i++)
          expect((await send(app, "/ws-ticket", { ip, token: alice, method: "POST" })).status).toBe(200);
        expect((await send(app, "/ws-ticket", { ip, token: alice, method: "POST" })).status).toBe(429);
        const res = await send(app, "/ws-ticket", { ip, token: bob, method: "POST" });
        expect(res.status).toBe(200);
        expect(rateHeaders(res).state).toBe('"user";r=4;t=60, "ws_ticket";r=1;t=60');
      });
    });

    describe("on an OpenAPI route", () => {
      it("counts before validation, so invalid bodies cannot dodge the limit", async () => {
        const app = buildApp({ clock, policies: { ...SMALL, waitlist: { limit: 2, windowSeconds: 60 } } });
        const ip = freshIp();
        const register = (body: unknown) => send(app, "/pre-registrations", { ip, method: "POST", body });
        expect((await register({ email: "not an email" })).status).toBe(400);
        const created = await register({ email: `${freshId("wait")}@example.com` });
        expect(created.status).toBe(201);
        expect(rateHeaders(created).policy).toBe('"anonymous";q=3;w=60, "waitlist";q=2;w=60');
        const refused = await register({ email: `${freshId("wait")}@example.com` });
        expect(refused.status).toBe(429);
        expect(((await refused.json()) as Problem).violated_policies).toEqual(["waitlist"]);
      });
    });

    describe("a failing store", () => {
      it("allows the request and logs the failure, never a 500", async () => {
        const logs: LogLine[] = [];
        const app = buildApp({ clock, policies: SMALL, ...broken }, logs);
        const ip = freshIp();
        for (let i = 0; i < 5; i++) {
          const res = await send(app, "/things", { ip });
          expect(res.status).toBe(200);
          expect(res.headers.get("x-ratelimit-limit")).toBeNull();
        }
        const failures = logs.filter((line) => line.msg === "rate limit store failed; request allowed");
        expect(failures).toHaveLength(5);
        expect(failures[0]).toMatchObject({ level: "error", policy: "anonymous", store: kind });
        expect(failures[0]?.error).toMatchObject({ message: expect.any(String) });
      });
    });
  },
);

describe("the KV store's writes, after the response", () => {
  /** The real namespace, but every write refused as KV refuses a key written more than once a second. */
  const refusingWrites = {
    get: (key: string) => env.RATE_LIMIT_KV.get(key),
    put: () => Promise.reject(new Error("KV PUT failed: 429 Too Many Requests")),
  } as unknown as KVNamespace;

  it("answers without waiting for the counter's write, and logs a write that fails", async () => {
    const logs: LogLine[] = [];
    const afterResponse: Promise<unknown>[] = [];
    const store = new KvRateLimitStore(refusingWrites);
    const app = buildApp(
      { clock: () => T0, policies: SMALL, store },
      logs,
      (p) => void afterResponse.push(p),
    );
    const ip = freshIp();

    const res = await app.request("/things", requestInit({ ip }), env);
    expect(res.status).toBe(200);
    expect(rateHeaders(res)).toMatchObject({ limit: "3", remaining: "2" });
    expect(afterResponse).toHaveLength(1);
    await Promise.all(afterResponse);
    expect(logs.filter((line) => line.msg === "rate limit store could not record a hit")).toEqual([
      expect.objectContaining({
        level: "error",
        store: "kv",
        error: expect.objectContaining({ message: expect.stringMatching(/429/) }),
      }),
    ]);

    // The isolate's own count holds whatever KV did with the write.
    for (const remaining of ["1", "0"]) {
      expect(rateHeaders(await app.request("/things", requestInit({ ip }), env)).remaining).toBe(remaining);
    }
    expect((await app.request("/things", requestInit({ ip }), env)).status).toBe(429);
  });

  it("logs a KV outage it can count through, and goes on limiting from the isolate's memory", async () => {
    const logs: LogLine[] = [];
    const outage = kvWithOutage(env.RATE_LIMIT_KV);
    let now = T0;
    const afterResponse: Promise<unknown>[] = [];
    const app = buildApp(
      { clock: () => now, policies: SMALL, store: new KvRateLimitStore(outage.kv) },
      logs,
      (p) => void afterResponse.push(p),
    );
    const ip = freshIp();
    const send = () => app.request("/things", requestInit({ ip }), env);

    expect((await send()).status).toBe(200);
    outage.state.down = true;
    now += 1_000;
    expect(rateHeaders(await send()).remaining).toBe("1");
    expect(rateHeaders(await send()).remaining).toBe("0");
    expect((await send()).status).toBe(429);
    await Promise.all(afterResponse);
    expect(
      logs.filter((line) => line.msg === "rate limit store unreachable; counting in this isolate only"),
    ).toEqual([expect.objectContaining({ level: "warn", store: "kv" })]);
  });
});

describe("waiting for the store", () => {
  const counting = (answer: (n: number) => RateLimitCount | Promise<RateLimitCount>): RateLimitStore => {
    let n = 0;
    return { kind: "kv", hit: () => answer(++n) };
  };

  it("takes a store's plain (not promised) answers: headers, then the 429", async () => {
    const store = counting((n) => ({ allowed: n <= 2, count: Math.min(n, 2), resetAt: T0 + 30_000 }));
    const app = buildApp({ clock: () => T0, policies: SMALL, store });
    const ip = freshIp();
    const send = () => app.request("/things", requestInit({ ip }), env);
    expect(rateHeaders(await send())).toMatchObject({ limit: "3", remaining: "2", reset: "30" });
    expect(rateHeaders(await send())).toMatchObject({ remaining: "1" });
    const refused = await send();
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("30");
  });

  it("waits for a store's answer that is a thenable but not a native Promise (an RPC stub's call)", async () => {
    const store = counting(
      (n) =>
        ({
          // biome-ignore lint/suspicious/noThenProperty: the point is a thenable that is not a Promise.
          then: (resolve: (count: RateLimitCount) => void) =>
            resolve({ allowed: n <= 1, count: 1, resetAt: T0 + 30_000 }),
        }) as unknown as Promise<RateLimitCount>,
    );
    const app = buildApp({ clock: () => T0, policies: SMALL, store });
    const ip = freshIp();
    expect(rateHeaders(await app.request("/things", requestInit({ ip }), env))).toMatchObject({
      remaining: "2",
    });
    expect((await app.request("/things", requestInit({ ip }), env)).status).toBe(429);
  });

  it("allows the request and logs when a store throws instead of answering", async () => {
    const logs: LogLine[] = [];
    const store: RateLimitStore = {
      kind: "kv",
      hit: () => {
        throw new Error("store exploded");
      },
    };
    const app = buildApp({ clock: () => T0, policies: SMALL, store }, logs);
    const res = await app.request("/things", requestInit({ ip: freshIp() }), env);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-ratelimit-limit")).toBeNull();
    expect(logs).toContainEqual(
      expect.objectContaining({
        msg: "rate limit store failed; request allowed",
        error: expect.objectContaining({ message: "store exploded" }),
      }),
    );
  });

  // A route policy counts the address, then the key: answers from memory and from a promise mixed.
  describe("two counters, one answered at once and one promised", () => {
    const login = (app: ReturnType<typeof buildApp>, ip: string, email: string) =>
      app.request("/login", requestInit({ ip, method: "POST", body: { email } }), env);
    // The address's counter answers at once; the email's (k:<hash>) only through a promise.
    const mixed = (refuse: { ip?: boolean; key?: boolean }, hits: string[]): RateLimitStore => ({
      kind: "kv",
      hit: ({ key }) => {
        hits.push(key);
        const byKey = key.startsWith("login:k:");
        const count = { allowed: !(byKey ? refuse.key : refuse.ip), count: 1, resetAt: T0 + 30_000 };
        return byKey ? Promise.resolve(count) : count;
      },
    });

    it("waits for the promised one and answers its refusal with both policies' headers", async () => {
      const hits: string[] = [];
      const app = buildApp({ clock: () => T0, policies: SMALL, store: mixed({ key: true }, hits) });
      const refused = await login(app, freshIp(), `${freshId("mixed")}@example.com`);
      expect(refused.status).toBe(429);
      expect(refused.headers.get("retry-after")).toBe("30");
      expect(((await refused.json()) as Problem).violated_policies).toEqual(["login"]);
      // The global limiter's counter, the address's, then the email's.
      expect(hits.map((key) => key.split(":").slice(0, 2).join(":"))).toEqual([
        "anonymous:ip",
        "login:ip",
        "login:k",
      ]);
    });

    it("stops at a refusal answered at once, without spending the promised counter", async () => {
      const hits: string[] = [];
      const app = buildApp({ clock: () => T0, policies: SMALL, store: mixed({ ip: true }, hits) });
      const refused = await login(app, freshIp(), `${freshId("mixed")}@example.com`);
      expect(refused.status).toBe(429);
      expect(hits.filter((key) => key.startsWith("login:k:"))).toEqual([]);
    });

    it("lets the request through when both allow it", async () => {
      const hits: string[] = [];
      const app = buildApp({ clock: () => T0, policies: SMALL, store: mixed({}, hits) });
      const res = await login(app, freshIp(), `${freshId("mixed")}@example.com`);
      expect(res.status).toBe(200);
      expect(res.headers.get("ratelimit-policy")).toContain('"login";q=2;w=60');
      expect(hits).toHaveLength(3);
    });
  });

  it("allows the request and logs when a store's promise does not settle within storeTimeoutMs", async () => {
    const logs: LogLine[] = [];
    const app = buildApp(
      { clock: () => T0, policies: SMALL, store: counting(() => new Promise(() => {})), storeTimeoutMs: 50 },
      logs,
    );
    const started = Date.now();
    const res = await app.request("/things", requestInit({ ip: freshIp() }), env);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-ratelimit-limit")).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(40);
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: "error",
        msg: "rate limit store failed; request allowed",
        error: expect.objectContaining({ message: "rate-limit store did not answer within 50 ms" }),
      }),
    );
  });
});
