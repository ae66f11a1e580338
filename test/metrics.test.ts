/**
 * GET /metrics after traffic of a known shape: every scrape is parsed by the strict
 * text-format parser (test/support/prometheus.ts), and the counts moved by exactly
 * what was sent. Also: METRICS_TOKEN, batching (no Durable Object call per request),
 * task runs, emails, queue message outcomes, webhook events and the collector's
 * cardinality bound.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type SendEmailInput, sendEmail } from "../src/email/send-email";
import type { Bindings } from "../src/env";
import { maxRetriesFor } from "../src/jobs/consumer";
import { EXPOSITION_CONTENT_TYPE } from "../src/modules/metrics/metrics.exposition";
import {
  bufferedObservations,
  countWebhookEvent,
  FLUSH_AFTER_MS,
  FLUSH_AFTER_OBSERVATIONS,
  flushDue,
  flushMetrics,
  metricsClock,
  metricsSink,
} from "../src/modules/metrics/metrics.recorder";
import { MAX_SERIES_PER_METRIC, OVERFLOW_LABEL_VALUE } from "../src/modules/metrics/metrics.registry";
import { runQueueBatch } from "./support/background";
import { createUser, signIn } from "./support/factories";
import { api, apiWith } from "./support/http";
import { consume, EMAIL_QUEUE } from "./support/mailbox";
import {
  type Family,
  histogramSeries,
  type Labels,
  parsePrometheusText,
  sampleValue,
} from "./support/prometheus";
import { deliver, holdJobsQueue, JOBS_QUEUE, taskClient } from "./support/tasks";

vi.setConfig({ testTimeout: 20_000 });
afterEach(() => vi.restoreAllMocks());

async function scrape(): Promise<Map<string, Family>> {
  const res = await api("GET", "/metrics");
  const text = await res.text();
  expect(res.status, text.slice(0, 300)).toBe(200);
  expect(res.headers.get("content-type")).toBe(EXPOSITION_CONTENT_TYPE);
  return parsePrometheusText(text);
}

/** How much a sample moved between two scrapes (a series that did not exist counts as 0). */
const moved = (before: Map<string, Family>, after: Map<string, Family>, name: string, labels: Labels = {}) =>
  (sampleValue(after, name, labels) ?? 0) - (sampleValue(before, name, labels) ?? 0);

