/**
 * Plans, Stripe Checkout, the billing portal, the subscription read, requirePlan(),
 * and who may call them. Stripe is faked at `fetch`: each test reads what the
 * Worker sent Stripe (form-encoded body, headers) exactly as Stripe would receive it.
 */
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { billingAccounts, billingSubscriptions, type Organization, organizations } from "../src/db/schema";
import { createRouter } from "../src/lib/create-router";
import { sha256Hex } from "../src/lib/crypto";
import { authenticate } from "../src/middleware/authenticate";
import { handleError } from "../src/middleware/error-handler";
import { requestContext } from "../src/middleware/request-context";
import { requireOrgAccess } from "../src/middleware/require";
import { requirePlan } from "../src/modules/billing/require-plan";
import { createUser, signIn, type TestUser } from "./support/factories";
import { api, jsonOf, problemOf } from "./support/http";
import { addMember, apiKeyHeaders, createApiKey, createOrg } from "./support/orgs";
import { securitySuite } from "./support/security";
import {
  APP,
  billingApi,
  billingEnv,
  fakeStripe,
  PRICES,
  STRIPE_TEST_KEY,
  stripeError,
  subscriptionObject,
  TEST_CATALOG,
} from "./support/stripe";

const db = getDb(env);

type Team = {
  org: Organization;
  owner: TestUser;
  tokens: Record<"owner" | "billing" | "admin" | "member" | "outsider", string>;
};

async function createTeam(options: { isPersonal?: boolean } = {}): Promise<Team> {
  const [owner, billing, admin, member, outsider] = await Promise.all([
    createUser(),
    createUser(),
    createUser(),
    createUser(),
    createUser(),
  ]);
  const org = await createOrg(owner.user, { name: "Acme Corp", isPersonal: options.isPersonal ?? false });
  await addMember(org, billing.user, "billing");
  await addMember(org, admin.user, "admin");
  await addMember(org, member.user, "member");
  const token = async (person: TestUser) => (await signIn(person.user)).accessToken;
  return {
    org,
    owner,
    tokens: {
      owner: await token(owner),
      billing: await token(billing),
      admin: await token(admin),
      member: await token(member),
      outsider: await token(outsider),
    },
  };
}

async function setSubscription(org: Organization, status: string, price: string = PRICES.pro) {
  await db
    .insert(billingSubscriptions)
    .values({
      stripeSubscriptionId: `sub_${org.id.replaceAll("-", "").slice(0, 20)}`,
      organizationId: org.id,
      stripeCustomerId: `cus_${org.id.replaceAll("-", "").slice(0, 12)}`,
      status,
      priceId: price,
      currentPeriodEnd: new Date("2026-12-21T09:30:00.000Z"),
      lastEventCreated: 1,
      lastEventId: "evt_seeded",
    })
    .onConflictDoUpdate({
      target: billingSubscriptions.stripeSubscriptionId,
      set: { status, priceId: price },
    });
}

const checkoutPath = (org: Organization) => `/api/v1/orgs/${org.id}/billing/checkout`;
const portalPath = (org: Organization) => `/api/v1/orgs/${org.id}/billing/portal`;

let team: Team;
let stripe: ReturnType<typeof fakeStripe>;

beforeAll(async () => {
  team = await createTeam();
});

