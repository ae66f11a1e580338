/**
 * Billing as the API sees it: the plans on offer, Stripe Checkout and the billing
 * portal for an organization, its subscription, its credits.
 */
import type { z } from "@hono/zod-openapi";
import type { CreditLedgerEntry } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { sha256Hex } from "../../lib/crypto";
import type { Page } from "../../lib/pagination";
import { describePrincipal } from "../../lib/principal";
import type { OrgContext } from "../orgs/org-context";
import { type BillingCatalog, findPackByPrice, findPlanByPrice } from "./billing.plans";
import { subscriptionExists, unknownPrice, wrongCheckoutMode } from "./billing.problems";
import type {
  CheckoutInput,
  CreditLedgerEntryDto,
  CreditsPageSchema,
  SubscriptionDto,
} from "./billing.schemas";
import { billingPageUrl, checkoutReturnUrls } from "./billing.urls";
import { creditBalance, type ListLedgerInput, listCreditLedger } from "./credits.service";
import { ensureCustomer } from "./customers.service";
import { callStripe, stripeClient } from "./stripe.client";
import { isLive, subscriptionView } from "./subscriptions.service";

export function listPlans(ctx: ServiceContext): BillingCatalog {
  return ctx.config.BILLING_PLANS;
}

/**
 * The Idempotency-Key sent to Stripe for an operation. When the client sent one,
 * the key is derived from it (and who sent it), so a retry that reaches Stripe again
 * (our own response was lost) gets the same Checkout Session instead of a second
 * one; otherwise it is unique to this request, which still makes the SDK's network
 * retries safe.
 */
async function stripeIdempotencyKey(
  octx: OrgContext,
  operation: string,
  clientKey: string | undefined,
): Promise<string> {
  const basis =
    clientKey === undefined
      ? `request:${octx.requestId}`
      : `client:${describePrincipal(octx.principal)}:${clientKey}`;
  return `${operation}:${octx.organization.id}:${await sha256Hex(basis)}`;
}

export type CheckoutSession = { id: string; url: string; expires_at: string };

/**
 * A Stripe Checkout Session for a plan (mode `subscription`) or a credit pack (mode
 * `payment`), for the organization's customer (created on first use). The session
 * carries the organization id as `client_reference_id` and in its metadata (and in
 * the subscription's), so the webhooks that follow find the organization.
 */
export async function startCheckout(
  octx: OrgContext,
  input: CheckoutInput,
  options: { idempotencyKey?: string } = {},
): Promise<CheckoutSession> {
  const catalog = octx.config.BILLING_PLANS;
  const plan = findPlanByPrice(catalog, input.price_id);
  const pack = findPackByPrice(catalog, input.price_id);
  if (!plan && !pack) {
    throw unknownPrice(
      input.price_id,
      [...catalog.plans, ...catalog.credit_packs].map((item) => item.price_id),
    );
  }
  if (input.mode === "subscription" && !plan) throw wrongCheckoutMode("payment");
  if (input.mode === "payment" && !pack) throw wrongCheckoutMode("subscription");
  const urls = checkoutReturnUrls(octx, octx.organization.id);

  if (plan) {
    const { subscription } = await subscriptionView(octx, catalog);
    if (subscription && isLive(subscription.status)) throw subscriptionExists(subscription.status);
  }

  const stripe = await stripeClient(octx);
  const customer = await ensureCustomer(octx, stripe);
  const organizationId = octx.organization.id;
  const metadata: Record<string, string> = plan
    ? { organization_id: organizationId, price_id: input.price_id, kind: "plan", plan: plan.name }
    : {
        organization_id: organizationId,
        price_id: input.price_id,
        kind: "credit_pack",
        credits: String(pack?.credits),
      };
  const idempotencyKey = await stripeIdempotencyKey(octx, "checkout", options.idempotencyKey);
  const session = await callStripe(octx, "checkout.sessions.create", () =>
    stripe.checkout.sessions.create(
      {
        mode: input.mode,
        customer,
        client_reference_id: organizationId,
        line_items: [{ price: input.price_id, quantity: 1 }],
        success_url: urls.success,
        cancel_url: urls.cancel,
        metadata,
        ...(plan
          ? { subscription_data: { metadata: { organization_id: organizationId } } }
          : { payment_intent_data: { metadata: { organization_id: organizationId } } }),
      },
      { idempotencyKey },
    ),
  );
  if (!session.url) throw new Error("Stripe answered a hosted Checkout Session without a url");
  octx.logger.info("checkout session created", {
    organization_id: organizationId,
    session_id: session.id,
    mode: input.mode,
    price_id: input.price_id,
  });
  return { id: session.id, url: session.url, expires_at: new Date(session.expires_at * 1000).toISOString() };
}

/** A Stripe billing portal session for the organization's customer (created on first use). */
export async function openBillingPortal(
  octx: OrgContext,
  options: { idempotencyKey?: string } = {},
): Promise<{ url: string }> {
  const stripe = await stripeClient(octx);
  const customer = await ensureCustomer(octx, stripe);
  const idempotencyKey = await stripeIdempotencyKey(octx, "portal", options.idempotencyKey);
  const session = await callStripe(octx, "billingPortal.sessions.create", () =>
    stripe.billingPortal.sessions.create(
      { customer, return_url: billingPageUrl(octx, octx.organization.id) },
      { idempotencyKey },
    ),
  );
  return { url: session.url };
}

const iso = (date: Date | null) => date?.toISOString() ?? null;

export async function getSubscription(octx: OrgContext): Promise<SubscriptionDto> {
  const { subscription, plan } = await subscriptionView(octx, octx.config.BILLING_PLANS);
  if (!subscription) {
    return {
      status: "none",
      plan: null,
      price_id: null,
      current_period_end: null,
      cancel_at_period_end: false,
      cancel_at: null,
      canceled_at: null,
      stripe_subscription_id: null,
    };
  }
  return {
    status: subscription.status,
    plan: plan ?? null,
    price_id: subscription.priceId,
    current_period_end: iso(subscription.currentPeriodEnd),
    cancel_at_period_end: subscription.cancelAtPeriodEnd,
    cancel_at: iso(subscription.cancelAt),
    canceled_at: iso(subscription.canceledAt),
    stripe_subscription_id: subscription.stripeSubscriptionId,
  };
}

export function toLedgerEntryDto(entry: CreditLedgerEntry): CreditLedgerEntryDto {
  return {
    id: entry.id,
    kind: entry.kind,
    amount: entry.amount,
    balance_after: entry.balanceAfter,
    description: entry.description,
    reference: entry.reference,
    created_at: entry.createdAt.toISOString(),
  };
}

/** The balance and one page of the ledger. */
export async function getCredits(
  octx: OrgContext,
  input: ListLedgerInput,
): Promise<z.infer<typeof CreditsPageSchema>> {
  const [balance, page]: [number, Page<CreditLedgerEntry>] = await Promise.all([
    creditBalance(octx),
    listCreditLedger(octx, input),
  ]);
  return {
    balance,
    low_credits_threshold: octx.config.BILLING_LOW_CREDITS_THRESHOLD,
    data: page.data.map(toLedgerEntryDto),
    meta: page.meta,
  };
}
