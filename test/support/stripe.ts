/**
 * Stripe, faked only where the Worker meets it:
 *
 * - API calls: `fakeStripe()` replaces `fetch` (vi.spyOn(globalThis, "fetch")) and
 *   answers the requests the SDK sends to api.stripe.com with the JSON bodies
 *   Stripe's API returns (customers, checkout sessions, billing portal sessions,
 *   subscriptions), honouring Idempotency-Key like Stripe does (same key → same
 *   object). Each request is recorded: method, path, form-decoded body, headers.
 * - Webhooks: events built with Stripe's object shapes (API 2025-03-31 and later)
 *   and signed exactly as Stripe signs them: HMAC-SHA256 over `${t}.${payload}` with
 *   the endpoint secret, sent as `Stripe-Signature: t=…,v1=…`.
 *
 * Billing needs Stripe secrets the test run does not have (vitest.config.ts blanks
 * every secret), so billing requests go to the Worker with `billingEnv`: the test
 * bindings plus test keys, plans and URLs.
 */
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { z } from "@hono/zod-openapi";
import { vi } from "vitest";
import type { Bindings } from "../../src/env";
import worker from "../../src/index";
import type { CreditsPageSchema } from "../../src/modules/billing/billing.schemas";
import { runQueueBatch } from "./background";
import { apiWith, type RequestOptions } from "./http";
import type { HeldMessage } from "./tasks";

// Test fixtures, not real secrets: the suite fakes Stripe at the fetch boundary and signs its own webhooks
// with WEBHOOK_SECRET (made up; no Stripe account has it).
export const STRIPE_TEST_KEY = "sk_test_51QeZ0aF2kLmN0pQrTestKeyForTheWorkerSuite00";
export const WEBHOOK_SECRET = "whsec_2c6d1f0e9b8a7c6d5e4f3a2b1c0d9e8f";

export const PRICES = {
  starter: "price_1QeZ3aF2kLmN0pQrStarterMonth",
  pro: "price_1QeZ4bF2kLmN0pQrProMonth0000",
  proYearly: "price_1QeZ4bF2kLmN0pQrProYear00000",
  pack: "price_1QeZ5cF2kLmN0pQrCreditPack50",
} as const;

export const TEST_CATALOG = {
  plans: [
    { name: "Starter", price_id: PRICES.starter, interval: "month", monthly_credits: 100 },
    { name: "Pro", price_id: PRICES.pro, interval: "month", monthly_credits: 500 },
    { name: "Pro yearly", price_id: PRICES.proYearly, interval: "year", monthly_credits: 500 },
  ],
  credit_packs: [{ name: "50 credits", price_id: PRICES.pack, credits: 50 }],
};

export const APP = "https://app.example.test";

/** The test bindings with Stripe configured. One object, so its configuration is parsed once. */
export const billingEnv: Bindings = {
  ...env,
  STRIPE_SECRET_KEY: STRIPE_TEST_KEY,
  STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
  BILLING_PLANS: JSON.stringify(TEST_CATALOG),
  BILLING_SUCCESS_URL: `${APP}/orgs/{ORGANIZATION_ID}/billing?checkout=success&session_id={CHECKOUT_SESSION_ID}`,
  BILLING_CANCEL_URL: `${APP}/orgs/{ORGANIZATION_ID}/billing?checkout=canceled`,
  BILLING_PORTAL_RETURN_URL: `${APP}/orgs/{ORGANIZATION_ID}/billing`,
  BILLING_LOW_CREDITS_THRESHOLD: "5",
};

/** GET /orgs/{org_id}/credits: the balance, the alert threshold and a page of the credit ledger. */
export type CreditsPage = z.infer<typeof CreditsPageSchema>;

/** A request to the Worker with `bindings` (billingEnv unless given), sent as api() sends one. */
export function billingApi(
  method: string,
  path: string,
  options: RequestOptions & { bindings?: Bindings } = {},
): Promise<Response> {
  const { bindings = billingEnv, ...request } = options;
  return apiWith(bindings, method, path, request);
}

