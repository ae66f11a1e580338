/**
 * POST /api/v1/webhooks/stripe, end to end: signed deliveries through the Worker's
 * fetch handler, the queue job through its queue handler, results read back over
 * HTTP and from D1. Stripe is faked only at `fetch` (re-reads of a subscription).
 */
import { env } from "cloudflare:workers";
import { and, count, eq } from "drizzle-orm";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import {
  billingAccounts,
  billingSubscriptions,
  creditLedger,
  notifications,
  type Organization,
  stripeEvents,
} from "../src/db/schema";
import { runCron } from "./support/background";
import { createUser, signIn, type TestUser } from "./support/factories";
import { jsonOf, problemOf } from "./support/http";
import { watchMailbox } from "./support/mailbox";
import { addMember, createOrg } from "./support/orgs";
import {
  APP,
  billingApi,
  billingEnv,
  type CreditsPage,
  completedCheckoutObject,
  fakeStripe,
  invoiceObject,
  PRICES,
  postWebhook,
  runJobs,
  signatureHeader,
  stripeEvent,
  subscriptionObject,
  takeHeld,
  WEBHOOK_SECRET,
} from "./support/stripe";
import { holdJobsQueue } from "./support/tasks";

const db = getDb(env);

type Team = {
  org: Organization;
  customer: string;
  owner: TestUser;
  billing: TestUser;
  admin: TestUser;
  member: TestUser;
  ownerToken: string;
};

let teamSeq = 0;

/** An organization with one member per role, linked to a Stripe customer as a first checkout would. */
async function createTeam(): Promise<Team> {
  teamSeq += 1;
  const [owner, billing, admin, member] = await Promise.all([
    createUser({ firstName: "Olive" }),
    createUser({ firstName: "Bill" }),
    createUser(),
    createUser(),
  ]);
  const org = await createOrg(owner.user, { name: `Acme ${teamSeq}` });
  await addMember(org, billing.user, "billing");
  await addMember(org, admin.user, "admin");
  await addMember(org, member.user, "member");
  const customer = `cus_Team${teamSeq}${crypto.randomUUID().slice(0, 8)}`;
  await db.insert(billingAccounts).values({ organizationId: org.id, stripeCustomerId: customer });
  return { org, customer, owner, billing, admin, member, ownerToken: (await signIn(owner.user)).accessToken };
}

async function credits(team: Team): Promise<CreditsPage> {
  return jsonOf<CreditsPage>(
    await billingApi("GET", `/api/v1/orgs/${team.org.id}/credits`, { token: team.ownerToken }),
    200,
  );
}

async function subscription(team: Team) {
  return jsonOf<Record<string, unknown>>(
    await billingApi("GET", `/api/v1/orgs/${team.org.id}/billing/subscription`, { token: team.ownerToken }),
    200,
  );
}

const storedEvent = (id: string) => db.select().from(stripeEvents).where(eq(stripeEvents.id, id)).get();

async function alertsOf(userId: string) {
  return db
    .select()
    .from(notifications)
    .where(and(eq(notifications.userId, userId), eq(notifications.type, "billing_alert")));
}

let held: ReturnType<typeof holdJobsQueue>["held"];
let stripe: ReturnType<typeof fakeStripe>;
let team: Team;

beforeAll(async () => {
  team = await createTeam();
});

