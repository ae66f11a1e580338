/**
 * Credits: the ledger and the balance move together, debits never overdraw under
 * concurrency, tasks are charged to the right organization (402 when short),
 * refunds, low-credit alerts, the ledger API, and the database refusing edits of
 * the ledger. Credits are seeded through the service, the way a paid invoice does.
 */
import { env } from "cloudflare:workers";
import { and, eq, sql } from "drizzle-orm";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { billingAccounts, creditLedger, notifications, type Organization, type User } from "../src/db/schema";
import { getConfig } from "../src/env";
import { ProblemError } from "../src/lib/problem";
import { addCredits, creditBalance, spendCredits } from "../src/modules/billing/credits.service";
import { systemOrgContext } from "../src/modules/orgs/org-context";
import { taskTypes } from "../src/modules/tasks/task-types";
import type { TaskDto } from "../src/modules/tasks/tasks.schemas";
import { createUser, serviceContext, signIn } from "./support/factories";
import { api, jsonOf, type Page, type Problem, problemOf } from "./support/http";
import { watchMailbox } from "./support/mailbox";
import { addMember, apiKeyHeaders, createApiKey, createOrg } from "./support/orgs";
import { billingApi, billingEnv, type CreditsPage, runJobs, takeHeld } from "./support/stripe";
import { deliver, holdJobsQueue, taskRow } from "./support/tasks";

const db = getDb(env);
let grantSeq = 0;

async function grant(org: Organization, amount: number): Promise<void> {
  const octx = await systemOrgContext(serviceContext(), org.id, "test");
  grantSeq += 1;
  const result = await addCredits(octx, {
    kind: "grant",
    amount,
    reference: `test-grant:${grantSeq}`,
    description: "Test credits",
  });
  expect(result.status).toBe("applied");
}

async function balanceOf(org: Organization): Promise<number> {
  return creditBalance(await systemOrgContext(serviceContext(), org.id, "test"));
}

async function ledgerOf(org: Organization) {
  return db.select().from(creditLedger).where(eq(creditLedger.organizationId, org.id));
}

/** Sum of the ledger's amounts: must always equal the balance. */
async function ledgerSum(org: Organization): Promise<number> {
  const [row] = await db
    .select({ total: sql<number>`coalesce(sum(${creditLedger.amount}), 0)` })
    .from(creditLedger)
    .where(eq(creditLedger.organizationId, org.id));
  return row?.total ?? 0;
}

/** Gives a task type a cost for one test (the built-in types are free), restored afterwards. */
const costs = new Map<keyof typeof taskTypes, number>();
function priceTaskType(name: keyof typeof taskTypes, credits: number): void {
  if (!costs.has(name)) costs.set(name, taskTypes[name].creditCost);
  taskTypes[name].creditCost = credits;
}

let held: ReturnType<typeof holdJobsQueue>["held"];

beforeEach(() => {
  held = holdJobsQueue().held;
});

afterEach(() => {
  for (const [name, credits] of costs) taskTypes[name].creditCost = credits;
  costs.clear();
  vi.restoreAllMocks();
});