// ---------------------------------------------------------------------------
// The Stripe API at the fetch boundary

export type StripeRequest = {
  method: string;
  path: string;
  /** The form-encoded body the SDK sent (or the query string of a GET). */
  params: URLSearchParams;
  headers: Headers;
};

type Reply = { status: number; body: unknown; headers?: Record<string, string> };
type Route = (request: StripeRequest) => Reply | undefined;

const now = () => Math.floor(Date.now() / 1000);
const suffix = (length = 14) =>
  Array.from(crypto.getRandomValues(new Uint8Array(length)), (byte) =>
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".charAt(byte % 62),
  ).join("");

/**
 * An error as Stripe answers it. `Stripe-Should-Retry: false` (which Stripe sends on
 * errors it knows a retry cannot fix) keeps the SDK from retrying with backoff.
 */
export function stripeError(status: number, type: string, message: string, code?: string): Reply {
  return {
    status,
    headers: { "stripe-should-retry": "false" },
    body: {
      error: {
        ...(code
          ? { code, doc_url: `https://stripe.com/docs/error-codes/${code.replaceAll("_", "-")}` }
          : {}),
        message,
        request_log_url: `https://dashboard.stripe.com/test/logs/req_${suffix()}`,
        type,
      },
    },
  };
}

export function customerObject(id: string, params: URLSearchParams) {
  return {
    id,
    object: "customer",
    address: null,
    balance: 0,
    created: now(),
    currency: null,
    default_source: null,
    delinquent: false,
    description: null,
    discount: null,
    email: null,
    invoice_prefix: suffix(8).toUpperCase(),
    invoice_settings: {
      custom_fields: null,
      default_payment_method: null,
      footer: null,
      rendering_options: null,
    },
    livemode: false,
    metadata: { organization_id: params.get("metadata[organization_id]") },
    name: params.get("name"),
    next_invoice_sequence: 1,
    phone: null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: "none",
    test_clock: null,
  };
}

function checkoutSessionReply(params: URLSearchParams) {
  const id = `cs_test_${suffix(40)}`;
  const metadata: Record<string, string> = {};
  for (const [key, value] of params) {
    const name = /^metadata\[(.+)\]$/.exec(key)?.[1];
    if (name) metadata[name] = value;
  }
  const created = now();
  return {
    id,
    object: "checkout.session",
    adaptive_pricing: { enabled: true },
    after_expiration: null,
    allow_promotion_codes: null,
    amount_subtotal: 2900,
    amount_total: 2900,
    automatic_tax: { enabled: false, liability: null, provider: null, status: null },
    billing_address_collection: null,
    cancel_url: params.get("cancel_url"),
    client_reference_id: params.get("client_reference_id"),
    client_secret: null,
    consent: null,
    consent_collection: null,
    created,
    currency: "usd",
    custom_fields: [],
    custom_text: {
      after_submit: null,
      shipping_address: null,
      submit: null,
      terms_of_service_acceptance: null,
    },
    customer: params.get("customer"),
    customer_creation: null,
    customer_details: null,
    customer_email: null,
    discounts: [],
    expires_at: created + 86_400,
    invoice: null,
    invoice_creation: null,
    livemode: false,
    locale: null,
    metadata,
    mode: params.get("mode"),
    payment_intent: null,
    payment_link: null,
    payment_method_collection: "always",
    payment_method_configuration_details: null,
    payment_method_options: { card: { request_three_d_secure: "automatic" } },
    payment_method_types: ["card"],
    payment_status: "unpaid",
    phone_number_collection: { enabled: false },
    recovered_from: null,
    saved_payment_method_options: null,
    setup_intent: null,
    shipping_address_collection: null,
    shipping_cost: null,
    shipping_options: [],
    status: "open",
    submit_type: null,
    subscription: null,
    success_url: params.get("success_url"),
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    ui_mode: "hosted",
    url: `https://checkout.stripe.com/c/pay/${id}#fidkdWxOYHwnPyd1blpxYHZxWjA0T0JmTX1ITTxuXTRoaWJpfDZnYjJvQWBhdHFLZ2p8dWJWTUhWdlNpPCcpJ2N3amhWYHdzYHcnP3F3cGApJ2lkfGpwcVF8dWAnPyd2bGtiaWBabHFgaCcpJ2BrZGdpYFVpZGZgbWppYWB3dic%2FcXdwYHgl`,
    wallet_options: null,
  };
}

