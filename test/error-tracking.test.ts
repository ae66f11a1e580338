/**
 * Error tracking (SENTRY_DSN): unexpected errors of HTTP, queue and cron reach Sentry as
 * envelopes, captured here at the fetch boundary, with the request id, route, user id,
 * release and environment, and scrubbed of everything secret; 4xx answers and a Worker
 * without a DSN send nothing.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Bindings } from "../src/env";
import { reportError, scrubEvent, trackDurableObject, withErrorTracking } from "../src/lib/error-tracking";
import { runScheduled } from "../src/scheduled";
import { runQueueBatch } from "./support/background";
import { person } from "./support/factories";
import { apiWith } from "./support/http";

// A fixture, not a real project: every request to it is answered by the fake below.
const DSN = "https://0123456789abcdef@o4507.ingest.sentry.example/4508";

type Envelope = { url: string; items: Array<Record<string, unknown>>; raw: string };

/** Sentry's ingest endpoint at the fetch boundary: records each envelope, answers 200. */
function fakeSentry() {
  const envelopes: Envelope[] = [];
  const real = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    if (!request.url.startsWith("https://o4507.ingest.sentry.example/")) return real(input, init);
    const raw = await request.text();
    const items = raw
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    envelopes.push({ url: request.url, items, raw });
    return new Response("{}", { status: 200 });
  });
  /** The error events sent so far. */
  const events = () =>
    envelopes.flatMap((envelope) => envelope.items.filter((item) => "exception" in item)) as Array<{
      exception: { values: Array<{ type: string; value: string }> };
      tags?: Record<string, string>;
      user?: Record<string, unknown>;
      request?: { url?: string; headers?: Record<string, string>; data?: unknown };
      environment?: string;
      release?: string;
    }>;
  return { envelopes, events };
}

/** A D1 binding that fails every statement, the way an outage looks to the code. */
const brokenDb = {
  prepare() {
    throw new Error("D1_ERROR: the database is unavailable");
  },
  batch() {
    throw new Error("D1_ERROR: the database is unavailable");
  },
  exec() {
    throw new Error("D1_ERROR: the database is unavailable");
  },
  // Opening a session does no I/O (a real binding's withSession() never fails): its queries do.
  withSession() {
    return this;
  },
  getBookmark() {
    return null;
  },
} as unknown as D1Database;

afterEach(() => vi.restoreAllMocks());

describe("HTTP", () => {
  it("an unexpected 500 is sent, tagged and scrubbed", async () => {
    const sentry = fakeSentry();
    vi.spyOn(console, "error").mockImplementation(() => {});
    const ada = await person();
    const res = await apiWith(
      { SENTRY_DSN: DSN, SENTRY_RELEASE: "abc123", DB: brokenDb },
      "GET",
      "/api/v1/users/me?token=leaky",
      {
        token: ada.token,
        headers: {
          cookie: "session=s3cret",
          "x-api-key": "sk_test_leaky",
          "x-request-id": "req-sentry-0001",
        },
      },
    );
    expect(res.status).toBe(500);
    const [event] = sentry.events();
    expect(event?.exception.values[0]?.value).toContain("the database is unavailable");
    expect(event?.tags).toMatchObject({ request_id: "req-sentry-0001", route: "/api/v1/users/me" });
    expect(event?.user).toEqual({ id: ada.user.id });
    expect(event).toMatchObject({ environment: "test", release: "abc123" });
    expect(event?.request?.url).toBe("http://localhost/api/v1/users/me");
    const raw = sentry.envelopes.map((envelope) => envelope.raw).join("\n");
    for (const secret of [ada.token, "s3cret", "sk_test_leaky", "leaky", ada.email]) {
      expect(raw).not.toContain(secret);
    }
  });

  it("a password in the body never leaves", async () => {
    const sentry = fakeSentry();
    vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await apiWith({ SENTRY_DSN: DSN, DB: brokenDb }, "POST", "/api/v1/auth/login", {
      body: { email: "ada@example.com", password: "hunter2-correct-horse" },
    });
    expect(res.status).toBe(500);
    expect(sentry.events()).toHaveLength(1);
    const raw = sentry.envelopes.map((envelope) => envelope.raw).join("\n");
    expect(raw).not.toContain("hunter2");
    expect(raw).not.toContain("ada@example.com");
  });

  it("4xx answers send nothing, and nothing is sent without a DSN", async () => {
    const sentry = fakeSentry();
    vi.spyOn(console, "error").mockImplementation(() => {});
    expect((await apiWith({ SENTRY_DSN: DSN }, "GET", "/api/v1/users/me")).status).toBe(401);
    expect(
      (await apiWith({ SENTRY_DSN: DSN }, "POST", "/api/v1/auth/login", { body: { email: 1 } })).status,
    ).toBe(400);
    expect(
      (await apiWith({ DB: brokenDb }, "GET", "/api/v1/users/me", { token: (await person()).token })).status,
    ).toBe(500);
    expect(sentry.envelopes).toEqual([]);
  });
});

