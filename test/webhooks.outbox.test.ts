/**
 * The outbox: each module writes its event in the same D1 batch as the change it
 * describes, so an event exists exactly when its change committed, and the sweep
 * delivers the ones a crash (or a lost queue send) left behind. Every event body is
 * checked against its catalogue schema as it reaches the (fake) receiver.
 */
import { env } from "cloudflare:workers";
import { eq, sql } from "drizzle-orm";
import { DrizzleD1Database } from "drizzle-orm/d1";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type Database, getDb } from "../src/db/client";
import { memberships, type Organization, tasks, webhookDeliveries, webhookEvents } from "../src/db/schema";
import { addCredits, spendCredits } from "../src/modules/billing/credits.service";
import { subscriptionObject as parseSubscription } from "../src/modules/billing/stripe.objects";
import { applySubscriptionEvent } from "../src/modules/billing/subscriptions.service";
import { systemOrgContext } from "../src/modules/orgs/org-context";
import { eventBodySchema, type WebhookEventType } from "../src/modules/webhooks/event-catalog";
import { dispatchWebhookEvents, webhookEventStatement } from "../src/modules/webhooks/outbox";
import { purgeOldWebhookEventsJob, sweepWebhooksJob } from "../src/modules/webhooks/webhooks.cron";
import { runCron } from "./support/background";
import { person, serviceContext } from "./support/factories";
import { api, jsonOf, problemOf } from "./support/http";
import { addMember, apiKeyHeaders, createApiKey, createInvitation, createOrg } from "./support/orgs";
import { subscriptionObject } from "./support/stripe";
import { deliver, holdJobsQueue } from "./support/tasks";
import {
  deliveryRow,
  eventsOf,
  fakeReceiver,
  RECEIVER_URL,
  type ReceivedRequest,
  reply,
  runWebhookJobs,
  webhooksClient,
} from "./support/webhooks";

vi.setConfig({ testTimeout: 30_000 });

const db = getDb(env);
let queue: ReturnType<typeof holdJobsQueue>;