describe("requests", () => {
  it("counts known traffic exactly, by method, route pattern and status class, with latency histograms", async () => {
    const { user } = await createUser();
    const token = (await signIn(user)).accessToken;
    const someoneElse = crypto.randomUUID();
    const before = await scrape();

    for (let i = 0; i < 3; i++) expect((await api("GET", "/health/live")).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await api("GET", `/api/v1/users/${someoneElse}`)).status).toBe(401);
    expect((await api("GET", `/api/v1/users/${someoneElse}`, { token })).status).toBe(403);
    expect((await api("GET", `/api/v1/users/${user.id}`, { token })).status).toBe(200);
    // Also fits /api/v1/users/:id, registered after it: counted under its own pattern all the same.
    for (let i = 0; i < 2; i++) expect((await api("GET", "/api/v1/users/me", { token })).status).toBe(200);
    expect((await api("GET", "/api/v1/users/me/sessions", { token })).status).toBe(200);
    expect((await api("GET", "/definitely/not/here")).status).toBe(404);
    expect((await api("POST", "/api/v1/pre-registrations", { body: { nope: 1 } })).status).toBe(400);
    expect((await api("PROPFIND", "/health/live")).status).toBeGreaterThanOrEqual(400);

    const after = await scrape();
    const requests = (labels: Labels) => moved(before, after, "http_requests_total", labels);
    expect(requests({ method: "GET", route: "/health/live", status_class: "2xx" })).toBe(3);
    expect(requests({ method: "GET", route: "/api/v1/users/:id", status_class: "4xx" })).toBe(3);
    expect(requests({ method: "GET", route: "/api/v1/users/:id", status_class: "2xx" })).toBe(1);
    expect(requests({ method: "GET", route: "/api/v1/users/me", status_class: "2xx" })).toBe(2);
    expect(requests({ method: "GET", route: "/api/v1/users/me/sessions", status_class: "2xx" })).toBe(1);
    expect(requests({ method: "GET", route: "(unmatched)", status_class: "4xx" })).toBe(1);
    expect(requests({ method: "POST", route: "/api/v1/pre-registrations", status_class: "4xx" })).toBe(1);
    expect(requests({ method: "OTHER", route: "(unmatched)", status_class: "4xx" })).toBe(1);
    const total = (families: Map<string, Family>) =>
      (families.get("http_requests_total")?.samples ?? []).reduce((sum, sample) => sum + sample.value, 0);
    expect(total(after) - total(before)).toBe(13);

    const latencyBefore = histogramSeries(before, "http_request_duration_seconds", {
      method: "GET",
      route: "/health/live",
    });
    const latency = histogramSeries(after, "http_request_duration_seconds", {
      method: "GET",
      route: "/health/live",
    });
    expect(latency).toBeDefined();
    expect((latency?.count ?? 0) - (latencyBefore?.count ?? 0)).toBe(3);
    expect((latency?.buckets.get("+Inf") ?? 0) - (latencyBefore?.buckets.get("+Inf") ?? 0)).toBe(3);
    // workerd's clock only moves across I/O, so a request that does none may well take "0 s".
    expect((latency?.sum ?? Number.NaN) - (latencyBefore?.sum ?? 0)).toBeGreaterThanOrEqual(0);
    expect([...(latency?.buckets.keys() ?? [])]).toEqual([
      "0.005",
      "0.01",
      "0.025",
      "0.05",
      "0.1",
      "0.25",
      "0.5",
      "1",
      "2.5",
      "5",
      "10",
      "+Inf",
    ]);

    // Label values are route patterns, never paths or ids; scrapes are not counted.
    const routes = new Set(after.get("http_requests_total")?.samples.map((sample) => sample.labels.route));
    expect([...routes].some((route) => route?.includes(someoneElse) || route?.includes(user.id))).toBe(false);
    expect(routes.has("/definitely/not/here")).toBe(false);
    expect(routes.has("/metrics")).toBe(false);
  });

  it("declares every family with HELP and TYPE, and reads tasks by status from D1", async () => {
    const families = await scrape();
    for (const [name, type] of [
      ["http_requests_total", "counter"],
      ["http_request_duration_seconds", "histogram"],
      ["task_runs_total", "counter"],
      ["emails_sent_total", "counter"],
      ["emails_failed_total", "counter"],
      ["webhook_events_total", "counter"],
      ["webhook_deliveries_total", "counter"],
      ["queue_messages_total", "counter"],
      ["tasks_in_status", "gauge"],
    ] as const) {
      expect(families.get(name), name).toMatchObject({ type });
      expect(families.get(name)?.help, name).toBeTruthy();
    }
    for (const status of ["PENDING", "STARTED", "SUCCESS", "FAILURE", "RETRY", "REVOKED"]) {
      expect(sampleValue(families, "tasks_in_status", { status }), status).toBeTypeOf("number");
    }
  });
});

describe("METRICS_TOKEN", () => {
  const TOKEN = "metrics-0f9e8d7c6b5a";
  const withToken = { ...env, METRICS_TOKEN: TOKEN } as Bindings;
  const scrapeWith = (headers: Record<string, string>, bindings: Bindings = withToken) =>
    apiWith(bindings, "GET", "/metrics", { headers });

  it("is required as a Bearer token when set, compared exactly", async () => {
    const missing = await scrapeWith({});
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toMatch(/^Bearer /);
    expect(((await missing.json()) as { code: string }).code).toBe("unauthorized");
    for (const wrong of [`${TOKEN}x`, TOKEN.slice(0, -1), TOKEN.toUpperCase(), "Bearer"]) {
      const res = await scrapeWith({ authorization: `Bearer ${wrong}` });
      expect(res.status, wrong).toBe(401);
      expect(((await res.json()) as { code: string }).code, wrong).toBe("invalid_token");
    }
    expect((await scrapeWith({ authorization: `Basic ${btoa(`x:${TOKEN}`)}` })).status).toBe(401);
    const ok = await scrapeWith({ authorization: `Bearer ${TOKEN}` });
    expect(ok.status).toBe(200);
    parsePrometheusText(await ok.text());
    expect((await scrapeWith({ authorization: `bearer ${TOKEN}` })).status).toBe(200);
  });

  it("is not asked for when the secret is not set", async () => {
    expect((await scrapeWith({}, env)).status).toBe(200);
  });
});