describe("concurrent debits", () => {
  it("50 concurrent task creations against 10 credits: exactly 10 succeed, 40 get 402, the ledger sums to the balance", async () => {
    const owner = await createUser();
    const org = await createOrg(owner.user);
    const key = (await createApiKey(org, { scopes: ["tasks:read", "tasks:write"] })).secret;
    await grant(org, 10);
    priceTaskType("process_data", 1);

    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        api("POST", "/api/v1/tasks", {
          headers: apiKeyHeaders(key),
          body: { type: "process_data", payload: { items: [i] } },
        }),
      ),
    );
    const statuses = responses.map((res) => res.status);
    expect(statuses.filter((status) => status === 202)).toHaveLength(10);
    expect(statuses.filter((status) => status === 402)).toHaveLength(40);
    const refused = await Promise.all(
      responses.filter((res) => res.status === 402).map((res) => problemOf(res, 402)),
    );
    for (const problem of refused) {
      expect(problem).toMatchObject({
        code: "insufficient_credits",
        required: 1,
        balance: 0,
        organization_id: org.id,
      });
    }

    expect(await balanceOf(org)).toBe(0);
    expect(await ledgerSum(org)).toBe(0);
    const ledger = await ledgerOf(org);
    expect(ledger.filter((entry) => entry.kind === "usage")).toHaveLength(10);
    // Every entry's balance_after is distinct: the debits were applied one after another, never on a stale balance.
    expect(new Set(ledger.map((entry) => entry.balanceAfter)).size).toBe(ledger.length);
    // Only the paid tasks exist.
    const tasks = await jsonOf<Page<TaskDto>>(
      await api("GET", "/api/v1/tasks", { headers: apiKeyHeaders(key) }),
      200,
    );
    expect(tasks.meta.total).toBe(10);
  });

  it("the same through the service: 50 spends of 1 against 10, each with its own reference", async () => {
    const owner = await createUser();
    const org = await createOrg(owner.user);
    await grant(org, 10);
    const octx = await systemOrgContext(serviceContext(), org.id, "test");
    const outcomes = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) =>
        spendCredits(octx, { amount: 1, reference: `spend:${i}`, description: "Concurrent spend" }),
      ),
    );
    expect(outcomes.filter((outcome) => outcome.status === "fulfilled")).toHaveLength(10);
    const failures = outcomes.flatMap((outcome) => (outcome.status === "rejected" ? [outcome.reason] : []));
    expect(failures).toHaveLength(40);
    for (const failure of failures) {
      expect(failure).toBeInstanceOf(ProblemError);
      expect(failure).toMatchObject({ status: 402, code: "insufficient_credits" });
    }
    expect(await balanceOf(org)).toBe(0);
    expect(await ledgerSum(org)).toBe(await balanceOf(org));
  });

  it("spending under one reference twice (a retry) charges once", async () => {
    const owner = await createUser();
    const org = await createOrg(owner.user);
    await grant(org, 5);
    const octx = await systemOrgContext(serviceContext(), org.id, "test");
    const [first, second] = await Promise.all([
      spendCredits(octx, { amount: 3, reference: "once", description: "Once" }),
      spendCredits(octx, { amount: 3, reference: "once", description: "Once" }),
    ]);
    expect([first.status, second.status].sort()).toEqual(["applied", "duplicate"]);
    expect(await balanceOf(org)).toBe(2);
  });

  it("refuses amounts that are not positive whole numbers (a bug in the caller)", async () => {
    const owner = await createUser();
    const org = await createOrg(owner.user);
    const octx = await systemOrgContext(serviceContext(), org.id, "test");
    for (const amount of [0, -1, 1.5, Number.NaN]) {
      await expect(
        spendCredits(octx, { amount, reference: `bad:${amount}`, description: "x" }),
      ).rejects.toThrow();
      await expect(
        addCredits(octx, { kind: "grant", amount, reference: `bad-grant:${amount}`, description: "x" }),
      ).rejects.toThrow();
    }
    expect(await ledgerOf(org)).toEqual([]);
  });
});

