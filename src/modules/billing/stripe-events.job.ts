/**
 * The `billing.stripe_event` queue handler: applies one stored Stripe event.
 *
 * Delivery is at-least-once, and Stripe itself may send an event again under a new
 * delivery, so every effect is idempotent on its own: credit grants and purchases are
 * keyed by the invoice / checkout session (a ledger reference applies once),
 * subscription state only moves forward (subscriptions.service.ts). The event is then
 * marked processed by a conditional UPDATE; only the run that wins that UPDATE sends
 * the alerts the event calls for, so an alert goes out at most once.
 *
 * | event                                   | effect                                                        |
 * |-----------------------------------------|---------------------------------------------------------------|
 * | checkout.session.completed              | links the customer; a paid credit pack → `purchase` credits   |
 * | checkout.session.async_payment_succeeded| the same, for delayed payment methods                         |
 * | customer.subscription.created/updated   | subscription state (if newer); cancel requested → alert       |
 * | customer.subscription.deleted           | state `canceled`; alert unless a cancellation was announced   |
 * | invoice.paid                            | a plan's credits (`grant`), for creation and renewal invoices |
 * | invoice.payment_failed                  | `payment_failed` alert                                        |
 */
import { and, eq, isNull } from "drizzle-orm";
import type { z } from "zod";
import { stripeEvents } from "../../db/schema";
import type { QueueHandlerDeps } from "../../jobs/queue-handler";
import type { ServiceContext } from "../../lib/context";
import { ProblemError } from "../../lib/problem";
import { formatPrice } from "../catalog/money";
import { type OrgContext, systemOrgContext } from "../orgs/org-context";
import { type BillingAlert, sendBillingAlert } from "./billing.alerts";
import type { StripeEventMessage } from "./billing.messages";
import { creditsPerInvoice, findPackByPrice, findPlanByPrice } from "./billing.plans";
import { addCredits } from "./credits.service";
import { linkCustomer, organizationIdOfCustomer } from "./customers.service";
import {
  checkoutSessionObject,
  idOf,
  invoiceObject,
  type StripeEventEnvelope,
  stripeEventEnvelope,
  subscriptionObject,
} from "./stripe.objects";
import { applySubscriptionEvent, currentSubscription } from "./subscriptions.service";

/** The event types this module acts on; any other verified event is recorded and acknowledged. */
export const HANDLED_EVENT_TYPES = [
  "checkout.session.completed",
  "checkout.session.async_payment_succeeded",
  "customer.subscription.created",
  "customer.subscription.updated",
  "customer.subscription.deleted",
  "invoice.paid",
  "invoice.payment_failed",
] as const;

export const isHandledEventType = (type: string) => (HANDLED_EVENT_TYPES as readonly string[]).includes(type);

/** What applying an event did, stored as the event's `outcome`, and the alert it calls for. */
type Applied = { outcome: string; alert?: { octx: OrgContext; alert: BillingAlert } };

/** Invoices that start or renew a period grant the plan's credits; prorations and manual invoices do not. */
const GRANTING_BILLING_REASONS = ["subscription_create", "subscription_cycle"];

export async function processStripeEventMessage(
  message: StripeEventMessage,
  deps: QueueHandlerDeps,
): Promise<void> {
  const logger = deps.logger.child({ stripe_event_id: message.event_id });
  const ctx: ServiceContext = { ...deps.ctx, logger };
  const row = await ctx.db.select().from(stripeEvents).where(eq(stripeEvents.id, message.event_id)).get();
  if (!row) {
    logger.warn("stripe event no longer stored; message dropped");
    return;
  }
  if (row.processedAt) {
    logger.info("stripe event already processed; delivery ignored", { outcome: row.outcome });
    return;
  }
  const event = stripeEventEnvelope.parse(JSON.parse(row.payload));
  const applied = await applyEvent(ctx, event);
  const claimed = await ctx.db
    .update(stripeEvents)
    .set({ processedAt: new Date(), outcome: applied.outcome })
    .where(and(eq(stripeEvents.id, event.id), isNull(stripeEvents.processedAt)))
    .returning({ id: stripeEvents.id })
    .get();
  logger.info("stripe event processed", { type: event.type, outcome: applied.outcome });
  if (claimed && applied.alert) await sendBillingAlert(applied.alert.octx, applied.alert.alert);
}