beforeEach(() => {
  stripe = fakeStripe();
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("GET /api/v1/billing/plans", () => {
  it("lists the configured plans and credit packs, without credentials", async () => {
    const res = await billingApi("GET", "/api/v1/billing/plans");
    expect(await jsonOf(res, 200)).toEqual(TEST_CATALOG);
  });

  it("serves the placeholders of wrangler.toml when nothing else is configured", async () => {
    const body = await jsonOf<{ plans: Array<{ name: string }> }>(
      await api("GET", "/api/v1/billing/plans"),
      200,
    );
    expect(body.plans.map((plan) => plan.name)).toEqual(["Starter", "Pro"]);
  });
});

describe("POST /orgs/{org_id}/billing/checkout", () => {
  it("creates the organization's customer once, then a subscription Checkout Session with the right parameters", async () => {
    const fresh = await createTeam();
    const res = await billingApi("POST", checkoutPath(fresh.org), {
      token: fresh.tokens.owner,
      body: { price_id: PRICES.pro, mode: "subscription" },
    });
    const session = await jsonOf<{ id: string; url: string; expires_at: string }>(res, 200);
    expect(session.id).toMatch(/^cs_test_/);
    expect(session.url).toMatch(/^https:\/\/checkout\.stripe\.com\/c\/pay\/cs_test_/);
    expect(Date.parse(session.expires_at)).toBeGreaterThan(Date.now() + 23 * 3600_000);

    const [customerCall, ...moreCustomers] = stripe.calls("POST", "/v1/customers");
    expect(moreCustomers).toEqual([]);
    expect(customerCall?.headers.get("idempotency-key")).toBe(`customer:${fresh.org.id}`);
    expect(Object.fromEntries(customerCall?.params ?? [])).toEqual({
      name: "Acme Corp",
      "metadata[organization_id]": fresh.org.id,
    });
    const account = await db
      .select()
      .from(billingAccounts)
      .where(eq(billingAccounts.organizationId, fresh.org.id))
      .get();
    expect(account?.stripeCustomerId).toMatch(/^cus_/);

    const [call, ...more] = stripe.calls("POST", "/v1/checkout/sessions");
    expect(more).toEqual([]);
    expect(call?.headers.get("authorization")).toBe(`Bearer ${STRIPE_TEST_KEY}`);
    expect(call?.headers.get("content-type")).toBe("application/x-www-form-urlencoded");
    expect(call?.headers.get("stripe-version")).toBe("2026-10-28.endive");
    expect(call?.headers.get("idempotency-key")).toMatch(
      new RegExp(`^checkout:${fresh.org.id}:[0-9a-f]{64}$`),
    );
    expect(Object.fromEntries(call?.params ?? [])).toEqual({
      mode: "subscription",
      customer: account?.stripeCustomerId,
      client_reference_id: fresh.org.id,
      "line_items[0][price]": PRICES.pro,
      "line_items[0][quantity]": "1",
      success_url: `${APP}/orgs/${fresh.org.id}/billing?checkout=success&session_id={CHECKOUT_SESSION_ID}`,
      cancel_url: `${APP}/orgs/${fresh.org.id}/billing?checkout=canceled`,
      "metadata[organization_id]": fresh.org.id,
      "metadata[price_id]": PRICES.pro,
      "metadata[kind]": "plan",
      "metadata[plan]": "Pro",
      "subscription_data[metadata][organization_id]": fresh.org.id,
    });

    // The next checkout (a billing member, a credit pack) reuses the stored customer.
    const pack = await billingApi("POST", checkoutPath(fresh.org), {
      token: fresh.tokens.billing,
      body: { price_id: PRICES.pack, mode: "payment" },
    });
    await jsonOf(pack, 200);
    expect(stripe.calls("POST", "/v1/customers")).toHaveLength(1);
    const packCall = stripe.calls("POST", "/v1/checkout/sessions")[1];
    expect(Object.fromEntries(packCall?.params ?? [])).toMatchObject({
      mode: "payment",
      customer: account?.stripeCustomerId,
      "line_items[0][price]": PRICES.pack,
      "metadata[kind]": "credit_pack",
      "metadata[credits]": "50",
      "payment_intent_data[metadata][organization_id]": fresh.org.id,
    });
    expect(packCall?.params.has("subscription_data[metadata][organization_id]")).toBe(false);
  });

  it("concurrent first checkouts create one customer: the same Stripe idempotency key, one stored id", async () => {
    const fresh = await createTeam();
    const answers = await Promise.all(
      Array.from({ length: 5 }, () =>
        billingApi("POST", checkoutPath(fresh.org), {
          token: fresh.tokens.owner,
          body: { price_id: PRICES.pack, mode: "payment" },
        }).then((res) => jsonOf(res, 200)),
      ),
    );
    expect(answers).toHaveLength(5);
    const customerCalls = stripe.calls("POST", "/v1/customers");
    expect(new Set(customerCalls.map((call) => call.headers.get("idempotency-key")))).toEqual(
      new Set([`customer:${fresh.org.id}`]),
    );
    const account = await db
      .select()
      .from(billingAccounts)
      .where(eq(billingAccounts.organizationId, fresh.org.id))
      .get();
    const sessionCustomers = stripe
      .calls("POST", "/v1/checkout/sessions")
      .map((call) => call.params.get("customer"));
    expect(sessionCustomers).toEqual(Array(5).fill(account?.stripeCustomerId));
  });

  it("derives Stripe's Idempotency-Key from the client's: a retry is replayed and never opens a second session", async () => {
    const fresh = await createTeam();
    const clientKey = "5d0c1f7e-2b64-4a0e-9f3c-8a1d2e3f4b5c";
    const send = () =>
      billingApi("POST", checkoutPath(fresh.org), {
        token: fresh.tokens.owner,
        body: { price_id: PRICES.starter, mode: "subscription" },
        headers: { "Idempotency-Key": clientKey },
      });
    const first = await jsonOf<{ id: string }>(await send(), 200);
    const retry = await send();
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect((await jsonOf<{ id: string }>(retry, 200)).id).toBe(first.id);
    const calls = stripe.calls("POST", "/v1/checkout/sessions");
    expect(calls).toHaveLength(1);
    const ownerId = fresh.owner.user.id;
    expect(calls[0]?.headers.get("idempotency-key")).toBe(
      `checkout:${fresh.org.id}:${await sha256Hex(`client:user:${ownerId}:${clientKey}`)}`,
    );
  });

  const invalid: Array<[string, unknown, string, string | undefined]> = [
    [
      "an unknown price",
      { price_id: "price_1NotInTheCatalog000", mode: "subscription" },
      "unknown_price",
      "/price_id",
    ],
    [
      "a price that is not a Stripe price id",
      { price_id: "prod_123", mode: "payment" },
      "validation_failed",
      "/price_id",
    ],
    [
      "a credit pack with mode subscription",
      { price_id: PRICES.pack, mode: "subscription" },
      "validation_failed",
      "/mode",
    ],
    ["a plan with mode payment", { price_id: PRICES.pro, mode: "payment" }, "validation_failed", "/mode"],
    ["an unknown mode", { price_id: PRICES.pro, mode: "setup" }, "validation_failed", "/mode"],
    ["a missing mode", { price_id: PRICES.pro }, "validation_failed", "/mode"],
    [
      "an organization id slipped into the body",
      { price_id: PRICES.pro, mode: "subscription", organization_id: crypto.randomUUID() },
      "validation_failed",
      undefined,
    ],
    [
      "a huge price id",
      { price_id: `price_${"x".repeat(5000)}`, mode: "payment" },
      "validation_failed",
      "/price_id",
    ],
  ];
  for (const [label, body, code, pointer] of invalid) {
    it(`refuses ${label} with a 400 naming the field, before calling Stripe`, async () => {
      const problem = await problemOf(
        await billingApi("POST", checkoutPath(team.org), { token: team.tokens.owner, body }),
        400,
      );
      expect(problem.code).toBe(code);
      if (pointer) expect(problem.errors?.map((error) => error.pointer)).toContain(pointer);
      else expect(problem.errors?.length).toBeGreaterThan(0);
      expect(stripe.requests).toEqual([]);
    });
  }

  it("lists the known prices when the price is unknown", async () => {
    const problem = await problemOf(
      await billingApi("POST", checkoutPath(team.org), {
        token: team.tokens.owner,
        body: { price_id: "price_1NotInTheCatalog000", mode: "payment" },
      }),
      400,
    );
    expect(problem.price_ids).toEqual([PRICES.starter, PRICES.pro, PRICES.proYearly, PRICES.pack]);
  });

  it("refuses a body that is not JSON (415) and malformed JSON (400 malformed_json)", async () => {
    const form = await api("POST", checkoutPath(team.org), {
      token: team.tokens.owner,
      rawBody: `price_id=${PRICES.pack}&mode=payment`,
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect((await problemOf(form, 415)).code).toBe("unsupported_media_type");
    const broken = await api("POST", checkoutPath(team.org), {
      token: team.tokens.owner,
      rawBody: '{"price_id": ',
      headers: { "content-type": "application/json" },
    });
    expect((await problemOf(broken, 400)).code).toBe("malformed_json");
    expect(stripe.requests).toEqual([]);
  });

  it("409 subscription_exists when the organization already has a live subscription; credit packs are still sold", async () => {
    const fresh = await createTeam();
    await setSubscription(fresh.org, "past_due");
    const problem = await problemOf(
      await billingApi("POST", checkoutPath(fresh.org), {
        token: fresh.tokens.owner,
        body: { price_id: PRICES.starter, mode: "subscription" },
      }),
      409,
    );
    expect(problem).toMatchObject({ code: "subscription_exists", subscription_status: "past_due" });
    expect(stripe.calls("POST", "/v1/checkout/sessions")).toEqual([]);
    const pack = await billingApi("POST", checkoutPath(fresh.org), {
      token: fresh.tokens.owner,
      body: { price_id: PRICES.pack, mode: "payment" },
    });
    expect(pack.status).toBe(200);
    // After a cancellation the organization may subscribe again.
    await setSubscription(fresh.org, "canceled");
    const again = await billingApi("POST", checkoutPath(fresh.org), {
      token: fresh.tokens.owner,
      body: { price_id: PRICES.starter, mode: "subscription" },
    });
    expect(again.status).toBe(200);
  });
});

describe("POST /orgs/{org_id}/billing/portal", () => {
  it("opens a portal session for the organization's customer, returning to its billing page", async () => {
    const fresh = await createTeam();
    const res = await billingApi("POST", portalPath(fresh.org), { token: fresh.tokens.billing });
    const body = await jsonOf<{ url: string }>(res, 200);
    expect(body.url).toMatch(/^https:\/\/billing\.stripe\.com\/p\/session\/test_/);
    const account = await db
      .select()
      .from(billingAccounts)
      .where(eq(billingAccounts.organizationId, fresh.org.id))
      .get();
    const [call, ...more] = stripe.calls("POST", "/v1/billing_portal/sessions");
    expect(more).toEqual([]);
    expect(Object.fromEntries(call?.params ?? [])).toEqual({
      customer: account?.stripeCustomerId,
      return_url: `${APP}/orgs/${fresh.org.id}/billing`,
    });
    expect(call?.headers.get("idempotency-key")).toMatch(new RegExp(`^portal:${fresh.org.id}:[0-9a-f]{64}$`));
    expect(call?.headers.get("authorization")).toBe(`Bearer ${STRIPE_TEST_KEY}`);
  });
});

describe("when Stripe or the configuration fails", () => {
  it("503 billing_not_configured without STRIPE_SECRET_KEY: nothing sent anywhere", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    for (const path of [checkoutPath(team.org), portalPath(team.org)]) {
      const res = await api("POST", path, {
        token: team.tokens.owner,
        body: path.endsWith("checkout")
          ? { price_id: "price_REPLACE_pro_monthly", mode: "subscription" }
          : undefined,
      });
      expect((await problemOf(res, 503)).code).toBe("billing_not_configured");
    }
    expect(stripe.requests).toEqual([]);
  });

  it("503 billing_not_configured without the checkout return URLs", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await billingApi("POST", checkoutPath(team.org), {
      token: team.tokens.owner,
      body: { price_id: PRICES.pack, mode: "payment" },
      bindings: { ...billingEnv, BILLING_SUCCESS_URL: "" },
    });
    expect((await problemOf(res, 503)).code).toBe("billing_not_configured");
    expect(stripe.requests).toEqual([]);
  });

  it("502 payment_provider_error when Stripe refuses the request (e.g. a price deleted in Stripe)", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    stripe.route((request) =>
      request.path === "/v1/checkout/sessions"
        ? stripeError(400, "invalid_request_error", `No such price: '${PRICES.pack}'`, "resource_missing")
        : undefined,
    );
    const problem = await problemOf(
      await billingApi("POST", checkoutPath(team.org), {
        token: team.tokens.owner,
        body: { price_id: PRICES.pack, mode: "payment" },
      }),
      502,
    );
    expect(problem.code).toBe("payment_provider_error");
    expect(problem.detail).not.toContain("No such price");
  });

  it("503 payment_provider_unavailable with Retry-After when Stripe fails on its side", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    stripe.route((request) =>
      request.path === "/v1/billing_portal/sessions"
        ? stripeError(500, "api_error", "An unknown error occurred")
        : undefined,
    );
    const res = await billingApi("POST", portalPath(team.org), { token: team.tokens.owner });
    expect((await problemOf(res, 503)).code).toBe("payment_provider_unavailable");
    expect(res.headers.get("retry-after")).toBe("30");
  });
});