describe("what tasks cost", () => {
  let person: User;
  let personal: Organization;
  let team: Organization;
  let token: string;

  beforeAll(async () => {
    person = (await createUser()).user;
    personal = await createOrg(person, { isPersonal: true, name: "Ada's organization" });
    // A team the person belongs to, rich in credits: it must never pay for the person's own tasks.
    const teamOwner = await createUser();
    team = await createOrg(teamOwner.user);
    await addMember(team, person, "admin");
    await grant(team, 1000);
    token = (await signIn(person)).accessToken;
  });

  const createTask = (body: Record<string, unknown>, auth: string = token) =>
    api("POST", "/api/v1/tasks", { token: auth, body });

  it("a person's task is paid by their personal organization, at creation", async () => {
    await grant(personal, 5);
    priceTaskType("sleep", 2);
    const task = await jsonOf<TaskDto>(await createTask({ type: "sleep", payload: { seconds: 1 } }), 202);
    expect(await balanceOf(personal)).toBe(3);
    expect(await balanceOf(team)).toBe(1000);
    const [usage] = (await ledgerOf(personal)).filter((entry) => entry.kind === "usage");
    expect(usage).toMatchObject({
      amount: -2,
      balanceAfter: 3,
      reference: `task:${task.id}`,
      description: "Task sleep",
    });
  });

  it("short of credits: 402 insufficient_credits and no task", async () => {
    priceTaskType("process_data", 1_000_000);
    const before = await jsonOf<Page<TaskDto>>(await api("GET", "/api/v1/tasks", { token }), 200);
    const problem: Problem = await problemOf(
      await createTask({ type: "process_data", payload: { items: [1, 2] } }),
      402,
    );
    expect(problem).toMatchObject({
      type: "/problems/insufficient_credits",
      title: "Payment Required",
      code: "insufficient_credits",
      required: 1_000_000,
      organization_id: personal.id,
    });
    expect(problem.detail).toContain("1000000 credits");
    const after = await jsonOf<Page<TaskDto>>(await api("GET", "/api/v1/tasks", { token }), 200);
    expect(after.meta.total).toBe(before.meta.total);
    expect(held).toEqual([]);
  });

  it("free types cost nothing and need no organization at all", async () => {
    const loner = await createUser();
    const res = await createTask(
      { type: "add", payload: { x: 1, y: 2 } },
      (await signIn(loner.user)).accessToken,
    );
    expect(res.status).toBe(202);
  });

  it("a person without a personal organization cannot run a paid type (402, nobody to charge)", async () => {
    const loner = await createUser();
    priceTaskType("sleep", 1);
    const problem = await problemOf(
      await createTask({ type: "sleep", payload: { seconds: 1 } }, (await signIn(loner.user)).accessToken),
      402,
    );
    expect(problem).toMatchObject({
      code: "insufficient_credits",
      organization_id: null,
      balance: 0,
      required: 1,
    });
  });

  it("a task cancelled before it ran gets its credits back, once", async () => {
    await grant(personal, 4);
    priceTaskType("sleep", 4);
    const start = await balanceOf(personal);
    const task = await jsonOf<TaskDto>(await createTask({ type: "sleep", payload: { seconds: 5 } }), 202);
    expect(await balanceOf(personal)).toBe(start - 4);
    expect((await api("POST", `/api/v1/tasks/${task.id}/cancel`, { token })).status).toBe(200);
    expect(await balanceOf(personal)).toBe(start);
    expect((await api("POST", `/api/v1/tasks/${task.id}/cancel`, { token })).status).toBe(409);
    expect(await balanceOf(personal)).toBe(start);
    const refunds = (await ledgerOf(personal)).filter(
      (entry) => entry.reference === `task-refund:${task.id}`,
    );
    expect(refunds).toEqual([expect.objectContaining({ kind: "refund", amount: 4 })]);
    expect(await ledgerSum(personal)).toBe(await balanceOf(personal));
  });

  it("the first run does not charge again a task paid at creation", async () => {
    await grant(personal, 1);
    priceTaskType("add", 1);
    const task = await jsonOf<TaskDto>(await createTask({ type: "add", payload: { x: 1, y: 1 } }), 202);
    const paid = await balanceOf(personal);
    expect(await deliver(task.id)).toMatchObject({ acked: true });
    expect((await taskRow(task.id))?.status).toBe("SUCCESS");
    expect(await balanceOf(personal)).toBe(paid);
  });

  it("a task not charged at creation is charged at its first run; short then, it fails at once without retrying", async () => {
    const key = (await createApiKey(team, { scopes: ["tasks:read", "tasks:write"] })).secret;
    const broke = await createOrg((await createUser()).user);
    const brokeKey = (await createApiKey(broke, { scopes: ["tasks:read", "tasks:write"] })).secret;
    // Created while the type was free (e.g. before its price was set)…
    const richTask = await jsonOf<TaskDto>(
      await api("POST", "/api/v1/tasks", {
        headers: apiKeyHeaders(key),
        body: { type: "add", payload: { x: 2, y: 3 } },
      }),
      202,
    );
    const poorTask = await jsonOf<TaskDto>(
      await api("POST", "/api/v1/tasks", {
        headers: apiKeyHeaders(brokeKey),
        body: { type: "add", payload: { x: 2, y: 3 } },
      }),
      202,
    );
    // …and run once it costs 7.
    priceTaskType("add", 7);
    const before = await balanceOf(team);
    await deliver(richTask.id);
    expect(await balanceOf(team)).toBe(before - 7);
    expect((await taskRow(richTask.id))?.status).toBe("SUCCESS");

    expect(await deliver(poorTask.id)).toMatchObject({ acked: true, retried: false });
    expect(await taskRow(poorTask.id)).toMatchObject({
      status: "FAILURE",
      error: { code: "insufficient_credits" },
      deadLettered: false,
    });
    expect(await ledgerOf(broke)).toEqual([]);
  });
});