beforeEach(() => {
  held = holdJobsQueue().held;
  // Any call to Stripe's API goes to the fake (it answers 404 to what a test did not set up).
  stripe = fakeStripe();
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** Delivers `event` and runs the queue job it caused; returns the webhook's answer. */
async function deliverAndProcess(event: unknown) {
  const res = await postWebhook(event);
  const body = await jsonOf<{ received: boolean; event_id: string; duplicate: boolean }>(res, 200);
  await runJobs(takeHeld(held, "billing.stripe_event"));
  return body;
}

describe("signature", () => {
  it("a correctly signed event is recorded, answered 200 at once and processed by the queue job", async () => {
    const invoice = invoiceObject({
      customer: team.customer,
      subscription: "sub_SigOk0001",
      price: PRICES.pro,
    });
    const event = stripeEvent("invoice.paid", invoice);
    const before = (await credits(team)).balance;

    const res = await postWebhook(event);
    expect(await jsonOf(res, 200)).toEqual({ received: true, event_id: event.id, duplicate: false });
    // Answered before any work: the event waits for its job.
    expect((await storedEvent(event.id))?.processedAt).toBeNull();
    expect((await credits(team)).balance).toBe(before);
    const messages = takeHeld(held, "billing.stripe_event");
    expect(messages.map((message) => message.body)).toEqual([
      { type: "billing.stripe_event", event_id: event.id, d1_bookmark: expect.any(String) },
    ]);

    expect(await runJobs(messages)).toMatchObject({ retried: [] });
    const after = await credits(team);
    expect(after.balance).toBe(before + 500);
    expect(after.data[0]).toMatchObject({
      kind: "grant",
      amount: 500,
      balance_after: before + 500,
      reference: `invoice:${invoice.id}`,
      description: "Pro plan: monthly credits",
    });
    expect(await storedEvent(event.id)).toMatchObject({ type: "invoice.paid", outcome: "applied" });
  });

  it("the SDK's own test signature (generateTestHeaderStringAsync) is accepted too", async () => {
    const { default: Stripe } = await import("stripe");
    const payload = JSON.stringify(
      stripeEvent("customer.created", { id: "cus_SdkSigned01", object: "customer" }),
    );
    const header = await Stripe.webhooks.generateTestHeaderStringAsync({
      payload,
      secret: WEBHOOK_SECRET,
      cryptoProvider: Stripe.createSubtleCryptoProvider(),
    });
    expect((await postWebhook(payload, { signature: header })).status).toBe(200);
  });

  const tampered: Array<[string, (payload: string) => Promise<{ body: string; signature: string | null }>]> =
    [
      [
        "a signature made with another secret",
        async (payload) => ({
          body: payload,
          // Test fixture, not a real secret: a signing secret other than the suite's own WEBHOOK_SECRET.
          signature: await signatureHeader(payload, { secret: "whsec_someoneElsesEndpoint0000" }),
        }),
      ],
      [
        "a timestamp more than 5 minutes old (a replay)",
        async (payload) => ({
          body: payload,
          signature: await signatureHeader(payload, { timestamp: Math.floor(Date.now() / 1000) - 301 }),
        }),
      ],
      [
        "a body altered after signing",
        async (payload) => ({
          body: payload.replace('"amount_due": 2900', '"amount_due": 1'),
          signature: await signatureHeader(payload),
        }),
      ],
      [
        "the same JSON re-serialised (whitespace differs from what was signed)",
        async (payload) => ({
          body: JSON.stringify(JSON.parse(payload)),
          signature: await signatureHeader(payload),
        }),
      ],
      ["no Stripe-Signature header", async (payload) => ({ body: payload, signature: null })],
      ["a malformed header", async (payload) => ({ body: payload, signature: "v1=deadbeef" })],
    ];

  for (const [label, tamper] of tampered) {
    it(`refuses ${label}: 400 invalid_signature, nothing recorded, queued or granted`, async () => {
      const invoice = invoiceObject({
        customer: team.customer,
        subscription: "sub_Tampered01",
        price: PRICES.pro,
      });
      const event = stripeEvent("invoice.paid", invoice);
      const { body, signature } = await tamper(JSON.stringify(event, null, 2));
      const before = await credits(team);

      const problem = await problemOf(await postWebhook(body, { signature }), 400);
      expect(problem.code).toBe("invalid_signature");
      expect(await storedEvent(event.id)).toBeUndefined();
      expect(held).toEqual([]);
      expect(await credits(team)).toEqual(before);
    });
  }

  it("answers 503 billing_not_configured without STRIPE_WEBHOOK_SECRET, recording nothing (Stripe retries)", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const event = stripeEvent(
      "invoice.paid",
      invoiceObject({ customer: team.customer, subscription: "sub_NoSecret1" }),
    );
    const res = await postWebhook(event, { bindings: { ...billingEnv, STRIPE_WEBHOOK_SECRET: "" } });
    expect((await problemOf(res, 503)).code).toBe("billing_not_configured");
    expect(await storedEvent(event.id)).toBeUndefined();
  });

  it("does not count deliveries against the anonymous per-address rate limit", async () => {
    const responses = [];
    for (let i = 0; i < 3; i++) {
      responses.push(
        await postWebhook(stripeEvent("customer.created", { id: `cus_Burst${i}`, object: "customer" })),
      );
    }
    for (const res of responses) {
      expect(res.status).toBe(200);
      expect(res.headers.get("x-ratelimit-limit")).toBeNull();
    }
  });

  it("acknowledges event types it does not handle, without queueing work", async () => {
    const event = stripeEvent("customer.updated", { id: team.customer, object: "customer" });
    expect(await jsonOf(await postWebhook(event), 200)).toMatchObject({ duplicate: false });
    expect(held).toEqual([]);
    expect(await storedEvent(event.id)).toMatchObject({ outcome: "ignored" });
    expect((await storedEvent(event.id))?.processedAt).toBeInstanceOf(Date);
  });

  it("a correctly signed body that is not an event is a 400, never a 500", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await postWebhook({ hello: "world" });
    expect((await problemOf(res, 400)).code).toBe("invalid_event");
  });

  describe("a signed event this API could never apply is refused once, before any write", () => {
    const invoiceEvent = (options: { id?: string; created?: number }) =>
      stripeEvent(
        "invoice.paid",
        invoiceObject({ customer: team.customer, subscription: "sub_Refused" }),
        options,
      );

    it("`created` past the JavaScript date range: 400 invalid_event naming /created, never a 500", async () => {
      vi.spyOn(console, "error").mockImplementation(() => {});
      const event = invoiceEvent({ created: 1e15 });
      const problem = await problemOf(await postWebhook(event), 400);
      expect(problem.code).toBe("invalid_event");
      expect(problem.errors).toEqual([expect.objectContaining({ pointer: "/created" })]);
      expect(await storedEvent(event.id)).toBeUndefined();
      expect(held).toEqual([]);
    });

    it("an id longer than the queue message carries: 400 naming /id, nothing recorded or sent (not a 503 Stripe retries for days)", async () => {
      vi.spyOn(console, "error").mockImplementation(() => {});
      const send = vi.spyOn(env.JOBS_QUEUE, "send");
      const event = invoiceEvent({ id: `evt_${"A".repeat(251)}` });
      for (let delivery = 0; delivery < 2; delivery++) {
        const problem = await problemOf(await postWebhook(event), 400);
        expect(problem.code).toBe("invalid_event");
        expect(problem.errors).toEqual([expect.objectContaining({ pointer: "/id" })]);
      }
      expect(send).not.toHaveBeenCalled();
      expect(await storedEvent(event.id)).toBeUndefined();
    });

    it("the longest id the message carries is taken and queued", async () => {
      const event = invoiceEvent({ id: `evt_${"B".repeat(250)}` });
      expect(await jsonOf(await postWebhook(event), 200)).toMatchObject({ duplicate: false });
      const sent = takeHeld(held, "billing.stripe_event");
      expect(sent.map((message) => message.body)).toEqual([
        { type: "billing.stripe_event", event_id: event.id, d1_bookmark: expect.any(String) },
      ]);
      await runJobs(sent);
      expect((await storedEvent(event.id))?.processedAt).toBeInstanceOf(Date);
    });

    it("an object whose time no Date can hold is recorded as unreadable by the job, not retried", async () => {
      vi.spyOn(console, "error").mockImplementation(() => {});
      const event = stripeEvent(
        "invoice.payment_failed",
        invoiceObject({
          customer: team.customer,
          subscription: "sub_FarFuture",
          status: "open",
          nextPaymentAttempt: 1e15,
        }),
      );
      await postWebhook(event);
      const { acked, retried } = await runJobs(takeHeld(held, "billing.stripe_event"));
      expect([acked.length, retried.length]).toEqual([1, 0]);
      expect(await storedEvent(event.id)).toMatchObject({ outcome: "unreadable" });
    });
  });

  it("an event whose queue message cannot be sent is answered 503 and forgotten, so Stripe's retry is processed", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const event = stripeEvent(
      "invoice.paid",
      invoiceObject({ customer: team.customer, subscription: "sub_QueueDown" }),
    );
    vi.spyOn(env.JOBS_QUEUE, "send").mockRejectedValueOnce(new Error("Queue send failed: overloaded"));
    expect((await problemOf(await postWebhook(event), 503)).code).toBe("service_unavailable");
    expect(await storedEvent(event.id)).toBeUndefined();
    // Stripe's retry of the same event is taken as new.
    expect(await jsonOf(await postWebhook(event), 200)).toMatchObject({ duplicate: false });
    await runJobs(takeHeld(held, "billing.stripe_event"));
    expect(await storedEvent(event.id)).toMatchObject({ outcome: "applied" });
  });
});