function portalSessionReply(params: URLSearchParams) {
  return {
    id: `bps_${suffix(24)}`,
    object: "billing_portal.session",
    configuration: `bpc_${suffix(24)}`,
    created: now(),
    customer: params.get("customer"),
    flow: null,
    livemode: false,
    locale: null,
    on_behalf_of: null,
    return_url: params.get("return_url"),
    url: `https://billing.stripe.com/p/session/test_${suffix(40)}`,
  };
}

/**
 * Replaces `fetch` with a fake Stripe API. Restored by vi.restoreAllMocks().
 * `subscriptions` is what GET /v1/subscriptions/{id} answers; `route()` adds or
 * overrides an answer (checked first); anything else is Stripe's 404.
 */
export function fakeStripe() {
  const requests: StripeRequest[] = [];
  const subscriptions = new Map<string, Record<string, unknown>>();
  const customersByKey = new Map<string, Record<string, unknown>>();
  const overrides: Route[] = [];

  const answer = (request: StripeRequest): Reply => {
    for (const route of overrides) {
      const reply = route(request);
      if (reply) return reply;
    }
    const key = request.headers.get("idempotency-key");
    if (request.method === "POST" && request.path === "/v1/customers") {
      // Stripe's idempotency: the same key answers the same customer.
      const existing = key ? customersByKey.get(key) : undefined;
      const customer = existing ?? customerObject(`cus_${suffix()}`, request.params);
      if (key) customersByKey.set(key, customer);
      return { status: 200, body: customer };
    }
    if (request.method === "POST" && request.path === "/v1/checkout/sessions") {
      return { status: 200, body: checkoutSessionReply(request.params) };
    }
    if (request.method === "POST" && request.path === "/v1/billing_portal/sessions") {
      return { status: 200, body: portalSessionReply(request.params) };
    }
    const subscription = /^\/v1\/subscriptions\/(sub_\w+)$/.exec(request.path)?.[1];
    if (subscription && subscriptions.has(subscription)) {
      const stored = subscriptions.get(subscription) as Record<string, unknown>;
      if (request.method === "GET") return { status: 200, body: stored };
      if (request.method === "DELETE") {
        const canceled = { ...stored, status: "canceled", canceled_at: now(), ended_at: now() };
        subscriptions.set(subscription, canceled);
        return { status: 200, body: canceled };
      }
    }
    return stripeError(
      404,
      "invalid_request_error",
      `Unrecognized request URL (${request.method}: ${request.path}).`,
    );
  };

  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (url.hostname !== "api.stripe.com")
      throw new Error(`unexpected fetch in a billing test: ${request.url}`);
    const text =
      request.method === "GET" || request.method === "DELETE"
        ? url.search.slice(1)
        : new TextDecoder().decode(await request.arrayBuffer());
    const recorded: StripeRequest = {
      method: request.method,
      path: url.pathname,
      params: new URLSearchParams(text),
      headers: request.headers,
    };
    requests.push(recorded);
    const reply = answer(recorded);
    return new Response(JSON.stringify(reply.body), {
      status: reply.status,
      headers: {
        "content-type": "application/json",
        "request-id": `req_${suffix()}`,
        "stripe-version": "2026-10-28.endive",
        ...(idempotencyKeyOf(recorded) ? { "idempotency-key": idempotencyKeyOf(recorded) as string } : {}),
        ...reply.headers,
      },
    });
  });

  return {
    spy,
    requests,
    subscriptions,
    /** Requests to one endpoint, e.g. `calls("POST", "/v1/checkout/sessions")`. */
    calls: (method: string, path: string) =>
      requests.filter((request) => request.method === method && request.path === path),
    route(handler: Route) {
      overrides.unshift(handler);
    },
  };
}