describe("low-credit alerts", () => {
  it("the debit that takes the balance below the threshold alerts owners and billing members, once", async () => {
    const [owner, billing, member] = await Promise.all([createUser(), createUser(), createUser()]);
    const org = await createOrg(owner.user, { name: "Globex" });
    await addMember(org, billing.user, "billing");
    await addMember(org, member.user, "member");
    const key = (await createApiKey(org, { scopes: ["tasks:write"] })).secret;
    const threshold = getConfig(env).BILLING_LOW_CREDITS_THRESHOLD;
    await grant(org, threshold + 2);
    priceTaskType("add", 1);
    const spend = () =>
      api("POST", "/api/v1/tasks", {
        headers: apiKeyHeaders(key),
        body: { type: "add", payload: { x: 0, y: 0 } },
      });

    await spend();
    await spend(); // balance = threshold: not below yet
    expect(takeHeld(held, "billing.credits_low")).toEqual([]);
    await spend(); // threshold - 1: crosses
    await spend(); // threshold - 2: already below, no second alert
    const alerts = takeHeld(held, "billing.credits_low");
    expect(alerts.map((message) => message.body)).toEqual([
      {
        type: "billing.credits_low",
        organization_id: org.id,
        credits_remaining: threshold - 1,
        d1_bookmark: expect.any(String), // the debit's, so the alert reads the new balance
      },
    ]);

    const mailbox = watchMailbox();
    await runJobs(alerts);
    for (const person of [owner, billing]) {
      const [notice, ...more] = await db
        .select()
        .from(notifications)
        .where(and(eq(notifications.userId, person.user.id), eq(notifications.type, "billing_alert")));
      expect(more).toEqual([]);
      expect(notice).toMatchObject({
        title: "Globex is running low on credits",
        data: { organization_id: org.id, alert: "credits_low", credits_remaining: threshold - 1 },
      });
      expect((await mailbox.next(person.email, "billing_alert")).data).toMatchObject({
        alert: "credits_low",
        credits_remaining: threshold - 1,
        organization_name: "Globex",
      });
    }
    expect(mailbox.for(member.email)).toEqual([]);
  });

  it("an alert for an organization deleted meanwhile is acknowledged and dropped", async () => {
    const { acked } = await runJobs([
      { body: { type: "billing.credits_low", organization_id: crypto.randomUUID(), credits_remaining: 1 } },
    ]);
    expect(acked).toHaveLength(1);
  });
});

describe("GET /orgs/{org_id}/credits", () => {
  let org: Organization;
  let token: string;

  beforeAll(async () => {
    const owner = await createUser();
    org = await createOrg(owner.user);
    token = (await signIn(owner.user)).accessToken;
    for (const amount of [10, 20, 30]) await grant(org, amount);
    const octx = await systemOrgContext(serviceContext(), org.id, "test");
    await spendCredits(octx, { amount: 5, reference: "usage:1", description: "Task process_data" });
    await spendCredits(octx, { amount: 7, reference: "usage:2", description: "Task sleep" });
  });

  const get = (query = "") => billingApi("GET", `/api/v1/orgs/${org.id}/credits${query}`, { token });

  it("answers the balance and the ledger, newest first, in cursor pages with a Link header", async () => {
    const first = await get("?limit=2");
    const page = await jsonOf<CreditsPage>(first, 200);
    expect(page.balance).toBe(48);
    expect(page.meta.total).toBe(5);
    expect(page.data.map((entry) => entry.amount)).toEqual([-7, -5]);
    expect(first.headers.get("link")).toContain('rel="next"');
    const second = await jsonOf<CreditsPage>(await get(`?limit=2&cursor=${page.meta.next}`), 200);
    expect(second.data.map((entry) => entry.amount)).toEqual([30, 20]);
    const all = await jsonOf<CreditsPage>(await get("?sort=created_at"), 200);
    expect(all.data.map((entry) => entry.amount)).toEqual([10, 20, 30, -5, -7]);
    expect(all.data.reduce((sum, entry) => sum + entry.amount, 0)).toBe(all.balance);
  });

  it("filters by kind", async () => {
    const usage = await jsonOf<CreditsPage>(await get("?filter[kind]=usage"), 200);
    expect(usage.data.map((entry) => entry.kind)).toEqual(["usage", "usage"]);
    expect(usage.meta.total).toBe(2);
  });

  it("names the bad parameter: unknown filter, unknown kind, sort, limit, cursor", async () => {
    const cases: Array<[string, string, string]> = [
      ["?filter[amount]=5", "filter[amount]", "validation_failed"],
      ["?filter[kind]=bonus", "filter[kind]", "validation_failed"],
      ["?sort=amount", "sort", "validation_failed"],
      ["?limit=1000", "limit", "validation_failed"],
      ["?cursor=not-a-cursor", "cursor", "invalid_cursor"],
    ];
    for (const [query, parameter, code] of cases) {
      const problem = await problemOf(await get(query), 400);
      expect(problem.code, query).toBe(code);
      expect(
        problem.errors?.map((error) => error.parameter),
        query,
      ).toContain(parameter);
    }
  });

  it("an organization that never had credits has a balance of 0 and an empty ledger", async () => {
    const owner = await createUser();
    const empty = await createOrg(owner.user);
    const res = await billingApi("GET", `/api/v1/orgs/${empty.id}/credits`, {
      token: (await signIn(owner.user)).accessToken,
    });
    expect(await jsonOf(res, 200)).toEqual({
      balance: 0,
      low_credits_threshold: 5,
      data: [],
      meta: { next: null, prev: null, total: 0 },
    });
  });
});