describe("batching", () => {
  it("sends one batch per FLUSH_AFTER_MS from requests, never one Durable Object call per request", async () => {
    await flushMetrics(env);
    let now = Date.now();
    vi.spyOn(metricsClock, "now").mockImplementation(() => now);
    const send = vi.spyOn(metricsSink, "send");
    for (let i = 0; i < 5; i++) await api("GET", "/health/live");
    now += FLUSH_AFTER_MS - 1;
    await api("GET", "/health/live");
    expect(send).not.toHaveBeenCalled();
    expect(bufferedObservations()).toBeGreaterThan(0);

    now += 1;
    await api("GET", "/health/live"); // the batch is due: handed to waitUntil after this response
    await vi.waitFor(() => expect(send).toHaveBeenCalledTimes(1));
    const batch = send.mock.calls[0]?.[1];
    expect(batch?.counters).toContainEqual({
      name: "http_requests_total",
      labels: ["GET", "/health/live", "2xx"],
      value: 7,
    });
    expect(batch?.histograms.find((h) => h.name === "http_request_duration_seconds")?.count).toBe(7);
    expect(bufferedObservations()).toBe(0);
  });

  it("is due at FLUSH_AFTER_OBSERVATIONS observations whatever their age", async () => {
    await flushMetrics(env);
    vi.spyOn(metricsClock, "now").mockReturnValue(Date.now());
    for (let i = 0; i < FLUSH_AFTER_OBSERVATIONS - 1; i++) countWebhookEvent("invoice.paid");
    expect(flushDue()).toBe(false);
    countWebhookEvent("invoice.paid");
    expect(flushDue()).toBe(true);
    await flushMetrics(env);
    expect(flushDue()).toBe(false);
  });

  it("keeps a batch whose send failed and sends it with the next one", async () => {
    await flushMetrics(env);
    const before = await scrape();
    const send = vi.spyOn(metricsSink, "send").mockRejectedValueOnce(new Error("collector overloaded"));
    countWebhookEvent("customer.created");
    countWebhookEvent("customer.created");
    await flushMetrics(env);
    expect(send).toHaveBeenCalledTimes(1);
    expect(bufferedObservations()).toBe(2);
    countWebhookEvent("customer.created");
    const after = await scrape();
    expect(
      moved(before, after, "webhook_events_total", {
        provider: "stripe",
        type: "customer.created",
        outcome: "processed",
      }),
    ).toBe(3);
  });

  it("drops a batch the collector refuses (sending it again could not succeed)", async () => {
    await flushMetrics(env);
    vi.spyOn(console, "error").mockImplementation(() => {});
    vi.spyOn(metricsSink, "send").mockResolvedValueOnce({ accepted: false, error: "unknown counter" });
    countWebhookEvent("customer.deleted");
    await flushMetrics(env);
    expect(bufferedObservations()).toBe(0);
  });
});