describe("GET /orgs/{org_id}/billing/subscription", () => {
  it('is status "none" before any subscription, then the plan, status and period', async () => {
    const fresh = await createTeam();
    const path = `/api/v1/orgs/${fresh.org.id}/billing/subscription`;
    expect(await jsonOf(await billingApi("GET", path, { token: fresh.tokens.owner }), 200)).toEqual({
      status: "none",
      plan: null,
      price_id: null,
      current_period_end: null,
      cancel_at_period_end: false,
      cancel_at: null,
      canceled_at: null,
      stripe_subscription_id: null,
    });
    await setSubscription(fresh.org, "trialing", PRICES.starter);
    expect(await jsonOf(await billingApi("GET", path, { token: fresh.tokens.admin }), 200)).toMatchObject({
      status: "trialing",
      plan: { name: "Starter", price_id: PRICES.starter, interval: "month", monthly_credits: 100 },
      current_period_end: "2026-12-21T09:30:00.000Z",
    });
  });
});

describe("who may call the billing routes", () => {
  type Caller = "owner" | "admin" | "member" | "billing" | "outsider" | "key_read" | "key_none";
  const matrix: Array<{
    route: string;
    method: string;
    path: (org: Organization) => string;
    body?: unknown;
    expect: Record<Caller, number>;
  }> = [
    {
      route: "POST checkout",
      method: "POST",
      path: checkoutPath,
      body: { price_id: PRICES.pack, mode: "payment" },
      expect: {
        owner: 200,
        billing: 200,
        admin: 403,
        member: 403,
        outsider: 404,
        key_read: 403,
        key_none: 403,
      },
    },
    {
      route: "POST portal",
      method: "POST",
      path: portalPath,
      expect: {
        owner: 200,
        billing: 200,
        admin: 403,
        member: 403,
        outsider: 404,
        key_read: 403,
        key_none: 403,
      },
    },
    {
      route: "GET subscription",
      method: "GET",
      path: (org) => `/api/v1/orgs/${org.id}/billing/subscription`,
      expect: {
        owner: 200,
        billing: 200,
        admin: 200,
        member: 403,
        outsider: 404,
        key_read: 200,
        key_none: 403,
      },
    },
    {
      route: "GET credits",
      method: "GET",
      path: (org) => `/api/v1/orgs/${org.id}/credits`,
      expect: {
        owner: 200,
        billing: 200,
        admin: 200,
        member: 403,
        outsider: 404,
        key_read: 200,
        key_none: 403,
      },
    },
  ];

  let keys: Record<"key_read" | "key_none", string>;
  beforeAll(async () => {
    keys = {
      key_read: (await createApiKey(team.org, { scopes: ["billing:read"] })).secret,
      key_none: (await createApiKey(team.org, { scopes: ["org:read", "tasks:read"] })).secret,
    };
  });

  for (const row of matrix) {
    it(`${row.route}: ${Object.entries(row.expect)
      .map(([caller, status]) => `${caller} ${status}`)
      .join(", ")}`, async () => {
      for (const [caller, status] of Object.entries(row.expect) as Array<[Caller, number]>) {
        const headers =
          caller === "key_read" || caller === "key_none"
            ? apiKeyHeaders(keys[caller])
            : { authorization: `Bearer ${team.tokens[caller]}` };
        const res = await billingApi(row.method, row.path(team.org), { headers, body: row.body });
        expect(res.status, caller).toBe(status);
        if (caller === "key_none" && row.method === "GET") {
          expect(await res.json(), caller).toMatchObject({
            code: "insufficient_scope",
            required_scopes: ["billing:read"],
          });
        }
      }
    });
  }

  it("an API key of another organization, and an unknown organization, get 404", async () => {
    const other = await createTeam();
    const otherKey = (await createApiKey(other.org, { scopes: ["billing:read"] })).secret;
    const res = await billingApi("GET", `/api/v1/orgs/${team.org.id}/credits`, {
      headers: apiKeyHeaders(otherKey),
    });
    expect((await problemOf(res, 404)).code).toBe("not_found");
    const unknown = await billingApi("POST", checkoutPath({ ...team.org, id: crypto.randomUUID() }), {
      token: team.tokens.owner,
      body: { price_id: PRICES.pack, mode: "payment" },
    });
    expect((await problemOf(unknown, 404)).code).toBe("not_found");
    const malformed = await billingApi("GET", "/api/v1/orgs/not-a-uuid/billing/subscription", {
      token: team.tokens.owner,
    });
    expect((await problemOf(malformed, 400)).errors?.[0]).toMatchObject({
      parameter: "org_id",
      location: "path",
    });
  });
});