/** What D1 said when it refused a statement (drizzle wraps it as the error's cause). */
async function databaseError(statement: PromiseLike<unknown>): Promise<string> {
  try {
    await statement;
  } catch (error) {
    return String((error as { cause?: unknown }).cause ?? error);
  }
  throw new Error("the statement was expected to fail");
}

describe("the ledger in the database", () => {
  it("refuses UPDATE and DELETE of ledger rows; the balance cannot go negative", async () => {
    const owner = await createUser();
    const org = await createOrg(owner.user);
    await grant(org, 3);
    expect(
      await databaseError(
        db.update(creditLedger).set({ amount: 1_000 }).where(eq(creditLedger.organizationId, org.id)),
      ),
    ).toMatch(/credit_ledger is append-only: rows cannot be updated/);
    expect(
      await databaseError(db.delete(creditLedger).where(eq(creditLedger.organizationId, org.id))),
    ).toMatch(/credit_ledger is append-only/);
    expect(
      await databaseError(
        db
          .update(billingAccounts)
          .set({ creditBalance: -1 })
          .where(eq(billingAccounts.organizationId, org.id)),
      ),
    ).toMatch(/CHECK constraint failed/);
    expect(await ledgerSum(org)).toBe(3);
  });

  it("goes with its organization (ON DELETE CASCADE)", async () => {
    const owner = await createUser();
    const org = await createOrg(owner.user);
    await grant(org, 3);
    const res = await api("DELETE", `/api/v1/orgs/${org.id}`, {
      token: (await signIn(owner.user)).accessToken,
    });
    expect(res.status).toBe(204);
    expect(await ledgerOf(org)).toEqual([]);
    expect(await db.select().from(billingAccounts).where(eq(billingAccounts.organizationId, org.id))).toEqual(
      [],
    );
  });
});

describe("configuration", () => {
  const withPlans = (value: string) => ({ ...billingEnv, BILLING_PLANS: value });

  it.each([
    ["not JSON", "{plans:", /BILLING_PLANS: must be JSON/],
    [
      "a price id that is not one",
      '{"plans":[{"name":"Pro","price_id":"prod_1","interval":"month","monthly_credits":1}]}',
      /BILLING_PLANS\.plans\.0\.price_id/,
    ],
    [
      "a price used twice",
      `{"plans":[{"name":"A","price_id":"price_1","interval":"month","monthly_credits":1}],"credit_packs":[{"name":"B","price_id":"price_1","credits":5}]}`,
      /price ids must be unique: price_1/,
    ],
    [
      "an unknown interval",
      '{"plans":[{"name":"A","price_id":"price_1","interval":"week","monthly_credits":1}]}',
      /BILLING_PLANS\.plans\.0\.interval/,
    ],
    [
      "a misspelt field",
      '{"plans":[{"name":"A","price_id":"price_1","interval":"month","monthly_credit":1}]}',
      /BILLING_PLANS\.plans\.0/,
    ],
    [
      "negative credits",
      '{"credit_packs":[{"name":"A","price_id":"price_1","credits":-5}]}',
      /BILLING_PLANS\.credit_packs\.0\.credits/,
    ],
  ])("refuses BILLING_PLANS with %s, naming it", (_label, value, message) => {
    expect(() => getConfig(withPlans(value))).toThrow(message);
  });

  it("refuses malformed Stripe secrets and URLs", () => {
    expect(() => getConfig({ ...billingEnv, STRIPE_SECRET_KEY: "pk_test_publishable" })).toThrow(
      /STRIPE_SECRET_KEY/,
    );
    expect(() => getConfig({ ...billingEnv, STRIPE_WEBHOOK_SECRET: "secret" })).toThrow(
      /STRIPE_WEBHOOK_SECRET/,
    );
    expect(() => getConfig({ ...billingEnv, BILLING_SUCCESS_URL: "javascript:alert(1)" })).toThrow(
      /BILLING_SUCCESS_URL/,
    );
    expect(() => getConfig({ ...billingEnv, BILLING_LOW_CREDITS_THRESHOLD: "-1" })).toThrow(
      /BILLING_LOW_CREDITS_THRESHOLD/,
    );
  });

  it("a broken BILLING_PLANS answers 500 configuration_error, never a half-working billing", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await billingApi("GET", "/api/v1/billing/plans", { bindings: withPlans("[]") });
    expect((await problemOf(res, 500)).code).toBe("configuration_error");
  });
});