describe("queues and cron", () => {
  it("a queue message failing on its last attempt is sent with its type; earlier attempts are not", async () => {
    const sentry = fakeSentry();
    vi.spyOn(console, "error").mockImplementation(() => {});
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const bindings = { ...env, SENTRY_DSN: DSN, DB: brokenDb } as Bindings;
    const message = { type: "task.run", task_id: "0190c6c5-1a2b-7c3d-8e4f-5a6b7c8d9e0f" };
    await runQueueBatch("edge-api-jobs", [{ id: "m-1", body: message, attempts: 1 }], bindings);
    expect(sentry.events()).toEqual([]);
    await runQueueBatch("edge-api-jobs", [{ id: "m-4", body: message, attempts: 4 }], bindings);
    const [event] = sentry.events();
    expect(event?.tags).toMatchObject({ queue: "edge-api-jobs", message_type: "task.run", attempts: 4 });
  });

  it("a failing cron job is sent with its name; the other jobs still run", async () => {
    const sentry = fakeSentry();
    vi.spyOn(console, "error").mockImplementation(() => {});
    const ran: string[] = [];
    const jobs = [
      { name: "test.broken", everyMinutes: 1, run: async () => Promise.reject(new Error("the job broke")) },
      { name: "test.fine", everyMinutes: 1, run: async () => void ran.push("fine") },
    ];
    const handler = withErrorTracking({
      async scheduled(controller, bindings) {
        await runScheduled(controller, bindings, jobs);
      },
    });
    const ctx = createExecutionContext();
    await handler.scheduled?.(
      createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }),
      { ...env, SENTRY_DSN: DSN } as Bindings,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(ran).toEqual(["fine"]);
    const [event] = sentry.events();
    expect(event?.exception.values[0]?.value).toBe("the job broke");
    expect(event?.tags).toMatchObject({ cron_job: "test.broken" });
  });
});

describe("handlers and Durable Objects", () => {
  it("an error thrown out of a handler is sent and thrown again; two concurrent requests keep their own tags", async () => {
    const sentry = fakeSentry();
    const handler = withErrorTracking({
      async fetch(request) {
        const which = new URL(request.url).pathname;
        await new Promise((resolve) => setTimeout(resolve, which === "/a" ? 20 : 1));
        if (which === "/a") reportError(new Error("reported by a"), { requestId: "req-a" });
        if (which === "/b") throw new Error("thrown by b");
        return new Response("ok");
      },
    });
    const bindings = { ...env, SENTRY_DSN: DSN } as Bindings;
    const ctx = createExecutionContext();
    const [a, b] = await Promise.allSettled([
      handler.fetch(new Request("http://localhost/a"), bindings, ctx),
      handler.fetch(new Request("http://localhost/b?secret=1"), bindings, ctx),
    ]);
    await waitOnExecutionContext(ctx);
    expect(a.status).toBe("fulfilled");
    expect(b).toMatchObject({ status: "rejected", reason: { message: "thrown by b" } });
    const byMessage = new Map(sentry.events().map((event) => [event.exception.values[0]?.value, event]));
    expect(byMessage.get("reported by a")?.tags).toEqual({ request_id: "req-a" });
    expect(byMessage.get("reported by a")?.request?.url).toBe("http://localhost/a");
    expect(byMessage.get("thrown by b")?.tags ?? {}).toEqual({});
    expect(byMessage.get("thrown by b")?.request?.url).toBe("http://localhost/b");
  });

  it("a Durable Object's failing method is sent; its synchronous methods stay synchronous", async () => {
    const sentry = fakeSentry();
    class Counter {
      count = 0;
      // A Durable Object's signature; kept as the runtime hands them.
      constructor(
        readonly state: DurableObjectState,
        readonly env: Bindings,
      ) {}
      increment(): number {
        this.count += 1;
        return this.count;
      }
      async alarm(): Promise<void> {
        this.increment();
        throw new Error("the alarm broke");
      }
    }
    const Tracked = trackDurableObject(Counter);
    const waits: Promise<unknown>[] = [];
    const state = {
      waitUntil: (promise: Promise<unknown>) => waits.push(promise),
    } as unknown as DurableObjectState;
    const tracked = new Tracked(state, { ...env, SENTRY_DSN: DSN } as Bindings);
    expect(tracked).toBeInstanceOf(Counter);
    expect(tracked.increment()).toBe(1);
    await expect(tracked.alarm()).rejects.toThrow("the alarm broke");
    await Promise.all(waits);
    expect(tracked.count).toBe(2);
    expect(sentry.events().map((event) => event.exception.values[0]?.value)).toEqual(["the alarm broke"]);

    // Without a DSN the same class sends nothing.
    const plain = new Tracked(state, { ...env } as Bindings);
    await expect(plain.alarm()).rejects.toThrow("the alarm broke");
    expect(sentry.events()).toHaveLength(1);
  });
});

describe("scrubEvent", () => {
  it("keeps a short header allowlist, the user id, and no secret-named field", () => {
    const event = scrubEvent({
      type: undefined,
      request: {
        url: "https://api.example.com/api/v1/auth/oauth/google/callback?code=abc&state=xyz",
        method: "GET",
        headers: { authorization: "Bearer t", cookie: "c", "user-agent": "Firefox", "x-refresh-token": "r" },
        cookies: { session: "c" },
        data: '{"password":"p"}',
        query_string: "code=abc",
      },
      user: { id: "u-1", email: "ada@example.com", ip_address: "203.0.113.7" },
      extra: { api_key: "k", nested: { refresh_token: "r", fine: 1 } },
      breadcrumbs: [{ category: "fetch", data: { url: "https://x.example/cb?code=1", method: "GET" } }],
    });
    expect(event.request).toEqual({
      method: "GET",
      url: "https://api.example.com/api/v1/auth/oauth/google/callback",
      headers: { "user-agent": "Firefox" },
    });
    expect(event.user).toEqual({ id: "u-1" });
    expect(event.extra).toEqual({ api_key: "[redacted]", nested: { refresh_token: "[redacted]", fine: 1 } });
    expect(event.breadcrumbs?.[0]?.data).toEqual({ url: "https://x.example/cb", method: "GET" });
  });
});