async function applyEvent(ctx: ServiceContext, event: StripeEventEnvelope): Promise<Applied> {
  switch (event.type) {
    case "checkout.session.completed":
    case "checkout.session.async_payment_succeeded":
      return checkoutCompleted(ctx, event);
    case "customer.subscription.created":
    case "customer.subscription.updated":
    case "customer.subscription.deleted":
      return subscriptionChanged(ctx, event);
    case "invoice.paid":
      return invoicePaid(ctx, event);
    case "invoice.payment_failed":
      return invoicePaymentFailed(ctx, event);
    default:
      return { outcome: "ignored" };
  }
}

const eventTime = (event: StripeEventEnvelope) => new Date(event.created * 1000);

/**
 * The event's object as `schema` reads it, or null (logged) when Stripe sent a shape
 * this code cannot read: no retry would change that, so the event is recorded as
 * `unreadable` rather than retried into the dead-letter queue.
 */
function readObject<T>(ctx: ServiceContext, event: StripeEventEnvelope, schema: z.ZodType<T>): T | null {
  const parsed = schema.safeParse(event.data.object);
  if (parsed.success) return parsed.data;
  ctx.logger.error("stripe event object not readable; event not applied", {
    type: event.type,
    issues: parsed.error.issues,
  });
  return null;
}

const UNREADABLE: Applied = { outcome: "unreadable" };

/** The organization, for system work; undefined when it was deleted meanwhile. */
async function organizationContext(
  ctx: ServiceContext,
  organizationId: string,
): Promise<OrgContext | undefined> {
  try {
    return await systemOrgContext(ctx, organizationId, "stripe_webhook");
  } catch (error) {
    if (error instanceof ProblemError && error.status === 404) return undefined;
    throw error;
  }
}

/** The organization a Stripe customer belongs to: the stored link, else the id we put in the object's metadata. */
async function organizationOfCustomer(
  ctx: ServiceContext,
  customerId: string | undefined,
  metadataOrganizationId: string | undefined,
): Promise<OrgContext | undefined> {
  const linked = customerId ? await organizationIdOfCustomer(ctx, customerId) : undefined;
  if (linked) return organizationContext(ctx, linked);
  if (!metadataOrganizationId) return undefined;
  const octx = await organizationContext(ctx, metadataOrganizationId);
  if (octx && customerId) await linkCustomer(octx, customerId);
  return octx;
}

async function checkoutCompleted(ctx: ServiceContext, event: StripeEventEnvelope): Promise<Applied> {
  const session = readObject(ctx, event, checkoutSessionObject);
  if (!session) return UNREADABLE;
  const organizationId = session.client_reference_id ?? session.metadata?.organization_id;
  const octx = organizationId ? await organizationContext(ctx, organizationId) : undefined;
  if (!octx) return { outcome: "unknown_organization" };
  if (session.customer) await linkCustomer(octx, idOf(session.customer));
  if (session.mode !== "payment") return { outcome: "linked" };
  if (session.payment_status === "unpaid") return { outcome: "awaiting_payment" };

  // What was sold is what the session says (we wrote it at checkout); the catalog is the fallback.
  const metadata = session.metadata ?? {};
  const priceId = metadata.price_id ?? "";
  const sold = Number(metadata.credits);
  const credits =
    Number.isSafeInteger(sold) && sold > 0
      ? sold
      : findPackByPrice(octx.config.BILLING_PLANS, priceId)?.credits;
  if (!credits) {
    ctx.logger.error("paid checkout without a known credit pack; nothing granted", {
      session_id: session.id,
      price_id: priceId,
    });
    return { outcome: "unknown_pack" };
  }
  const packName = findPackByPrice(octx.config.BILLING_PLANS, priceId)?.name ?? `${credits} credits`;
  const result = await addCredits(octx, {
    kind: "purchase",
    amount: credits,
    reference: `checkout:${session.id}`,
    description: `Credit pack: ${packName}`,
  });
  return { outcome: result.status };
}