beforeEach(() => {
  queue = holdJobsQueue();
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

/** Runs the sweep as the cron would, `ms` from now, with the clock moved there (the jobs it sends run then too). */
async function sweepLater(ms: number) {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(Date.now() + ms);
  await runCron(Date.now(), { jobs: [sweepWebhooksJob] });
}

/** An organization whose owner (verified) has one endpoint subscribed to `eventTypes`. */
async function subscribedOrg(eventTypes: string[] = ["*"], name?: string) {
  const owner = await person({ emailVerifiedAt: new Date() });
  const org = await createOrg(owner.user, name ? { name } : {});
  const endpoint = await webhooksClient(owner.token, org.id).create({
    url: RECEIVER_URL,
    event_types: eventTypes,
  });
  return { owner, org, endpoint };
}

/** Runs the held webhook messages (dispatch, then the deliveries it sends) and returns what the receiver got. */
async function deliverHeld(receiver = fakeReceiver(reply(200))): Promise<ReceivedRequest[]> {
  await runWebhookJobs(queue.held); // webhooks.dispatch → deliveries
  await runWebhookJobs(queue.held); // webhooks.deliver
  return receiver.requests;
}

/** The parsed body of each request, checked against the catalogue's schema of its type. */
function bodiesOf(requests: ReceivedRequest[]) {
  return requests.map((request) => {
    const body = JSON.parse(request.body) as { type: WebhookEventType; data: Record<string, unknown> };
    expect(() => eventBodySchema(body.type).strict().parse(body), body.type).not.toThrow();
    return body;
  });
}

describe("events from the modules that own them", () => {
  it("api_key.created and api_key.revoked, never with the secret", async () => {
    const { owner, org } = await subscribedOrg(["api_key.created", "api_key.revoked"]);
    const res = await owner.api.post(`/api/v1/orgs/${org.id}/api-keys`, {
      body: { name: "CI", scopes: ["tasks:read"] },
    });
    const key = await jsonOf<{ id: string; key: string }>(res, 201);
    expect((await owner.api.delete(`/api/v1/orgs/${org.id}/api-keys/${key.id}`)).status).toBe(204);
    // Revoking again changes nothing, and announces nothing.
    expect((await owner.api.delete(`/api/v1/orgs/${org.id}/api-keys/${key.id}`)).status).toBe(204);

    const requests = await deliverHeld();
    const bodies = bodiesOf(requests);
    expect(bodies.map((body) => body.type)).toEqual(["api_key.created", "api_key.revoked"]);
    expect(bodies[0]?.data).toMatchObject({
      id: key.id,
      name: "CI",
      scopes: ["tasks:read"],
      created_by: owner.user.id,
    });
    expect(bodies[1]?.data).toMatchObject({ id: key.id, reason: "revoked" });
    for (const request of requests) expect(request.body).not.toContain(key.key);
  });

  it("task.completed and task.failed for an organization's tasks; a person's own task sends nothing", async () => {
    const { owner, org } = await subscribedOrg(["task.completed", "task.failed"]);
    const key = await createApiKey(org, { scopes: ["tasks:write"] });
    const create = async (payload: Record<string, number>) =>
      jsonOf<{ id: string }>(
        await api("POST", "/api/v1/tasks", {
          headers: apiKeyHeaders(key.secret),
          body: { type: "add", payload },
        }),
        202,
      );
    const ok = await create({ x: 2, y: 3 });
    const overflow = await create({ x: 1e308, y: 1e308 }); // a permanent failure: no retry can help
    const mine = await jsonOf<{ id: string }>(
      await owner.api.post("/api/v1/tasks", { body: { type: "add", payload: { x: 1, y: 1 } } }),
      202,
    );
    for (const id of [ok.id, overflow.id, mine.id]) await deliver(id);

    const bodies = bodiesOf(await deliverHeld());
    expect(bodies.map((body) => [body.type, body.data.id])).toEqual([
      ["task.completed", ok.id],
      ["task.failed", overflow.id],
    ]);
    expect(bodies[0]?.data).toMatchObject({ organization_id: org.id, status: "SUCCESS", result: { sum: 5 } });
    expect(bodies[1]?.data).toMatchObject({ status: "FAILURE", error: { code: "result_out_of_range" } });
  });

  it("invitation.accepted and member.added when someone joins; member.removed when removed or leaving", async () => {
    const { owner, org } = await subscribedOrg(["*"]);
    const invitee = await person({ emailVerifiedAt: new Date() });
    const { invitation, token } = await createInvitation(org, { email: invitee.email, role: "admin" });
    expect((await invitee.api.post("/api/v1/invitations/accept", { body: { token } })).status).toBe(200);
    const leaver = await person();
    await addMember(org, leaver.user, "member");
    expect((await owner.api.delete(`/api/v1/orgs/${org.id}/members/${invitee.user.id}`)).status).toBe(204);
    expect((await leaver.api.delete(`/api/v1/orgs/${org.id}/members/${leaver.user.id}`)).status).toBe(204);

    const bodies = bodiesOf(await deliverHeld());
    expect(bodies.map((body) => body.type)).toEqual([
      "invitation.accepted",
      "member.added",
      "member.removed",
      "member.removed",
    ]);
    expect(bodies[0]?.data).toMatchObject({
      invitation_id: invitation.id,
      email: invitee.email,
      role: "admin",
    });
    expect(bodies[1]?.data).toMatchObject({
      user_id: invitee.user.id,
      role: "admin",
      invitation_id: invitation.id,
    });
    expect(bodies[2]?.data).toMatchObject({ user_id: invitee.user.id, reason: "removed" });
    expect(bodies[3]?.data).toMatchObject({ user_id: leaver.user.id, reason: "left", role: "member" });
  });

  it("member.removed when a member's account is erased, delivered by the sweep", async () => {
    const { org } = await subscribedOrg(["member.removed"]);
    const doomed = await person();
    await addMember(org, doomed.user, "billing");
    expect((await doomed.api.delete("/api/v1/users/me")).status).toBe(204);
    const [event] = await eventsOf(org.id);
    expect(event).toMatchObject({ type: "member.removed", dispatchedAt: null });

    const receiver = fakeReceiver(reply(200));
    await sweepLater(60_000);
    await runWebhookJobs(queue.held);
    expect(bodiesOf(receiver.requests)[0]?.data).toMatchObject({
      user_id: doomed.user.id,
      role: "billing",
      reason: "account_deleted",
    });
  });

  it("subscription.updated for each applied Stripe state, not for a stale or repeated one", async () => {
    const { org } = await subscribedOrg(["subscription.updated"]);
    const octx = await systemOrgContext(serviceContext(), org.id, "test");
    const id = `sub_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
    const created = Math.floor(Date.now() / 1000);
    const state = parseSubscription.parse(
      subscriptionObject({ id, customer: "cus_outbox1", organizationId: org.id }),
    );
    expect((await applySubscriptionEvent(octx, state, { id: "evt_outbox_1", created })).outcome).toBe(
      "applied",
    );
    expect((await applySubscriptionEvent(octx, state, { id: "evt_outbox_1", created })).outcome).toBe(
      "duplicate",
    );
    const canceling = parseSubscription.parse(
      subscriptionObject({ id, customer: "cus_outbox1", organizationId: org.id, cancelAtPeriodEnd: true }),
    );
    expect(
      (await applySubscriptionEvent(octx, canceling, { id: "evt_outbox_2", created: created + 5 })).outcome,
    ).toBe("applied");
    expect(
      (await applySubscriptionEvent(octx, state, { id: "evt_outbox_0", created: created - 5 })).outcome,
    ).toBe("stale");

    const bodies = bodiesOf(await deliverHeld());
    expect(bodies.map((body) => body.data.cancel_at_period_end)).toEqual([false, true]);
    expect(bodies[0]?.data).toMatchObject({ id, status: "active", organization_id: org.id });
  });

  it("credits.low once, for the debit that crosses the threshold, with the balance it left", async () => {
    const { org } = await subscribedOrg(["credits.low"]);
    const octx = await systemOrgContext(serviceContext(), org.id, "test");
    await addCredits(octx, { kind: "grant", amount: 12, reference: "outbox:grant", description: "Seed" });
    await spendCredits(octx, { amount: 1, reference: "outbox:1", description: "Still above" });
    await spendCredits(octx, { amount: 4, reference: "outbox:2", description: "Crosses" });
    await spendCredits(octx, { amount: 1, reference: "outbox:3", description: "Already below" });
    const bodies = bodiesOf(await deliverHeld());
    expect(bodies.map((body) => body.data)).toEqual([
      { organization_id: org.id, credits_remaining: 7, threshold: octx.config.BILLING_LOW_CREDITS_THRESHOLD },
    ]);
  });

  it("writes nothing for an organization without a subscribed, enabled endpoint", async () => {
    const newKey = (
      who: { api: { post: (path: string, options: { body: unknown }) => Promise<Response> } },
      org: Organization,
      name: string,
    ) =>
      who.api
        .post(`/api/v1/orgs/${org.id}/api-keys`, { body: { name, scopes: ["org:read"] } })
        .then((res) => jsonOf(res, 201));
    const owner = await person();
    const quiet = await createOrg(owner.user);
    await newKey(owner, quiet, "no endpoint");
    expect(await eventsOf(quiet.id)).toEqual([]);

    const picky = await subscribedOrg(["task.failed"]);
    await newKey(picky.owner, picky.org, "not subscribed");
    expect(await eventsOf(picky.org.id)).toEqual([]);
    // Subscribed to everything but turned off: nothing either.
    const res = await picky.owner.api.patch(
      `/api/v1/orgs/${picky.org.id}/webhook-endpoints/${picky.endpoint.id}`,
      {
        body: { event_types: ["*"], enabled: false },
      },
    );
    expect(res.status).toBe(200);
    await newKey(picky.owner, picky.org, "endpoint off");
    expect(await eventsOf(picky.org.id)).toEqual([]);
  });
});

describe("an event for a change that did not commit is never sent", () => {
  it("a batch that fails on a constraint rolls its event back with it", async () => {
    const { owner, org } = await subscribedOrg(["member.added"]);
    const ctx = serviceContext();
    const event = webhookEventStatement(ctx, org.id, "member.added", {
      organization_id: org.id,
      user_id: owner.user.id,
      email: owner.email,
      role: "owner",
      joined_at: new Date().toISOString(),
      invitation_id: null,
    });
    // The owner's membership exists: inserting it again breaks the primary key, and the whole batch with it.
    await expect(
      db.batch([
        event.statement,
        db.insert(memberships).values({ organizationId: org.id, userId: owner.user.id, role: "owner" }),
      ]),
    ).rejects.toThrow();
    expect(await eventsOf(org.id)).toEqual([]);

    const receiver = fakeReceiver(reply(200));
    await dispatchWebhookEvents(ctx, [event]);
    await sweepLater(60_000);
    await runWebhookJobs(queue.held);
    expect(queue.held).toEqual([]);
    expect(receiver.requests).toEqual([]);
  });

  it("a guarded change that matched nothing announces nothing (the last owner cannot leave)", async () => {
    const { owner, org } = await subscribedOrg(["member.removed"]);
    const res = await owner.api.delete(`/api/v1/orgs/${org.id}/members/${owner.user.id}`);
    expect((await problemOf(res, 409)).code).toBe("last_owner");
    expect(await eventsOf(org.id)).toEqual([]);
  });

  it("a failing run that a cancellation turned REVOKED sends no task.failed", async () => {
    const { org } = await subscribedOrg(["task.failed"]);
    const key = await createApiKey(org, { scopes: ["tasks:write"] });
    const task = await jsonOf<{ id: string }>(
      await api("POST", "/api/v1/tasks", {
        headers: apiKeyHeaders(key.secret),
        body: { type: "add", payload: { x: 1e308, y: 1e308 } },
      }),
      202,
    );
    // A cancellation asked for while it runs (set the way POST /cancel does for a STARTED task),
    // just before the job's first batch. The job's database is its own D1 session's drizzle
    // instance, so the spy sits on the class every such instance shares.
    const spy = vi.spyOn(DrizzleD1Database.prototype, "batch");
    spy.mockImplementationOnce(async function (this: Database, statements) {
      await db.update(tasks).set({ cancelRequestedAt: new Date() }).where(eq(tasks.id, task.id));
      spy.mockRestore();
      return this.batch(statements as Parameters<Database["batch"]>[0]);
    });
    await deliver(task.id);
    const [row] = await db.select({ status: tasks.status }).from(tasks).where(eq(tasks.id, task.id));
    expect(row?.status).toBe("REVOKED");
    expect(await eventsOf(org.id)).toEqual([]);
  });
});

describe("the sweep", () => {
  it("dispatches an event whose dispatch message was lost, once it is 30 s old", async () => {
    const { owner, org } = await subscribedOrg(["api_key.created"]);
    queue.held.splice(0);
    vi.spyOn(console, "error").mockImplementation(() => {}); // the failed send is logged at error level
    vi.mocked(env.JOBS_QUEUE.send).mockRejectedValueOnce(new Error("queue unavailable"));
    await jsonOf(
      await owner.api.post(`/api/v1/orgs/${org.id}/api-keys`, {
        body: { name: "lost", scopes: ["org:read"] },
      }),
      201,
    );
    const [event] = await eventsOf(org.id);
    expect(event?.dispatchedAt).toBeNull();
    expect(queue.held).toEqual([]);

    await runCron(Date.now(), { jobs: [sweepWebhooksJob] }); // too young: its message may still be on its way
    expect(queue.held).toEqual([]);
    const receiver = fakeReceiver(reply(200));
    await sweepLater(60_000);
    await runWebhookJobs(queue.held);
    expect(bodiesOf(receiver.requests).map((body) => body.type)).toEqual(["api_key.created"]);
    // Dispatched once: the next sweep finds nothing.
    await sweepLater(60_000);
    expect(queue.held).toEqual([]);
  });

  it("sends a delivery whose message the queue refused, and re-sends one long overdue", async () => {
    const { owner, org, endpoint } = await subscribedOrg(["*"]);
    const client = webhooksClient(owner.token, org.id);
    vi.spyOn(console, "error").mockImplementation(() => {}); // the failed send is logged at error level
    vi.mocked(env.JOBS_QUEUE.send).mockRejectedValueOnce(new Error("queue unavailable"));
    const refused = await client.test(endpoint.id);
    expect((await deliveryRow(refused.id))?.enqueuedAt).toBeNull();
    const lost = await client.test(endpoint.id);
    queue.held.splice(0); // the second one's message is lost on the way
    const receiver = fakeReceiver(reply(200));

    await runCron(Date.now(), { jobs: [sweepWebhooksJob] });
    await runWebhookJobs(queue.held);
    expect(receiver.requests.map((request) => JSON.parse(request.body).data.endpoint_id)).toEqual([
      endpoint.id,
    ]);
    expect(await deliveryRow(refused.id)).toMatchObject({ status: "succeeded" });
    expect(await deliveryRow(lost.id)).toMatchObject({ status: "pending" });

    await sweepLater(16 * 60_000);
    await runWebhookJobs(queue.held);
    expect(await deliveryRow(lost.id)).toMatchObject({ status: "succeeded", attempts: 1 });
  });

  it("purges events older than 30 days with their deliveries", async () => {
    const { owner, org, endpoint } = await subscribedOrg(["*"]);
    const delivery = await webhooksClient(owner.token, org.id).test(endpoint.id);
    const old = new Date(Date.now() - 31 * 24 * 3_600_000);
    await db.update(webhookEvents).set({ createdAt: old }).where(eq(webhookEvents.id, delivery.event_id));
    await runCron(Math.floor(Date.now() / 3_600_000) * 3_600_000, { jobs: [purgeOldWebhookEventsJob] });
    expect(await eventsOf(org.id)).toEqual([]);
    expect(await deliveryRow(delivery.id)).toBeUndefined();
    const [left] = await db
      .select({ n: sql<number>`count(*)` })
      .from(webhookDeliveries)
      .where(eq(webhookDeliveries.endpointId, endpoint.id));
    expect(left?.n).toBe(0);
  });
});