describe("one effect per event", () => {
  it("the same event delivered 5 times in a row: 1 recorded, 4 duplicates, one grant", async () => {
    const invoice = invoiceObject({
      customer: team.customer,
      subscription: "sub_Repeat0001",
      price: PRICES.starter,
    });
    const event = stripeEvent("invoice.paid", invoice);
    const before = (await credits(team)).balance;
    const answers = [];
    for (let i = 0; i < 5; i++)
      answers.push(await jsonOf<{ duplicate: boolean }>(await postWebhook(event), 200));
    expect(answers.map((answer) => answer.duplicate)).toEqual([false, true, true, true, true]);
    const messages = takeHeld(held, "billing.stripe_event");
    expect(messages).toHaveLength(1);
    await runJobs(messages);

    const after = await credits(team);
    expect(after.balance).toBe(before + 100);
    expect(after.data.filter((entry) => entry.reference === `invoice:${invoice.id}`)).toHaveLength(1);
  });

  it("the same event delivered 5 times at once: exactly one is taken, the job runs once even when redelivered", async () => {
    const invoice = invoiceObject({
      customer: team.customer,
      subscription: "sub_Concurrent1",
      price: PRICES.pro,
    });
    const event = stripeEvent("invoice.paid", invoice);
    const before = (await credits(team)).balance;
    const answers = await Promise.all(
      Array.from({ length: 5 }, async () => jsonOf<{ duplicate: boolean }>(await postWebhook(event), 200)),
    );
    expect(answers.filter((answer) => !answer.duplicate)).toHaveLength(1);
    const messages = takeHeld(held, "billing.stripe_event");
    expect(messages).toHaveLength(1);

    // The queue delivers at least once: run the same message twice, the second time concurrently with a third.
    await runJobs(messages);
    await Promise.all([runJobs(messages, { attempts: 2 }), runJobs(messages, { attempts: 3 })]);
    const after = await credits(team);
    expect(after.balance).toBe(before + 500);
    const [{ value: entries } = { value: 0 }] = await db
      .select({ value: count() })
      .from(creditLedger)
      .where(
        and(
          eq(creditLedger.organizationId, team.org.id),
          eq(creditLedger.reference, `invoice:${invoice.id}`),
        ),
      );
    expect(entries).toBe(1);
  });

  it("two different events for the same invoice grant once (the ledger reference is the invoice)", async () => {
    const invoice = invoiceObject({
      customer: team.customer,
      subscription: "sub_TwoEvents1",
      price: PRICES.starter,
    });
    const before = (await credits(team)).balance;
    await deliverAndProcess(stripeEvent("invoice.paid", invoice));
    await deliverAndProcess(stripeEvent("invoice.paid", invoice));
    expect((await credits(team)).balance).toBe(before + 100);
  });
});