describe("background work", () => {
  it("counts task runs by type and outcome, and tasks_in_status follows D1", async () => {
    const queue = holdJobsQueue();
    const client = taskClient((await signIn((await createUser()).user)).accessToken);
    const before = await scrape();
    const task = await client.create({ type: "add", payload: { x: 20, y: 22 } });
    expect(queue.forTask(task.id)).toHaveLength(1);
    const mid = await scrape();
    expect(moved(before, mid, "tasks_in_status", { status: "PENDING" })).toBe(1);
    expect((await deliver(task.id)).acked).toBe(true);
    const after = await scrape();
    expect(moved(before, after, "task_runs_total", { type: "add", status: "SUCCESS" })).toBe(1);
    expect(moved(mid, after, "tasks_in_status", { status: "PENDING" })).toBe(-1);
    expect(moved(mid, after, "tasks_in_status", { status: "SUCCESS" })).toBe(1);
  });

  it("counts emails sent and failed, from the delivery events", async () => {
    const input: SendEmailInput = {
      template: "welcome",
      to: "metrics@example.com",
      data: { name: "Ada" },
    };
    vi.spyOn(console, "log").mockImplementation(() => {}); // the console provider prints each email
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const send = vi.spyOn(env.EMAIL_QUEUE, "send").mockResolvedValue({
      metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } },
    });
    await sendEmail(env, input);
    const body = send.mock.calls[0]?.[0];
    const before = await scrape();
    await consume(body);
    vi.spyOn(globalThis, "fetch").mockResolvedValue(
      Response.json({ statusCode: 500, name: "application_error", message: "down" }, { status: 500 }),
    );
    const failed = await consume(body, {
      env: { ...env, EMAIL_PROVIDER: "resend", RESEND_API_KEY: "re_test_123" } as Bindings,
    });
    expect(failed.result.retryMessages).toHaveLength(1);
    const after = await scrape();
    expect(moved(before, after, "emails_sent_total", { template: "welcome", provider: "console" })).toBe(1);
    expect(moved(before, after, "emails_failed_total", { template: "welcome", final: "false" })).toBe(1);
  });

  it("counts queue messages by queue and outcome: ack, retry, dead_letter", async () => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    vi.spyOn(console, "warn").mockImplementation(() => {});
    vi.spyOn(console, "error").mockImplementation(() => {});
    const ping = { type: "health.ping", sent_at: new Date().toISOString(), request_id: "metrics-ping" };
    const email: SendEmailInput = { template: "welcome", to: "queues@example.com", data: { name: "Ada" } };
    const send = vi.spyOn(env.EMAIL_QUEUE, "send").mockResolvedValue({
      metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } },
    });
    await sendEmail(env, email);
    const emailBody = send.mock.calls[0]?.[0];
    const before = await scrape();

    await runQueueBatch(JOBS_QUEUE, [
      { id: "q-ping", body: ping },
      { id: "q-malformed", body: { type: "no.such.type" } }, // dropped: acked, never retried
    ]);
    vi.spyOn(globalThis, "fetch").mockResolvedValue(
      Response.json({ statusCode: 500, name: "application_error", message: "down" }, { status: 500 }),
    );
    const resend = { ...env, EMAIL_PROVIDER: "resend", RESEND_API_KEY: "re_test_123" } as Bindings;
    const lastAttempt = maxRetriesFor(EMAIL_QUEUE) + 1;
    const retried = await consume(emailBody, { env: resend, attempts: 1 });
    const deadLettered = await consume(emailBody, { env: resend, attempts: lastAttempt });
    expect([retried.retried, deadLettered.retried]).toEqual([true, true]);
    // Dead letters are consumed (logged and acked) from the dead-letter queue, in any environment.
    await runQueueBatch(`${EMAIL_QUEUE}-dlq-production`, [{ id: "q-dead", body: emailBody }]);

    const after = await scrape();
    const messages = (queue: string, outcome: string) =>
      moved(before, after, "queue_messages_total", { queue, outcome });
    expect(messages(JOBS_QUEUE, "ack")).toBe(2);
    expect(messages(EMAIL_QUEUE, "retry")).toBe(1);
    expect(messages(EMAIL_QUEUE, "dead_letter")).toBe(1);
    expect(messages(`${EMAIL_QUEUE}-dlq`, "ack")).toBe(1);
    const total = (families: Map<string, Family>) =>
      (families.get("queue_messages_total")?.samples ?? []).reduce((sum, sample) => sum + sample.value, 0);
    expect(total(after) - total(before)).toBe(5);
  });

  it("keeps the queue label to the configured queues, whatever name a batch arrives with", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const before = await scrape();
    const ping = { type: "health.ping", sent_at: new Date().toISOString(), request_id: "metrics-ping" };
    for (const name of ["surprise-queue", `${JOBS_QUEUE}-canary`, `x${"q".repeat(300)}`, 'a"b\\c']) {
      await runQueueBatch(name, [{ id: `q-${name.length}`, body: ping }]);
    }
    const after = await scrape();
    expect(moved(before, after, "queue_messages_total", { queue: "other", outcome: "ack" })).toBe(4);
    const queues = new Set(after.get("queue_messages_total")?.samples.map((sample) => sample.labels.queue));
    expect([...queues].filter((queue) => queue?.includes("surprise") || queue?.includes("canary"))).toEqual(
      [],
    );
  });

  it("counts webhook events through countWebhookEvent, with event types bounded", async () => {
    const before = await scrape();
    countWebhookEvent("invoice.paid");
    countWebhookEvent("invoice.paid");
    countWebhookEvent("invoice.paid", "duplicate");
    countWebhookEvent("Robert'); DROP TABLE--");
    countWebhookEvent("x".repeat(500));
    const after = await scrape();
    const webhook = (type: string, outcome = "processed") =>
      moved(before, after, "webhook_events_total", { provider: "stripe", type, outcome });
    expect(webhook("invoice.paid")).toBe(2);
    expect(webhook("invoice.paid", "duplicate")).toBe(1);
    expect(webhook("_invalid")).toBe(2);
  });
});