for (const [name, method, path, body] of [
  ["POST /orgs/{org_id}/billing/checkout", "POST", checkoutPath, { price_id: PRICES.pack, mode: "payment" }],
  ["POST /orgs/{org_id}/billing/portal", "POST", portalPath, undefined],
  [
    "GET /orgs/{org_id}/billing/subscription",
    "GET",
    (org: Organization) => `/api/v1/orgs/${org.id}/billing/subscription`,
    undefined,
  ],
  ["GET /orgs/{org_id}/credits", "GET", (org: Organization) => `/api/v1/orgs/${org.id}/credits`, undefined],
] as const) {
  securitySuite(name, {
    method,
    path: () => path(team.org),
    body,
    forbidden: async () => ({ authorization: `Bearer ${team.tokens.member}` }),
    notOwned: async () => ({
      path: path(team.org),
      headers: { authorization: `Bearer ${team.tokens.outsider}` },
    }),
  });
}

describe("requirePlan()", () => {
  /** A route sold with the Pro plan, behind the same middleware chain the app uses. */
  const premium = createRouter();
  premium.use(requestContext());
  premium.use(authenticate());
  premium.get("/orgs/:org_id/premium", requireOrgAccess("org:read"), requirePlan("Pro"), (c) =>
    c.json({ ok: true }),
  );
  premium.get("/orgs/:org_id/any-plan", requireOrgAccess("org:read"), requirePlan(), (c) =>
    c.json({ ok: true }),
  );
  premium.onError(handleError);
  const call = (org: Organization, route: string, token: string) =>
    premium.request(
      `/orgs/${org.id}/${route}`,
      { headers: { authorization: `Bearer ${token}` } },
      billingEnv,
      createExecutionContext(),
    );

  it("402 plan_required without an entitled subscription, 200 with one", async () => {
    const fresh = await createTeam();
    const none = await problemOf(await call(fresh.org, "premium", fresh.tokens.member), 402);
    expect(none).toMatchObject({
      code: "plan_required",
      required_plans: ["Pro"],
      current_plan: null,
      subscription_status: "none",
    });

    await setSubscription(fresh.org, "active", PRICES.starter);
    const starter = await problemOf(await call(fresh.org, "premium", fresh.tokens.member), 402);
    expect(starter).toMatchObject({ current_plan: "Starter", subscription_status: "active" });
    expect((await call(fresh.org, "any-plan", fresh.tokens.member)).status).toBe(200);

    await setSubscription(fresh.org, "past_due", PRICES.pro);
    expect((await call(fresh.org, "premium", fresh.tokens.member)).status).toBe(200);

    await setSubscription(fresh.org, "canceled", PRICES.pro);
    expect(await problemOf(await call(fresh.org, "premium", fresh.tokens.member), 402)).toMatchObject({
      current_plan: null,
      subscription_status: "canceled",
    });
    // The organization guard still comes first: outsiders learn nothing.
    expect((await call(fresh.org, "premium", fresh.tokens.outsider)).status).toBe(404);
  });
});