describe("subscription state and event order", () => {
  it("updated (active, Pro) arriving before created (incomplete, Starter) ends active on Pro", async () => {
    const fresh = await createTeam();
    const id = "sub_OutOfOrder01";
    const t = Math.floor(Date.now() / 1000) - 120;
    const created = stripeEvent(
      "customer.subscription.created",
      subscriptionObject({
        id,
        customer: fresh.customer,
        status: "incomplete",
        price: PRICES.starter,
        periodStart: t,
      }),
      { created: t },
    );
    const updated = stripeEvent(
      "customer.subscription.updated",
      subscriptionObject({
        id,
        customer: fresh.customer,
        status: "active",
        price: PRICES.pro,
        periodStart: t,
      }),
      { created: t + 4 },
    );

    await deliverAndProcess(updated);
    expect(await subscription(fresh)).toMatchObject({ status: "active", plan: { name: "Pro" } });
    await deliverAndProcess(created);

    expect(await subscription(fresh)).toMatchObject({
      status: "active",
      price_id: PRICES.pro,
      plan: { name: "Pro", price_id: PRICES.pro, interval: "month", monthly_credits: 500 },
      current_period_end: new Date((t + 30 * 86_400) * 1000).toISOString(),
      cancel_at_period_end: false,
      stripe_subscription_id: id,
    });
    expect(await storedEvent(created.id)).toMatchObject({ outcome: "stale" });
  });

  it("two events from the same second cannot be ordered: the subscription is re-read from Stripe", async () => {
    const fresh = await createTeam();
    const id = "sub_SameSecond1";
    const t = Math.floor(Date.now() / 1000) - 60;
    const current = subscriptionObject({
      id,
      customer: fresh.customer,
      status: "active",
      price: PRICES.pro,
      periodStart: t,
    });
    stripe.subscriptions.set(id, current);
    const created = stripeEvent(
      "customer.subscription.created",
      subscriptionObject({
        id,
        customer: fresh.customer,
        status: "incomplete",
        price: PRICES.pro,
        periodStart: t,
      }),
      { created: t },
    );
    const updated = stripeEvent("customer.subscription.updated", current, { created: t });

    await deliverAndProcess(updated);
    await deliverAndProcess(created);

    expect(await subscription(fresh)).toMatchObject({ status: "active", plan: { name: "Pro" } });
    expect(stripe.calls("GET", `/v1/subscriptions/${id}`)).toHaveLength(1);
    expect(stripe.requests[0]?.headers.get("authorization")).toBe(`Bearer ${billingEnv.STRIPE_SECRET_KEY}`);
    expect(await storedEvent(created.id)).toMatchObject({ outcome: "applied_after_reread" });
  });

  it("a cancellation at period end alerts owners and billing members once; the deletion later does not alert again", async () => {
    const fresh = await createTeam();
    const mailbox = watchMailbox();
    const id = "sub_CancelLater1";
    const t = Math.floor(Date.now() / 1000) - 600;
    await deliverAndProcess(
      stripeEvent(
        "customer.subscription.created",
        subscriptionObject({ id, customer: fresh.customer, periodStart: t }),
        {
          created: t,
        },
      ),
    );
    const cancel = stripeEvent(
      "customer.subscription.updated",
      subscriptionObject({
        id,
        customer: fresh.customer,
        periodStart: t,
        cancelAtPeriodEnd: true,
        canceledAt: t + 10,
      }),
      { created: t + 10 },
    );
    await deliverAndProcess(cancel);
    expect(await subscription(fresh)).toMatchObject({
      status: "active",
      cancel_at_period_end: true,
      cancel_at: new Date((t + 30 * 86_400) * 1000).toISOString(),
    });
    for (const person of [fresh.owner, fresh.billing]) {
      const [alert, ...more] = await alertsOf(person.user.id);
      expect(more).toEqual([]);
      expect(alert).toMatchObject({
        title: `The subscription of ${fresh.org.name} is canceled`,
        targetUrl: `${APP}/orgs/${fresh.org.id}/billing`,
        data: { organization_id: fresh.org.id, alert: "subscription_canceled" },
      });
      expect(mailbox.for(person.email, "billing_alert")).toHaveLength(1);
    }
    for (const person of [fresh.admin, fresh.member]) {
      expect(await alertsOf(person.user.id)).toEqual([]);
      expect(mailbox.for(person.email)).toEqual([]);
    }

    await deliverAndProcess(
      stripeEvent(
        "customer.subscription.deleted",
        subscriptionObject({
          id,
          customer: fresh.customer,
          periodStart: t,
          status: "canceled",
          cancelAtPeriodEnd: true,
          canceledAt: t + 10,
          endedAt: t + 30,
        }),
        { created: t + 30 },
      ),
    );
    expect(await subscription(fresh)).toMatchObject({ status: "canceled" });
    expect(await alertsOf(fresh.owner.user.id)).toHaveLength(1);
  });

  it("a subscription canceled at once (deleted) is announced when it ends", async () => {
    const fresh = await createTeam();
    const mailbox = watchMailbox();
    const id = "sub_CancelNow01";
    const t = Math.floor(Date.now() / 1000) - 600;
    await deliverAndProcess(
      stripeEvent(
        "customer.subscription.created",
        subscriptionObject({ id, customer: fresh.customer, periodStart: t }),
        {
          created: t,
        },
      ),
    );
    await deliverAndProcess(
      stripeEvent(
        "customer.subscription.deleted",
        subscriptionObject({
          id,
          customer: fresh.customer,
          periodStart: t,
          status: "canceled",
          endedAt: t + 50,
        }),
        { created: t + 50 },
      ),
    );
    const sent = await mailbox.next(fresh.billing.email, "billing_alert");
    expect(sent.data).toEqual({
      alert: "subscription_canceled",
      ends_at: new Date((t + 50) * 1000).toISOString(),
      organization_name: fresh.org.name,
      billing_url: `${APP}/orgs/${fresh.org.id}/billing`,
    });
  });

  it("an object in a shape this code cannot read is recorded as unreadable and acknowledged, not retried", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const event = stripeEvent("invoice.paid", {
      id: "in_Unreadable01",
      object: "invoice",
      customer: team.customer,
    });
    await postWebhook(event);
    const { acked, retried } = await runJobs(takeHeld(held, "billing.stripe_event"));
    expect(acked).toHaveLength(1);
    expect(retried).toEqual([]);
    expect(await storedEvent(event.id)).toMatchObject({ outcome: "unreadable" });
  });

  it("an event for a customer this API never created is recorded and changes nothing", async () => {
    const event = stripeEvent(
      "customer.subscription.created",
      subscriptionObject({ id: "sub_Stranger001", customer: "cus_NotOursAtAll1" }),
    );
    await deliverAndProcess(event);
    expect(await storedEvent(event.id)).toMatchObject({ outcome: "unknown_customer" });
    expect(
      await db
        .select()
        .from(billingSubscriptions)
        .where(eq(billingSubscriptions.stripeSubscriptionId, "sub_Stranger001")),
    ).toEqual([]);
  });
});

