/**
 * Delivering webhooks, with the receiver faked at the `fetch` boundary and the queue
 * held: signatures the `standardwebhooks` verifier accepts, the same webhook-id on every
 * retry, the contract's retry schedule (clock moved, queue delays checked within the
 * jitter), timeouts, 410s and redirects, `failed` after the schedule, the 5-day rule
 * with its notification and email, secret rotation, manual retries, who sees the
 * receiver's answer, SSRF at delivery time and the delivery metric (each attempt
 * counted once, by outcome).
 */
import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { auditLogs, notifications, type Organization, webhookDeliveries } from "../src/db/schema";
import type { Bindings } from "../src/env";
import {
  DELIVERY_TIMEOUT_MS,
  MAX_ATTEMPTS,
  RETRY_DELAYS_MS,
} from "../src/modules/webhooks/delivery-schedule";
import { RESPONSE_BODY_LIMIT } from "../src/modules/webhooks/webhook-delivery.job";
import { runQueueBatch } from "./support/background";
import { createUser, type Person, person, signIn } from "./support/factories";
import { api, jsonOf, problemOf } from "./support/http";
import { watchMailbox } from "./support/mailbox";
import { addMember, apiKeyHeaders, createApiKey, createOrg } from "./support/orgs";
import { type Family, parsePrometheusText, sampleValue } from "./support/prometheus";
import { type HeldMessage, holdJobsQueue, JOBS_QUEUE } from "./support/tasks";
import {
  deliverMessages,
  deliveryRow,
  type EndpointWithSecret,
  endpointRow,
  fakeReceiver,
  hang,
  RECEIVER_URL,
  reply,
  runWebhookJobs,
  webhooksClient,
} from "./support/webhooks";

vi.setConfig({ testTimeout: 30_000 });

const SECOND = 1_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let owner: Person;
let org: Organization;
let queue: ReturnType<typeof holdJobsQueue>;

beforeAll(async () => {
  owner = await person({ firstName: "Olga" });
  org = await createOrg(owner.user, { name: "Receivers Inc" });
});