const idempotencyKeyOf = (request: StripeRequest) => request.headers.get("idempotency-key");

// ---------------------------------------------------------------------------
// Stripe objects as webhooks carry them

const DAY = 86_400;

export function subscriptionObject(input: {
  id: string;
  customer: string;
  status?: string;
  price?: string;
  periodStart?: number;
  periodEnd?: number;
  cancelAtPeriodEnd?: boolean;
  canceledAt?: number | null;
  endedAt?: number | null;
  organizationId?: string;
}) {
  const start = input.periodStart ?? now();
  const end = input.periodEnd ?? start + 30 * DAY;
  const price = input.price ?? PRICES.pro;
  return {
    id: input.id,
    object: "subscription",
    application: null,
    application_fee_percent: null,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null },
    billing_cycle_anchor: start,
    billing_cycle_anchor_config: null,
    billing_mode: { flexible: null, type: "classic" },
    billing_thresholds: null,
    cancel_at: input.cancelAtPeriodEnd ? end : null,
    cancel_at_period_end: input.cancelAtPeriodEnd ?? false,
    canceled_at: input.canceledAt ?? null,
    cancellation_details: { comment: null, feedback: null, reason: null },
    collection_method: "charge_automatically",
    created: start,
    currency: "usd",
    customer: input.customer,
    days_until_due: null,
    default_payment_method: "pm_1QeZ8fF2kLmN0pQrCardVisa4242",
    default_source: null,
    default_tax_rates: [],
    description: null,
    discounts: [],
    ended_at: input.endedAt ?? null,
    invoice_settings: { account_tax_ids: null, issuer: { type: "self" } },
    items: {
      object: "list",
      data: [
        {
          id: `si_${input.id.slice(4)}`,
          object: "subscription_item",
          billing_thresholds: null,
          created: start,
          current_period_end: end,
          current_period_start: start,
          discounts: [],
          metadata: {},
          price: {
            id: price,
            object: "price",
            active: true,
            billing_scheme: "per_unit",
            created: start - 90 * DAY,
            currency: "usd",
            custom_unit_amount: null,
            livemode: false,
            lookup_key: null,
            metadata: {},
            nickname: null,
            product: "prod_RWx0aF2kLmN0pQ",
            recurring: {
              interval: "month",
              interval_count: 1,
              meter: null,
              trial_period_days: null,
              usage_type: "licensed",
            },
            tax_behavior: "unspecified",
            tiers_mode: null,
            transform_quantity: null,
            type: "recurring",
            unit_amount: 2900,
            unit_amount_decimal: "2900",
          },
          quantity: 1,
          subscription: input.id,
          tax_rates: [],
        },
      ],
      has_more: false,
      total_count: 1,
      url: `/v1/subscription_items?subscription=${input.id}`,
    },
    latest_invoice: `in_${suffix()}`,
    livemode: false,
    metadata: input.organizationId ? { organization_id: input.organizationId } : {},
    next_pending_invoice_item_invoice: null,
    on_behalf_of: null,
    pause_collection: null,
    payment_settings: {
      payment_method_options: null,
      payment_method_types: null,
      save_default_payment_method: "off",
    },
    pending_invoice_item_interval: null,
    pending_setup_intent: null,
    pending_update: null,
    schedule: null,
    start_date: start,
    status: input.status ?? "active",
    test_clock: null,
    transfer_data: null,
    trial_end: null,
    trial_settings: { end_behavior: { missing_payment_method: "create_invoice" } },
    trial_start: null,
  };
}