describe("credits from Stripe", () => {
  it("a paid credit-pack checkout adds a purchase, once", async () => {
    const fresh = await createTeam();
    const session = completedCheckoutObject({
      organizationId: fresh.org.id,
      customer: fresh.customer,
      mode: "payment",
      price: PRICES.pack,
      credits: 50,
    });
    await deliverAndProcess(stripeEvent("checkout.session.completed", session));
    await deliverAndProcess(stripeEvent("checkout.session.completed", session));
    const after = await credits(fresh);
    expect(after.balance).toBe(50);
    expect(after.data).toEqual([
      expect.objectContaining({
        kind: "purchase",
        amount: 50,
        balance_after: 50,
        reference: `checkout:${session.id}`,
        description: "Credit pack: 50 credits",
      }),
    ]);
  });

  it("a delayed payment adds nothing until checkout.session.async_payment_succeeded", async () => {
    const fresh = await createTeam();
    const unpaid = completedCheckoutObject({
      organizationId: fresh.org.id,
      customer: fresh.customer,
      mode: "payment",
      price: PRICES.pack,
      paymentStatus: "unpaid",
    });
    const completed = stripeEvent("checkout.session.completed", unpaid);
    await deliverAndProcess(completed);
    expect((await credits(fresh)).balance).toBe(0);
    expect(await storedEvent(completed.id)).toMatchObject({ outcome: "awaiting_payment" });

    await deliverAndProcess(
      stripeEvent("checkout.session.async_payment_succeeded", { ...unpaid, payment_status: "paid" }),
    );
    expect((await credits(fresh)).balance).toBe(50);
  });

  it("the first subscription checkout links a customer the organization did not have yet", async () => {
    const owner = await createUser();
    const org = await createOrg(owner.user);
    const session = completedCheckoutObject({
      organizationId: org.id,
      customer: "cus_LinkedByWebhook",
      mode: "subscription",
      price: PRICES.pro,
      subscription: "sub_LinkedByHook1",
    });
    await deliverAndProcess(stripeEvent("checkout.session.completed", session));
    const account = await db
      .select()
      .from(billingAccounts)
      .where(eq(billingAccounts.organizationId, org.id))
      .get();
    expect(account?.stripeCustomerId).toBe("cus_LinkedByWebhook");
  });

  it("a yearly plan grants twelve months of credits per paid invoice; a proration invoice grants nothing", async () => {
    const fresh = await createTeam();
    await deliverAndProcess(
      stripeEvent(
        "invoice.paid",
        invoiceObject({
          customer: fresh.customer,
          subscription: "sub_Yearly00001",
          price: PRICES.proYearly,
          billingReason: "subscription_create",
        }),
      ),
    );
    expect((await credits(fresh)).balance).toBe(6000);
    const proration = stripeEvent(
      "invoice.paid",
      invoiceObject({
        customer: fresh.customer,
        subscription: "sub_Yearly00001",
        price: PRICES.proYearly,
        billingReason: "subscription_update",
      }),
    );
    await deliverAndProcess(proration);
    expect((await credits(fresh)).balance).toBe(6000);
    expect(await storedEvent(proration.id)).toMatchObject({ outcome: "ignored" });
  });
});

