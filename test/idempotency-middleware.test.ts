/**
 * The idempotency middleware on a small app of its own (real D1, the app's own
 * request context and error handler), for the outcomes the catalog cannot be
 * made to produce on demand: handler crashes (5xx), 429s, credential-bearing
 * no-store answers, a holder that outlives its lease, anonymous callers.
 */

import { env } from "cloudflare:workers";
import { z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { idempotencyRecords } from "../src/db/schema";
import { createRouter } from "../src/lib/create-router";
import { defineRoute, jsonContent, jsonRequestBody } from "../src/lib/openapi";
import { ProblemError } from "../src/lib/problem";
import { handleError, handleNotFound } from "../src/middleware/error-handler";
import { idempotency } from "../src/middleware/idempotency";
import { requestContext } from "../src/middleware/request-context";
import { db } from "./catalog.fixtures";

afterEach(() => vi.restoreAllMocks());

const Counted = z.object({ call: z.number() });
const body = { request: { body: jsonRequestBody(z.object({ n: z.number() })) } };
const ok = { 200: jsonContent(Counted, "ok"), 201: jsonContent(Counted, "created") };

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

/** A fresh app per test, with its own call counters. */
function testApp(clock: { now: number } = { now: Date.now() }) {
  const calls: Record<string, number> = {};
  const count = (name: string) => {
    calls[name] = (calls[name] ?? 0) + 1;
    return calls[name] as number;
  };
  const gate = deferred();
  const started = deferred();

  const app = createRouter();
  app.use(requestContext());
  app.openapi(defineRoute({ method: "post", path: "/flaky", ...body, responses: ok }), (c) => {
    const call = count("flaky");
    if (call === 1) throw new Error("the database fell over");
    return c.json({ call }, 201);
  });
  app.openapi(defineRoute({ method: "post", path: "/busy", ...body, responses: ok }), (c) => {
    const call = count("busy");
    if (call === 1) throw new ProblemError({ status: 429, code: "rate_limited", detail: "Slow down." });
    return c.json({ call }, 201);
  });
  app.openapi(defineRoute({ method: "post", path: "/secret", ...body, responses: ok }), (c) => {
    c.header("Cache-Control", "no-store");
    return c.json({ call: count("secret") }, 201);
  });
  app.openapi(defineRoute({ method: "post", path: "/headers", ...body, responses: ok }), (c) => {
    c.header("Location", "/things/1");
    c.header("Link", '</things?page=2>; rel="next"');
    c.header("ETag", '"v1"');
    c.header("X-Debug", "not part of the resource");
    return c.json({ call: count("headers") }, 201);
  });
  app.openapi(defineRoute({ method: "post", path: "/ping", responses: ok }), (c) =>
    c.json({ call: count("ping") }, 200),
  );
  app.openapi(
    defineRoute({
      method: "patch",
      path: "/things/{id}",
      request: { params: z.object({ id: z.string() }), body: jsonRequestBody(z.object({ n: z.number() })) },
      responses: { 204: { description: "done" } },
    }),
    (c) => {
      count("patch");
      return c.body(null, 204);
    },
  );
  // A handler that blocks on its first call, with a clock the test moves.
  app.post("/slow", idempotency({ clock: () => clock.now, leaseMs: 60_000 }), async (c) => {
    const call = count("slow");
    if (call === 1) {
      started.resolve();
      await gate.promise;
    }
    return c.json({ call }, 201);
  });
  app.onError(handleError);
  app.notFound(handleNotFound);

  const request = (
    method: string,
    path: string,
    options: { key?: string; body?: unknown; raw?: string; ip?: string } = {},
  ) => {
    const headers: Record<string, string> = { "cf-connecting-ip": options.ip ?? "192.0.2.10" };
    if (options.key !== undefined) headers["idempotency-key"] = options.key;
    const payload = options.body !== undefined ? JSON.stringify(options.body) : options.raw;
    if (payload !== undefined) headers["content-type"] = "application/json";
    return app.request(path, { method, headers, body: payload }, env);
  };
  return { calls, request, gate, started, clock };
}

const recordsFor = (key: string) =>
  db.select().from(idempotencyRecords).where(eq(idempotencyRecords.key, key));

describe("what is not stored", () => {
  it("releases the key after a 5xx, so the retry runs; the retry's success is then replayed", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const { calls, request } = testApp();
    const key = crypto.randomUUID();
    const crashed = await request("POST", "/flaky", { key, body: { n: 1 } });
    expect(crashed.status).toBe(500);
    expect(await recordsFor(key)).toEqual([]);

    const retried = await request("POST", "/flaky", { key, body: { n: 1 } });
    expect(retried.status).toBe(201);
    expect(await retried.json()).toEqual({ call: 2 });
    const replayed = await request("POST", "/flaky", { key, body: { n: 1 } });
    expect(replayed.headers.get("idempotent-replayed")).toBe("true");
    expect(await replayed.json()).toEqual({ call: 2 });
    expect(calls.flaky).toBe(2);
  });

  it("does not store a 429: it says to come back later, and later the request runs", async () => {
    const { calls, request } = testApp();
    const key = crypto.randomUUID();
    expect((await request("POST", "/busy", { key, body: { n: 1 } })).status).toBe(429);
    const retried = await request("POST", "/busy", { key, body: { n: 1 } });
    expect(retried.status).toBe(201);
    expect(retried.headers.get("idempotent-replayed")).toBeNull();
    expect(calls.busy).toBe(2);
  });

  it("never stores a Cache-Control: no-store answer (it carries credentials) and keeps no record of it", async () => {
    const { calls, request } = testApp();
    const key = crypto.randomUUID();
    for (let i = 1; i <= 2; i++) {
      const res = await request("POST", "/secret", { key, body: { n: 1 } });
      expect(res.headers.get("idempotent-replayed")).toBeNull();
      expect(await res.json()).toEqual({ call: i });
    }
    expect(calls.secret).toBe(2);
    expect(await recordsFor(key)).toEqual([]);
  });

  it("does not store a validation failure, nor a body the JSON guards refuse", async () => {
    const { calls, request } = testApp();
    const key = crypto.randomUUID();
    expect((await request("POST", "/headers", { key, body: { n: "one" } })).status).toBe(400);
    const malformed = await request("POST", "/headers", { key, raw: "{not json" });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { code: string }).code).toBe("malformed_json");
    expect(await recordsFor(key)).toEqual([]);
    expect((await request("POST", "/headers", { key, body: { n: 1 } })).status).toBe(201);
    expect(calls.headers).toBe(1);
  });
});