describe("deleting an organization", () => {
  it("cancels its live Stripe subscription first", async () => {
    const fresh = await createTeam();
    await setSubscription(fresh.org, "active");
    const subscriptionId = `sub_${fresh.org.id.replaceAll("-", "").slice(0, 20)}`;
    stripe.subscriptions.set(subscriptionId, subscriptionObject({ id: subscriptionId, customer: "cus_x" }));
    const res = await billingApi("DELETE", `/api/v1/orgs/${fresh.org.id}`, { token: fresh.tokens.owner });
    expect(res.status).toBe(204);
    const [cancel, ...more] = stripe.calls("DELETE", `/v1/subscriptions/${subscriptionId}`);
    expect(more).toEqual([]);
    expect(cancel?.headers.get("idempotency-key")).toBe(`cancel-on-delete:${subscriptionId}`);
    expect(await db.select().from(organizations).where(eq(organizations.id, fresh.org.id))).toEqual([]);
    expect(
      await db
        .select()
        .from(billingSubscriptions)
        .where(eq(billingSubscriptions.organizationId, fresh.org.id)),
    ).toEqual([]);
  });

  it("is refused (503) while Stripe cannot cancel the subscription: nothing is deleted", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const fresh = await createTeam();
    await setSubscription(fresh.org, "active");
    stripe.route((request) =>
      request.method === "DELETE" ? stripeError(500, "api_error", "An unknown error occurred") : undefined,
    );
    const res = await billingApi("DELETE", `/api/v1/orgs/${fresh.org.id}`, { token: fresh.tokens.owner });
    expect((await problemOf(res, 503)).code).toBe("payment_provider_unavailable");
    expect(await db.select().from(organizations).where(eq(organizations.id, fresh.org.id))).toHaveLength(1);
  });

  it("needs no Stripe call when nothing is subscribed", async () => {
    const fresh = await createTeam();
    await setSubscription(fresh.org, "canceled");
    expect((await api("DELETE", `/api/v1/orgs/${fresh.org.id}`, { token: fresh.tokens.owner })).status).toBe(
      204,
    );
    expect(stripe.requests).toEqual([]);
  });
});