describe("billing alerts", () => {
  it("invoice.payment_failed notifies and emails owners and billing members, once per event", async () => {
    const fresh = await createTeam();
    const mailbox = watchMailbox();
    const nextAttempt = Math.floor(Date.now() / 1000) + 3 * 86_400;
    const event = stripeEvent(
      "invoice.payment_failed",
      invoiceObject({
        customer: fresh.customer,
        subscription: "sub_Declined001",
        amountDue: 2900,
        currency: "eur",
        status: "open",
        nextPaymentAttempt: nextAttempt,
      }),
    );
    await postWebhook(event);
    const messages = takeHeld(held, "billing.stripe_event");
    await runJobs(messages);
    await runJobs(messages, { attempts: 2 });

    for (const person of [fresh.owner, fresh.billing]) {
      const alerts = await alertsOf(person.user.id);
      expect(alerts).toHaveLength(1);
      expect(alerts[0]).toMatchObject({
        title: `Payment failed for ${fresh.org.name}`,
        message: expect.stringContaining("29.00 EUR"),
        readAt: null,
        data: { organization_id: fresh.org.id, alert: "payment_failed", amount: "29.00", currency: "EUR" },
      });
      const emails = mailbox.for(person.email, "billing_alert");
      expect(emails).toHaveLength(1);
      expect(emails[0]?.data).toEqual({
        alert: "payment_failed",
        amount: "29.00",
        currency: "EUR",
        next_attempt_at: new Date(nextAttempt * 1000).toISOString(),
        organization_name: fresh.org.name,
        billing_url: `${APP}/orgs/${fresh.org.id}/billing`,
      });
    }
    for (const person of [fresh.admin, fresh.member]) {
      expect(await alertsOf(person.user.id)).toEqual([]);
      expect(mailbox.for(person.email)).toEqual([]);
    }
  });

  it("formats amounts in the currency's own digits (JPY has none)", async () => {
    const fresh = await createTeam();
    const mailbox = watchMailbox();
    await deliverAndProcess(
      stripeEvent(
        "invoice.payment_failed",
        invoiceObject({
          customer: fresh.customer,
          subscription: "sub_Yen0000001",
          amountDue: 3200,
          currency: "jpy",
        }),
      ),
    );
    expect((await mailbox.next(fresh.owner.email, "billing_alert")).data).toMatchObject({
      amount: "3200",
      currency: "JPY",
    });
  });
});