beforeEach(() => {
  queue = holdJobsQueue();
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

/** A client for `org` signed in at the current (possibly faked) time. */
async function ownerNow(organization: Organization = org, who: Person = owner) {
  return webhooksClient((await signIn(who.user)).accessToken, organization.id);
}

async function newEndpoint(body: Record<string, unknown> = {}): Promise<EndpointWithSecret> {
  return (await ownerNow()).create({ url: RECEIVER_URL, event_types: ["*"], ...body });
}

function pinClock(at = Date.now()) {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(at);
  return at;
}

const heldDeliveries = (held: HeldMessage[]) => deliverMessages(held);

/** Ends a delivery `failed`, as the schedule would after its 8th attempt. */
const giveUp = (id: string) =>
  getDb(env)
    .update(webhookDeliveries)
    .set({ status: "failed", nextAttemptAt: null, enqueuedAt: null })
    .where(eq(webhookDeliveries.id, id));

describe("a delivery", () => {
  it("is signed so that the standardwebhooks verifier accepts it, and logged", async () => {
    const endpoint = await newEndpoint();
    const receiver = fakeReceiver(reply(200, "thanks"));
    const delivery = await (await ownerNow()).test(endpoint.id);
    // The API answered without waiting on the receiver: nothing was sent yet.
    expect(receiver.requests).toHaveLength(0);
    expect(delivery).toMatchObject({ status: "pending", attempts: 0, event_type: "webhook.test" });

    await runWebhookJobs(queue.held);
    expect(receiver.requests).toHaveLength(1);
    const [request] = receiver.requests;
    if (!request) throw new Error("no request");
    expect(request.url).toBe(RECEIVER_URL);
    expect(request.headers["content-type"]).toBe("application/json");
    expect(request.headers["webhook-id"]).toBe(delivery.event_id);
    expect(Number(request.headers["webhook-timestamp"])).toBeCloseTo(Date.now() / 1000, -1);
    expect(request.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);

    const verified = new Webhook(endpoint.secret).verify(request.body, request.headers);
    expect(verified).toMatchObject({
      type: "webhook.test",
      data: { organization_id: org.id, endpoint_id: endpoint.id },
    });
    expect(JSON.parse(request.body)).toEqual(verified);
    expect(Object.keys(verified as object)).toEqual(["type", "timestamp", "data"]);
    // Someone else's secret, or a body changed on the way, does not verify.
    const other = await newEndpoint();
    expect(() => new Webhook(other.secret).verify(request.body, request.headers)).toThrow();
    expect(() => new Webhook(endpoint.secret).verify(`${request.body} `, request.headers)).toThrow();
    // Redirects are never followed.
    expect(receiver.init(0)?.redirect).toBe("manual");

    const detail = await (await ownerNow()).delivery(endpoint.id, delivery.id);
    expect(detail).toMatchObject({
      status: "succeeded",
      attempts: 1,
      response_status: 200,
      response_body: "thanks",
      error: null,
      next_attempt_at: null,
    });
    expect(detail.request_body).toBe(request.body);
    expect(detail.response_ms).toBeGreaterThanOrEqual(0);
  });

  it("500 → retried after about 5 s with the same webhook-id → succeeded", async () => {
    const endpoint = await newEndpoint();
    const start = pinClock();
    vi.spyOn(Math, "random").mockReturnValue(0.5); // the middle of the jitter: exactly the schedule
    const receiver = fakeReceiver(reply(500, "boom"), reply(204));
    const delivery = await (await ownerNow()).test(endpoint.id);

    await runWebhookJobs(queue.held);
    const failed = await deliveryRow(delivery.id);
    expect(failed).toMatchObject({
      status: "retrying",
      attempts: 1,
      responseStatus: 500,
      responseBody: "boom",
    });
    expect(failed?.nextAttemptAt?.getTime()).toBe(start + 5 * SECOND);
    expect(heldDeliveries(queue.held).map((message) => message.delaySeconds)).toEqual([5]);

    // The retry message early (a clock that disagrees by more than the tolerance) does nothing.
    const early = [...queue.held];
    await runWebhookJobs(queue.held);
    expect(receiver.requests).toHaveLength(1);
    queue.held.push(...early);

    vi.setSystemTime(start + 5 * SECOND);
    await runWebhookJobs(queue.held);
    expect(receiver.requests).toHaveLength(2);
    const ids = receiver.requests.map((request) => request.headers["webhook-id"]);
    expect(ids).toEqual([delivery.event_id, delivery.event_id]);
    expect(receiver.requests[1]?.body).toBe(receiver.requests[0]?.body);
    // Each attempt is signed at its own time, and verifies then.
    expect(() =>
      new Webhook(endpoint.secret).verify(
        receiver.requests[1]?.body ?? "",
        receiver.requests[1]?.headers ?? {},
      ),
    ).not.toThrow();
    expect(await deliveryRow(delivery.id)).toMatchObject({
      status: "succeeded",
      attempts: 2,
      responseStatus: 204,
      nextAttemptAt: null,
    });
    expect(heldDeliveries(queue.held)).toHaveLength(0);
    // A success clears the endpoint's failure streak.
    expect((await endpointRow(endpoint.id))?.failingSince).toBeNull();
  });

  it("follows the contract's schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) with ±10% jitter, then fails", async () => {
    expect(RETRY_DELAYS_MS).toEqual([
      5 * SECOND,
      5 * 60 * SECOND,
      30 * 60 * SECOND,
      2 * HOUR,
      5 * HOUR,
      10 * HOUR,
      10 * HOUR,
    ]);
    expect(MAX_ATTEMPTS).toBe(8);
    const endpoint = await newEndpoint();
    let now = pinClock();
    const receiver = fakeReceiver(reply(503, "down"));
    const delivery = await (await ownerNow()).test(endpoint.id);

    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      await runWebhookJobs(queue.held);
      const row = await deliveryRow(delivery.id);
      expect(row?.attempts).toBe(attempt);
      expect(receiver.requests).toHaveLength(attempt);
      const base = RETRY_DELAYS_MS[attempt - 1];
      if (base === undefined) break;
      expect(row?.status).toBe("retrying");
      const gap = (row?.nextAttemptAt?.getTime() ?? 0) - now;
      expect(gap).toBeGreaterThanOrEqual(base * 0.9);
      expect(gap).toBeLessThanOrEqual(base * 1.1);
      const [retry] = heldDeliveries(queue.held);
      expect(retry?.delaySeconds).toBe(Math.ceil(gap / 1000));
      now = row?.nextAttemptAt?.getTime() ?? now;
      vi.setSystemTime(now);
    }
    const final = await deliveryRow(delivery.id);
    expect(final).toMatchObject({ status: "failed", attempts: 8, nextAttemptAt: null, responseStatus: 503 });
    expect(heldDeliveries(queue.held)).toHaveLength(0);
    expect(new Set(receiver.requests.map((request) => request.headers["webhook-id"]))).toEqual(
      new Set([delivery.event_id]),
    );
  });

  it("gives a receiver 15 s: one that never answers times out and is retried", async () => {
    const endpoint = await newEndpoint();
    const realTimeout = AbortSignal.timeout.bind(AbortSignal);
    const asked: number[] = [];
    // The real 15 s would make the test wait; the job's own signal fires after 20 ms instead.
    vi.spyOn(AbortSignal, "timeout").mockImplementation((ms) => {
      asked.push(ms);
      return realTimeout(20);
    });
    const receiver = fakeReceiver(hang);
    const delivery = await (await ownerNow()).test(endpoint.id);
    await runWebhookJobs(queue.held);
    expect(asked).toEqual([DELIVERY_TIMEOUT_MS]);
    expect(DELIVERY_TIMEOUT_MS).toBe(15_000);
    expect(receiver.requests).toHaveLength(1);
    expect(await deliveryRow(delivery.id)).toMatchObject({
      status: "retrying",
      attempts: 1,
      responseStatus: null,
      error: "timeout",
    });
    expect(heldDeliveries(queue.held)).toHaveLength(1);
  });

  it("retries a 410 like any other non-2xx (the contract), a network error too", async () => {
    const endpoint = await newEndpoint();
    fakeReceiver(reply(410, "gone"));
    const gone = await (await ownerNow()).test(endpoint.id);
    await runWebhookJobs(queue.held);
    expect(await deliveryRow(gone.id)).toMatchObject({
      status: "retrying",
      responseStatus: 410,
      error: null,
    });
    expect((await endpointRow(endpoint.id))?.enabled).toBe(true);

    vi.restoreAllMocks();
    queue = holdJobsQueue();
    vi.spyOn(globalThis, "fetch").mockRejectedValue(new TypeError("Network connection lost."));
    const lost = await (await ownerNow()).test(endpoint.id);
    await runWebhookJobs(queue.held);
    expect(await deliveryRow(lost.id)).toMatchObject({ status: "retrying", error: "network_error" });
  });

  it("treats a redirect as a failure and never follows it", async () => {
    const endpoint = await newEndpoint();
    const receiver = fakeReceiver(reply(302, "", { location: "http://169.254.169.254/latest/meta-data" }));
    const delivery = await (await ownerNow()).test(endpoint.id);
    await runWebhookJobs(queue.held);
    expect(receiver.requests.map((request) => request.url)).toEqual([RECEIVER_URL]);
    expect(await deliveryRow(delivery.id)).toMatchObject({
      status: "retrying",
      responseStatus: 302,
      error: "redirect",
    });
  });

  it("keeps only the first 4 KiB of the answer, shown to owners and admins but never to API keys", async () => {
    const endpoint = await newEndpoint();
    fakeReceiver(reply(500, `${"x".repeat(RESPONSE_BODY_LIMIT)}TAIL${"y".repeat(10_000)}`));
    const delivery = await (await ownerNow()).test(endpoint.id);
    await runWebhookJobs(queue.held);

    const seen = await (await ownerNow()).delivery(endpoint.id, delivery.id);
    expect(seen.response_body).toBe("x".repeat(RESPONSE_BODY_LIMIT));

    const admin = await person();
    await addMember(org, admin.user, "admin");
    const byAdmin = await webhooksClient(admin.token, org.id).delivery(endpoint.id, delivery.id);
    expect(byAdmin.response_body).toBe("x".repeat(RESPONSE_BODY_LIMIT));

    const key = await createApiKey(org, { scopes: ["webhooks:read"] });
    const res = await api(
      "GET",
      `/api/v1/orgs/${org.id}/webhook-endpoints/${endpoint.id}/deliveries/${delivery.id}`,
      {
        headers: apiKeyHeaders(key.secret),
      },
    );
    const byKey = await jsonOf<{
      response_body: string | null;
      response_status: number;
      request_body: string;
    }>(res, 200);
    expect(byKey.response_body).toBeNull();
    expect(byKey.response_status).toBe(500);
    expect(byKey.request_body).toBe(seen.request_body);
  });

  it("is re-checked against the SSRF rules when it is sent: a loopback URL is refused in production", async () => {
    const endpoint = await newEndpoint({ url: "http://127.0.0.1:9000/hooks" });
    const receiver = fakeReceiver(reply(200));
    const delivery = await (await ownerNow()).test(endpoint.id);
    const production = {
      ...env,
      ENVIRONMENT: "production",
      EMAIL_PROVIDER: "resend",
      RESEND_API_KEY: "re_placeholder",
    } as Bindings;
    const [message] = heldDeliveries(queue.held);
    await runQueueBatch(JOBS_QUEUE, [{ id: "ssrf-at-delivery", body: message?.body }], production);
    expect(receiver.requests).toHaveLength(0);
    expect(await deliveryRow(delivery.id)).toMatchObject({ status: "failed", error: "url_not_allowed" });
  });
});

describe("manual retry", () => {
  it("gives a failed delivery one more attempt now, with the same webhook-id", async () => {
    const endpoint = await newEndpoint();
    const receiver = fakeReceiver(reply(400, "bad"), reply(200, "ok"));
    const delivery = await (await ownerNow()).test(endpoint.id);
    await runWebhookJobs(queue.held);
    await giveUp(delivery.id);
    queue.held.splice(0);

    const client = await ownerNow();
    const res = await client.post(`${client.base}/${endpoint.id}/deliveries/${delivery.id}/retry`);
    const retried = await jsonOf<{ status: string; attempts: number }>(res, 202);
    expect(retried).toMatchObject({ status: "pending", attempts: 1 });
    expect(heldDeliveries(queue.held)).toHaveLength(1);
    await runWebhookJobs(queue.held);
    expect(receiver.requests.map((request) => request.headers["webhook-id"])).toEqual([
      delivery.event_id,
      delivery.event_id,
    ]);
    expect(await deliveryRow(delivery.id)).toMatchObject({ status: "succeeded", attempts: 2, manual: true });
  });

  it("a manual attempt that fails is final again (no schedule)", async () => {
    const endpoint = await newEndpoint();
    fakeReceiver(reply(500));
    const delivery = await (await ownerNow()).test(endpoint.id);
    await runWebhookJobs(queue.held);
    await giveUp(delivery.id);
    queue.held.splice(0);
    const client = await ownerNow();
    await jsonOf(await client.post(`${client.base}/${endpoint.id}/deliveries/${delivery.id}/retry`), 202);
    await runWebhookJobs(queue.held);
    expect(await deliveryRow(delivery.id)).toMatchObject({
      status: "failed",
      attempts: 2,
      nextAttemptAt: null,
    });
    expect(heldDeliveries(queue.held)).toHaveLength(0);
  });

  it("moves a retrying delivery's next attempt to now", async () => {
    const endpoint = await newEndpoint();
    const receiver = fakeReceiver(reply(503), reply(200));
    pinClock();
    const delivery = await (await ownerNow()).test(endpoint.id);
    await runWebhookJobs(queue.held);
    queue.held.splice(0); // the scheduled retry, 5 s ahead
    const client = await ownerNow();
    await jsonOf(await client.post(`${client.base}/${endpoint.id}/deliveries/${delivery.id}/retry`), 202);
    await runWebhookJobs(queue.held);
    expect(receiver.requests).toHaveLength(2);
    expect(await deliveryRow(delivery.id)).toMatchObject({ status: "succeeded", attempts: 2 });
  });

  it("is refused for a disabled endpoint (409), and 404 for a delivery of another endpoint", async () => {
    const endpoint = await newEndpoint();
    const other = await newEndpoint();
    fakeReceiver(reply(200));
    const delivery = await (await ownerNow()).test(endpoint.id);
    const client = await ownerNow();
    const misplaced = await client.post(`${client.base}/${other.id}/deliveries/${delivery.id}/retry`);
    expect((await problemOf(misplaced, 404)).code).toBe("not_found");
    await jsonOf(await client.patch(`${client.base}/${endpoint.id}`, { body: { enabled: false } }), 200);
    const refused = await client.post(`${client.base}/${endpoint.id}/deliveries/${delivery.id}/retry`);
    expect((await problemOf(refused, 409)).code).toBe("webhook_endpoint_disabled");
    expect((await problemOf(await client.post(`${client.base}/${endpoint.id}/test`), 409)).code).toBe(
      "webhook_endpoint_disabled",
    );
    // The delivery queued before it was turned off ends failed, without a request.
    const receiver = fakeReceiver(reply(200));
    await runWebhookJobs(queue.held);
    expect(receiver.requests).toHaveLength(0);
    expect(await deliveryRow(delivery.id)).toMatchObject({ status: "failed", error: "endpoint_disabled" });
  });
});

describe("webhook_deliveries_total", () => {
  /** An organization of its own: the shared one stays under its endpoint limit. */
  let metered: Organization;
  beforeAll(async () => {
    metered = await createOrg(owner.user, { name: "Metered Inc" });
  });
  const meteredClient = () => ownerNow(metered);
  const newMeteredEndpoint = async (body: Record<string, unknown> = {}) =>
    (await meteredClient()).create({ url: RECEIVER_URL, event_types: ["*"], ...body });
  const scrape = async () => parsePrometheusText(await (await api("GET", "/metrics")).text());
  const outcomes = ["succeeded", "retrying", "failed", "refused", "skipped"] as const;
  /** How far each outcome's series moved between two scrapes. */
  const movedBy = (before: Map<string, Family>, after: Map<string, Family>) =>
    Object.fromEntries(
      outcomes.map((outcome) => [
        outcome,
        (sampleValue(after, "webhook_deliveries_total", { outcome }) ?? 0) -
          (sampleValue(before, "webhook_deliveries_total", { outcome }) ?? 0),
      ]),
    );

  it("counts each attempt once, by what became of it", async () => {
    const before = await scrape();

    // retrying, then succeeded.
    const endpoint = await newMeteredEndpoint();
    fakeReceiver(reply(500), reply(200));
    const start = pinClock();
    await (await meteredClient()).test(endpoint.id);
    await runWebhookJobs(queue.held);
    vi.setSystemTime(start + 6 * SECOND);
    await runWebhookJobs(queue.held);
    vi.useRealTimers();

    // failed: a manual retry that fails has no schedule after it.
    const failing = await newMeteredEndpoint();
    fakeReceiver(reply(500));
    const delivery = await (await meteredClient()).test(failing.id);
    await runWebhookJobs(queue.held); // retrying
    await giveUp(delivery.id);
    queue.held.splice(0);
    const client = await meteredClient();
    await jsonOf(await client.post(`${client.base}/${failing.id}/deliveries/${delivery.id}/retry`), 202);
    await runWebhookJobs(queue.held); // failed

    // skipped: the endpoint was turned off while its delivery waited in the queue.
    const switchedOff = await newMeteredEndpoint();
    await client.test(switchedOff.id);
    await jsonOf(await client.patch(`${client.base}/${switchedOff.id}`, { body: { enabled: false } }), 200);
    await runWebhookJobs(queue.held);

    // refused: a loopback URL, sent from production.
    const loopback = await newMeteredEndpoint({ url: "http://127.0.0.1:9000/hooks" });
    await client.test(loopback.id);
    const production = {
      ...env,
      ENVIRONMENT: "production",
      EMAIL_PROVIDER: "resend",
      RESEND_API_KEY: "re_placeholder",
    } as Bindings;
    const [message] = heldDeliveries(queue.held);
    queue.held.splice(0);
    await runQueueBatch(JOBS_QUEUE, [{ id: "metric-refused", body: message?.body }], production);

    expect(movedBy(before, await scrape())).toEqual({
      succeeded: 1,
      retrying: 2,
      failed: 1,
      refused: 1,
      skipped: 1,
    });
  });

  it("does not count a message delivered twice, or one whose delivery is already finished", async () => {
    const endpoint = await newMeteredEndpoint();
    fakeReceiver(reply(200));
    await (await meteredClient()).test(endpoint.id);
    const [message] = heldDeliveries(queue.held);
    queue.held.splice(0);
    const before = await scrape();
    // The queue delivers at least once: the same message three times, two of them side by side.
    await Promise.all([
      runQueueBatch(JOBS_QUEUE, [{ id: "metric-dup-1", body: message?.body }]),
      runQueueBatch(JOBS_QUEUE, [{ id: "metric-dup-2", body: message?.body }]),
    ]);
    await runQueueBatch(JOBS_QUEUE, [{ id: "metric-dup-3", body: message?.body }]);
    expect(movedBy(before, await scrape())).toEqual({
      succeeded: 1,
      retrying: 0,
      failed: 0,
      refused: 0,
      skipped: 0,
    });
  });
});

describe("secret rotation", () => {
  it("signs with both secrets for 24 hours, then with the new one only", async () => {
    const endpoint = await newEndpoint();
    const start = pinClock();
    const client = await ownerNow();
    const res = await client.post(`${client.base}/${endpoint.id}/rotate-secret`);
    const rotated = await jsonOf<EndpointWithSecret & { previous_secret_expires_at: string }>(res, 200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(endpoint.secret);
    expect(Date.parse(rotated.previous_secret_expires_at)).toBe(start + DAY);

    const receiver = fakeReceiver(reply(200));
    await client.test(endpoint.id);
    await runWebhookJobs(queue.held);
    const during = receiver.requests[0];
    if (!during) throw new Error("no request");
    expect(during.headers["webhook-signature"]?.split(" ")).toHaveLength(2);
    expect(() => new Webhook(rotated.secret).verify(during.body, during.headers)).not.toThrow();
    expect(() => new Webhook(endpoint.secret).verify(during.body, during.headers)).not.toThrow();

    vi.setSystemTime(start + DAY + SECOND);
    const later = await ownerNow();
    await later.test(endpoint.id);
    await runWebhookJobs(queue.held);
    const after = receiver.requests[1];
    if (!after) throw new Error("no request");
    expect(after.headers["webhook-signature"]?.split(" ")).toHaveLength(1);
    expect(() => new Webhook(rotated.secret).verify(after.body, after.headers)).not.toThrow();
    expect(() => new Webhook(endpoint.secret).verify(after.body, after.headers)).toThrow();
    const read = await jsonOf<{ previous_secret_expires_at: string | null }>(
      await later.get(`${later.base}/${endpoint.id}`),
      200,
    );
    expect(read.previous_secret_expires_at).toBeNull();
  });
});

describe("an endpoint that keeps failing", () => {
  it("is disabled after 5 days of failures; its owners are told in the app and by email", async () => {
    const founder = await person({ firstName: "Fay" });
    const coOwner = await createUser();
    const admin = await createUser();
    const shop = await createOrg(founder.user, { name: "Failing Shop" });
    await addMember(shop, coOwner.user, "owner");
    await addMember(shop, admin.user, "admin");
    const client = () => ownerNow(shop, founder);
    const endpoint = await (await client()).create({ url: RECEIVER_URL, event_types: ["*"] });
    const receiver = fakeReceiver(reply(503));
    const start = pinClock();

    await (await client()).test(endpoint.id);
    await runWebhookJobs(queue.held);
    expect((await endpointRow(endpoint.id))?.failingSince?.getTime()).toBe(start);
    queue.held.splice(0);

    // Four days on, still failing: still on.
    vi.setSystemTime(start + 4 * DAY);
    await (await client()).test(endpoint.id);
    await runWebhookJobs(queue.held);
    expect((await endpointRow(endpoint.id))?.enabled).toBe(true);
    queue.held.splice(0);

    const mailbox = watchMailbox();
    vi.setSystemTime(start + 5 * DAY + SECOND);
    const last = await (await client()).test(endpoint.id);
    await runWebhookJobs(queue.held);
    expect(await endpointRow(endpoint.id)).toMatchObject({
      enabled: false,
      disabledReason: "failing",
      disabledAt: new Date(start + 5 * DAY + SECOND),
    });
    // The retry scheduled by that last failure finds the endpoint off: failed, nothing sent.
    const sentBefore = receiver.requests.length;
    vi.setSystemTime(start + 5 * DAY + 10 * SECOND);
    await runWebhookJobs(queue.held);
    expect(receiver.requests).toHaveLength(sentBefore);
    expect(await deliveryRow(last.id)).toMatchObject({ status: "failed", error: "endpoint_disabled" });

    const told = await getDb(env)
      .select()
      .from(notifications)
      .where(eq(notifications.type, "webhook_endpoint_disabled"));
    const toldUsers = told.filter((row) => row.data.endpoint_id === endpoint.id).map((row) => row.userId);
    expect(toldUsers.sort()).toEqual([founder.user.id, coOwner.user.id].sort());
    const [notice] = told.filter((row) => row.userId === founder.user.id);
    expect(notice?.targetUrl).toBe(`/orgs/${shop.id}/webhooks/${endpoint.id}`);

    const email = await mailbox.next(founder.email, "webhook_endpoint_disabled");
    expect(email.data).toMatchObject({
      name: "Fay",
      organization_name: "Failing Shop",
      endpoint_url: RECEIVER_URL,
      failing_since: new Date(start).toISOString(),
      last_failure: "HTTP 503",
    });
    expect(mailbox.for(coOwner.email, "webhook_endpoint_disabled")).toHaveLength(1);
    expect(mailbox.for(admin.email, "webhook_endpoint_disabled")).toHaveLength(0);

    const [audited] = await getDb(env)
      .select()
      .from(auditLogs)
      .where(and(eq(auditLogs.action, "webhook_endpoint.disable"), eq(auditLogs.targetId, endpoint.id)));
    expect(audited).toMatchObject({ actorType: "system" });

    // Turned back on by an owner: enabled, the streak forgotten.
    const res = await (await client()).patch(`/api/v1/orgs/${shop.id}/webhook-endpoints/${endpoint.id}`, {
      body: { enabled: true },
    });
    expect(await jsonOf(res, 200)).toMatchObject({
      enabled: true,
      disabled_reason: null,
      failing_since: null,
    });
  });

  it("is not disabled when a success came in between: any success resets the 5 days", async () => {
    const endpoint = await newEndpoint();
    fakeReceiver(reply(503), reply(200), reply(503));
    const start = pinClock();
    await (await ownerNow()).test(endpoint.id);
    await runWebhookJobs(queue.held);
    queue.held.splice(0);
    vi.setSystemTime(start + 3 * DAY);
    await (await ownerNow()).test(endpoint.id);
    await runWebhookJobs(queue.held);
    expect((await endpointRow(endpoint.id))?.failingSince).toBeNull();
    vi.setSystemTime(start + 5 * DAY + SECOND);
    await (await ownerNow()).test(endpoint.id);
    await runWebhookJobs(queue.held);
    expect(await endpointRow(endpoint.id)).toMatchObject({
      enabled: true,
      failingSince: new Date(start + 5 * DAY + SECOND),
    });
  });
});