describe("OpenAPI", () => {
  it("documents every billing route under the Billing tag, with its problems", async () => {
    const doc = await jsonOf<{
      paths: Record<string, Record<string, { tags: string[]; responses: Record<string, unknown> }>>;
    }>(await api("GET", "/api/openapi.json"), 200);
    const routes: Array<[string, string, string[]]> = [
      ["/api/v1/billing/plans", "get", ["200"]],
      [
        "/api/v1/orgs/{org_id}/billing/checkout",
        "post",
        ["200", "400", "401", "403", "404", "409", "502", "503"],
      ],
      ["/api/v1/orgs/{org_id}/billing/portal", "post", ["200", "401", "403", "404", "502", "503"]],
      ["/api/v1/orgs/{org_id}/billing/subscription", "get", ["200", "401", "403", "404"]],
      ["/api/v1/orgs/{org_id}/credits", "get", ["200", "400", "401", "403", "404"]],
      ["/api/v1/webhooks/stripe", "post", ["200", "400", "413", "503"]],
    ];
    for (const [path, method, statuses] of routes) {
      const operation = doc.paths[path]?.[method];
      expect(operation?.tags, path).toEqual(["Billing"]);
      for (const status of statuses) expect(operation?.responses, `${path} ${status}`).toHaveProperty(status);
    }
  });
});