async function subscriptionChanged(ctx: ServiceContext, event: StripeEventEnvelope): Promise<Applied> {
  const subscription = readObject(ctx, event, subscriptionObject);
  if (!subscription) return UNREADABLE;
  const octx = await organizationOfCustomer(
    ctx,
    idOf(subscription.customer),
    subscription.metadata?.organization_id,
  );
  if (!octx) return { outcome: "unknown_customer" };
  const result = await applySubscriptionEvent(octx, subscription, event);
  if (result.outcome !== "applied" && result.outcome !== "applied_after_reread") {
    return { outcome: result.outcome };
  }
  const { previous, row } = result;
  // A cancellation is announced once: when it is asked for (ends at period end), or when it ends
  // a subscription at once.
  const cancelRequested = row.cancelAtPeriodEnd && !previous?.cancelAtPeriodEnd && row.status !== "canceled";
  const endedUnannounced =
    row.status === "canceled" && previous?.status !== "canceled" && !previous?.cancelAtPeriodEnd;
  if (cancelRequested || endedUnannounced) {
    const endsAt =
      (cancelRequested ? (row.cancelAt ?? row.currentPeriodEnd) : row.endedAt) ?? eventTime(event);
    return {
      outcome: result.outcome,
      alert: { octx, alert: { alert: "subscription_canceled", ends_at: endsAt.toISOString() } },
    };
  }
  return { outcome: result.outcome };
}

async function invoicePaid(ctx: ServiceContext, event: StripeEventEnvelope): Promise<Applied> {
  const invoice = readObject(ctx, event, invoiceObject);
  if (!invoice) return UNREADABLE;
  const details = invoice.parent?.subscription_details;
  if (!details || !GRANTING_BILLING_REASONS.includes(invoice.billing_reason ?? "")) {
    return { outcome: "ignored" };
  }
  const octx = await organizationOfCustomer(
    ctx,
    invoice.customer ? idOf(invoice.customer) : undefined,
    details.metadata?.organization_id,
  );
  if (!octx) return { outcome: "unknown_customer" };
  const catalog = octx.config.BILLING_PLANS;
  const linePrices = invoice.lines.data.flatMap((line) => {
    const price = line.pricing?.price_details?.price;
    return price ? [idOf(price)] : [];
  });
  const plan =
    linePrices.map((price) => findPlanByPrice(catalog, price)).find((found) => found !== undefined) ??
    findPlanByPrice(catalog, (await currentSubscription(octx))?.priceId ?? null);
  if (!plan) {
    ctx.logger.error("paid invoice for a price that is not a configured plan; no credits granted", {
      invoice_id: invoice.id,
      prices: linePrices,
    });
    return { outcome: "unknown_plan" };
  }
  const credits = creditsPerInvoice(plan);
  if (credits === 0) return { outcome: "no_credits" };
  const result = await addCredits(octx, {
    kind: "grant",
    amount: credits,
    reference: `invoice:${invoice.id}`,
    description: `${plan.name} plan: ${plan.interval === "year" ? "yearly" : "monthly"} credits`,
  });
  return { outcome: result.status };
}

async function invoicePaymentFailed(ctx: ServiceContext, event: StripeEventEnvelope): Promise<Applied> {
  const invoice = readObject(ctx, event, invoiceObject);
  if (!invoice) return UNREADABLE;
  const octx = await organizationOfCustomer(
    ctx,
    invoice.customer ? idOf(invoice.customer) : undefined,
    invoice.parent?.subscription_details?.metadata?.organization_id,
  );
  if (!octx) return { outcome: "unknown_customer" };
  const currency = invoice.currency.toUpperCase();
  return {
    outcome: "alerted",
    alert: {
      octx,
      alert: {
        alert: "payment_failed",
        amount: formatPrice(invoice.amount_due, currency),
        currency,
        ...(invoice.next_payment_attempt
          ? { next_attempt_at: new Date(invoice.next_payment_attempt * 1000).toISOString() }
          : {}),
      },
    },
  };
}