describe("replays", () => {
  it("repeat status, body and the resource headers, but not the rest", async () => {
    const { request } = testApp();
    const key = crypto.randomUUID();
    const first = await request("POST", "/headers", { key, body: { n: 1 } });
    const replay = await request("POST", "/headers", { key, body: { n: 1 } });
    expect(replay.status).toBe(201);
    expect(await replay.json()).toEqual(await first.json());
    for (const name of ["location", "link", "etag", "content-type"]) {
      expect(replay.headers.get(name), name).toBe(first.headers.get(name));
    }
    expect(first.headers.get("x-debug")).not.toBeNull();
    expect(replay.headers.get("x-debug")).toBeNull();
    expect(replay.headers.get("x-request-id")).not.toBe(first.headers.get("x-request-id"));
  });

  it("work for a body-less POST and for a 204 PATCH", async () => {
    const { calls, request } = testApp();
    const pingKey = crypto.randomUUID();
    await request("POST", "/ping", { key: pingKey });
    const pinged = await request("POST", "/ping", { key: pingKey });
    expect(pinged.headers.get("idempotent-replayed")).toBe("true");
    expect(await pinged.json()).toEqual({ call: 1 });

    const patchKey = crypto.randomUUID();
    expect((await request("PATCH", "/things/a", { key: patchKey, body: { n: 1 } })).status).toBe(204);
    const patched = await request("PATCH", "/things/a", { key: patchKey, body: { n: 1 } });
    expect(patched.status).toBe(204);
    expect(patched.headers.get("idempotent-replayed")).toBe("true");
    expect(await patched.text()).toBe("");
    expect(calls).toMatchObject({ ping: 1, patch: 1 });
  });

  it("count the query string as part of the request", async () => {
    const { request } = testApp();
    const key = crypto.randomUUID();
    expect((await request("POST", "/ping?list=a", { key })).status).toBe(200);
    expect((await request("POST", "/ping?list=b", { key })).status).toBe(422);
  });

  it("limit the body a key-carrying request may send to a body-less route, and only then", async () => {
    const { calls, request } = testApp();
    const big = "x".repeat(1024 * 1024 + 1);
    expect((await request("POST", "/ping", { key: crypto.randomUUID(), raw: big })).status).toBe(413);
    expect((await request("POST", "/ping", { raw: big })).status).toBe(200);
    expect(calls.ping).toBe(1);
  });
});

describe("anonymous callers", () => {
  it("are scoped by client address: the same key from another address is another key", async () => {
    const { calls, request } = testApp();
    const key = crypto.randomUUID();
    await request("POST", "/ping", { key, ip: "203.0.113.5" });
    expect(
      (await request("POST", "/ping", { key, ip: "203.0.113.5" })).headers.get("idempotent-replayed"),
    ).toBe("true");
    const elsewhere = await request("POST", "/ping", { key, ip: "203.0.113.6" });
    expect(elsewhere.headers.get("idempotent-replayed")).toBeNull();
    expect(calls.ping).toBe(2);
    // IPv6 by /64, as the rate limiter counts: one subscriber's addresses share keys.
    const v6Key = crypto.randomUUID();
    await request("POST", "/ping", { key: v6Key, ip: "2001:db8:1:2::10" });
    const sibling = await request("POST", "/ping", { key: v6Key, ip: "2001:db8:1:2::99" });
    expect(sibling.headers.get("idempotent-replayed")).toBe("true");
    const [record] = await recordsFor(v6Key);
    expect(record?.scope).toMatch(/^ip:2001:db8:1:2/);
  });
});

describe("a holder that outlives its lease", () => {
  it("is taken over after the lease; the late holder's answer is not stored over the new one", async () => {
    const { request, gate, started, clock } = testApp({ now: Date.now() });
    const key = crypto.randomUUID();
    const first = request("POST", "/slow", { key });
    await started.promise;

    const meanwhile = await request("POST", "/slow", { key });
    expect(meanwhile.status).toBe(409);
    expect(meanwhile.headers.get("retry-after")).toBe("1");

    clock.now += 60_001;
    const takeover = await request("POST", "/slow", { key });
    expect(takeover.status).toBe(201);
    expect(await takeover.json()).toEqual({ call: 2 });

    gate.resolve();
    const late = await first;
    expect(late.status).toBe(201);
    expect(await late.json()).toEqual({ call: 1 });

    const replay = await request("POST", "/slow", { key });
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await replay.json()).toEqual({ call: 2 });
  });
});

describe("options", () => {
  it("are checked when the middleware is built", () => {
    expect(() => idempotency({ leaseMs: 0 })).toThrow(TypeError);
    expect(() => idempotency({ ttlMs: 1.5 })).toThrow(TypeError);
    expect(() => idempotency({ maxBodyBytes: -1 })).toThrow(TypeError);
  });
});