export function invoiceObject(input: {
  id?: string;
  customer: string;
  subscription: string;
  price?: string;
  amountDue?: number;
  currency?: string;
  billingReason?: string;
  status?: "paid" | "open";
  nextPaymentAttempt?: number | null;
  organizationId?: string;
}) {
  const id = input.id ?? `in_${suffix()}`;
  const created = now();
  const amount = input.amountDue ?? 2900;
  const paid = (input.status ?? "paid") === "paid";
  return {
    id,
    object: "invoice",
    account_country: "US",
    account_name: "Edge API Platform",
    account_tax_ids: null,
    amount_due: amount,
    amount_overpaid: 0,
    amount_paid: paid ? amount : 0,
    amount_remaining: paid ? 0 : amount,
    amount_shipping: 0,
    application: null,
    attempt_count: 1,
    attempted: true,
    auto_advance: !paid,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null, provider: null, status: null },
    automatically_finalizes_at: null,
    billing_reason: input.billingReason ?? "subscription_cycle",
    collection_method: "charge_automatically",
    created,
    currency: input.currency ?? "usd",
    custom_fields: null,
    customer: input.customer,
    customer_address: null,
    customer_email: "billing@acme.example",
    customer_name: "Acme",
    customer_phone: null,
    customer_shipping: null,
    customer_tax_exempt: "none",
    customer_tax_ids: [],
    default_payment_method: null,
    default_source: null,
    default_tax_rates: [],
    description: null,
    discounts: [],
    due_date: null,
    effective_at: created,
    ending_balance: 0,
    footer: null,
    from_invoice: null,
    hosted_invoice_url: `https://invoice.stripe.com/i/acct_1QeZ0aF2kLmN0pQr/test_${suffix(40)}`,
    invoice_pdf: `https://pay.stripe.com/invoice/acct_1QeZ0aF2kLmN0pQr/test_${suffix(40)}/pdf`,
    issuer: { type: "self" },
    last_finalization_error: null,
    latest_revision: null,
    lines: {
      object: "list",
      data: [
        {
          id: `il_${suffix()}`,
          object: "line_item",
          amount,
          currency: input.currency ?? "usd",
          description: "1 × Pro (at $29.00 / month)",
          discount_amounts: [],
          discountable: true,
          discounts: [],
          invoice: id,
          livemode: false,
          metadata: {},
          parent: {
            invoice_item_details: null,
            subscription_item_details: {
              invoice_item: null,
              proration: false,
              proration_details: { credited_items: null },
              subscription: input.subscription,
              subscription_item: `si_${input.subscription.slice(4)}`,
            },
            type: "subscription_item_details",
          },
          period: { end: created + 30 * DAY, start: created },
          pretax_credit_amounts: [],
          pricing: {
            price_details: { price: input.price ?? PRICES.pro, product: "prod_RWx0aF2kLmN0pQ" },
            type: "price_details",
            unit_amount_decimal: String(amount),
          },
          quantity: 1,
          taxes: [],
        },
      ],
      has_more: false,
      total_count: 1,
      url: `/v1/invoices/${id}/lines`,
    },
    livemode: false,
    metadata: {},
    next_payment_attempt: input.nextPaymentAttempt ?? null,
    number: `${suffix(8).toUpperCase()}-0001`,
    on_behalf_of: null,
    parent: {
      quote_details: null,
      subscription_details: {
        metadata: input.organizationId ? { organization_id: input.organizationId } : {},
        subscription: input.subscription,
      },
      type: "subscription_details",
    },
    payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
    period_end: created,
    period_start: created - 30 * DAY,
    post_payment_credit_notes_amount: 0,
    pre_payment_credit_notes_amount: 0,
    receipt_number: null,
    rendering: null,
    shipping_cost: null,
    shipping_details: null,
    starting_balance: 0,
    statement_descriptor: null,
    status: input.status ?? "paid",
    status_transitions: {
      finalized_at: created,
      marked_uncollectible_at: null,
      paid_at: paid ? created : null,
      voided_at: null,
    },
    subtotal: amount,
    subtotal_excluding_tax: amount,
    test_clock: null,
    total: amount,
    total_discount_amounts: [],
    total_excluding_tax: amount,
    total_pretax_credit_amounts: [],
    total_taxes: [],
    webhooks_delivered_at: created,
  };
}