describe("the collector", () => {
  /** A collector of its own, so its series do not show up in this file's /metrics. */
  const collector = () => env.METRICS.get(env.METRICS.idFromName(`test-${crypto.randomUUID()}`));

  it(`keeps at most ${MAX_SERIES_PER_METRIC} label sets per metric, folding the rest into one _overflow series`, async () => {
    const stub = collector();
    const counters = Array.from({ length: MAX_SERIES_PER_METRIC + 5 }, (_, i) => ({
      name: "webhook_events_total" as const,
      labels: ["stripe", `type_${i}`, "processed"],
      value: 1,
    }));
    expect(await stub.ingest({ counters, histograms: [] })).toMatchObject({ accepted: true });
    expect(await stub.ingest({ counters: counters.slice(-2), histograms: [] })).toMatchObject({
      accepted: true,
    });
    const family = (await stub.families()).find((f) => f.name === "webhook_events_total");
    expect(family?.series).toHaveLength(MAX_SERIES_PER_METRIC + 1);
    const overflow = family?.series.find((series) => series.labels.type === OVERFLOW_LABEL_VALUE);
    expect(overflow && "value" in overflow ? overflow.value : null).toBe(7);
  });

  it("refuses batches that do not fit the registry, applying none of them", async () => {
    const stub = collector();
    const good = { name: "webhook_events_total", labels: ["stripe", "invoice.paid", "processed"], value: 1 };
    const bad = [
      { counters: [good, { name: "made_up_total", labels: [], value: 1 }], histograms: [] },
      { counters: [good, { ...good, labels: ["stripe"] }], histograms: [] },
      { counters: [good, { ...good, value: -1 }], histograms: [] },
      {
        counters: [good],
        histograms: [
          { name: "http_request_duration_seconds", labels: ["GET", "/"], buckets: [1], sum: 1, count: 1 },
        ],
      },
      {
        counters: [good],
        histograms: [
          {
            name: "http_request_duration_seconds",
            labels: ["GET", "/"],
            buckets: new Array(12).fill(0),
            sum: 1,
            count: 1,
          },
        ],
      },
    ];
    for (const batch of bad) expect(await stub.ingest(batch)).toMatchObject({ accepted: false });
    const family = (await stub.families()).find((f) => f.name === "webhook_events_total");
    expect(family?.series).toEqual([]);
  });
});