describe("recovery (cron)", () => {
  it("re-queues an event whose message was lost, and purges records after 30 days", async () => {
    const event = stripeEvent(
      "invoice.paid",
      invoiceObject({ customer: team.customer, subscription: "sub_LostMsg001" }),
    );
    await postWebhook(event);
    takeHeld(held, "billing.stripe_event"); // the message is lost

    // 11 minutes later, on a minute the 10-minute job runs.
    const at = Math.ceil((Date.now() + 11 * 60_000) / 600_000) * 600_000;
    await runCron(at, { bindings: billingEnv });
    const again = takeHeld(held, "billing.stripe_event");
    expect(again.map((message) => message.body)).toEqual([
      { type: "billing.stripe_event", event_id: event.id, d1_bookmark: expect.any(String) },
    ]);
    await runJobs(again);
    expect(await storedEvent(event.id)).toMatchObject({ outcome: "applied", dispatches: 2 });

    // Processed events are not sent again; records go after 30 days.
    await runCron(at + 600_000, { bindings: billingEnv });
    expect(takeHeld(held, "billing.stripe_event")).toEqual([]);
    const later = Math.ceil((Date.now() + 31 * 86_400_000) / 3_600_000) * 3_600_000;
    await runCron(later, { bindings: billingEnv });
    expect(await storedEvent(event.id)).toBeUndefined();
  });
});