export function completedCheckoutObject(input: {
  organizationId: string;
  customer: string;
  mode: "payment" | "subscription";
  price: string;
  credits?: number;
  paymentStatus?: "paid" | "unpaid";
  subscription?: string;
}) {
  const base = checkoutSessionReply(new URLSearchParams());
  return {
    ...base,
    client_reference_id: input.organizationId,
    customer: input.customer,
    customer_details: {
      address: { city: null, country: "FR", line1: null, line2: null, postal_code: null, state: null },
      email: "billing@acme.example",
      name: "Ada Lovelace",
      phone: null,
      tax_exempt: "none",
      tax_ids: [],
    },
    metadata: {
      organization_id: input.organizationId,
      price_id: input.price,
      ...(input.mode === "payment"
        ? { kind: "credit_pack", credits: String(input.credits ?? 50) }
        : { kind: "plan", plan: "Pro" }),
    },
    mode: input.mode,
    payment_intent: input.mode === "payment" ? `pi_${suffix(24)}` : null,
    payment_status: input.paymentStatus ?? "paid",
    status: "complete",
    subscription: input.subscription ?? null,
    url: null,
  };
}

let eventCounter = 0;

/** An event envelope as Stripe posts it. `created` defaults to now (Unix seconds). */
export function stripeEvent(type: string, object: unknown, options: { id?: string; created?: number } = {}) {
  eventCounter += 1;
  return {
    id: options.id ?? `evt_1QeZ${String(eventCounter).padStart(4, "0")}${suffix(16)}`,
    object: "event",
    api_version: "2026-10-28.endive",
    created: options.created ?? now(),
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: `req_${suffix()}`, idempotency_key: crypto.randomUUID() },
    type,
  };
}

// ---------------------------------------------------------------------------
// Signing and delivering webhooks

async function hmacHex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(message));
  return Array.from(new Uint8Array(mac), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** `t=<timestamp>,v1=<HMAC-SHA256 of "t.payload">`: Stripe's signature scheme. */
export async function signatureHeader(
  payload: string,
  options: { secret?: string; timestamp?: number } = {},
): Promise<string> {
  const timestamp = options.timestamp ?? now();
  return `t=${timestamp},v1=${await hmacHex(options.secret ?? WEBHOOK_SECRET, `${timestamp}.${payload}`)}`;
}

/**
 * POSTs `payload` (an event, serialised the way Stripe does: pretty-printed JSON)
 * to the webhook endpoint, signed unless `signature` is given.
 */
export async function postWebhook(
  payload: unknown,
  options: { signature?: string | null; secret?: string; timestamp?: number; bindings?: Bindings } = {},
): Promise<Response> {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload, null, 2);
  const signature =
    options.signature === undefined
      ? await signatureHeader(body, { secret: options.secret, timestamp: options.timestamp })
      : options.signature;
  const headers = new Headers({
    "content-type": "application/json; charset=utf-8",
    "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    "cf-connecting-ip": "3.18.12.63",
  });
  if (signature !== null) headers.set("stripe-signature", signature);
  const request = new Request("http://localhost/api/v1/webhooks/stripe", { method: "POST", headers, body });
  return worker.fetch(request, options.bindings ?? billingEnv, createExecutionContext());
}

let messageCounter = 0;

/** Runs held JOBS_QUEUE messages (holdJobsQueue()) through the Worker's queue handler with billingEnv. */
export async function runJobs(messages: HeldMessage[], options: { attempts?: number } = {}) {
  if (messages.length === 0) return { acked: [], retried: [] };
  const { result } = await runQueueBatch(
    "edge-api-jobs",
    messages.map((message) => ({
      id: `billing-msg-${++messageCounter}`,
      attempts: options.attempts,
      body: message.body,
    })),
    billingEnv,
  );
  return { acked: result.explicitAcks, retried: result.retryMessages.map((retry) => retry.msgId) };
}

/** The held messages of one type (e.g. `billing.stripe_event`), taken out of `held` so each runs once. */
export function takeHeld(held: HeldMessage[], type: string): HeldMessage[] {
  const taken = held.filter((message) => (message.body as { type?: string }).type === type);
  for (const message of taken) held.splice(held.indexOf(message), 1);
  return taken;
}
