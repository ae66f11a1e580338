/**
 * Subscription state per organization, as Stripe's webhooks describe it.
 *
 * Ordering. Stripe does not deliver events in order (a `customer.subscription.updated`
 * can arrive before the `created` it follows, and retries arrive hours late). Each
 * stored state remembers the `created` (Unix seconds) and id of the event it came
 * from, and an event is applied only when it is strictly newer, in the same
 * statement that writes it (an UPSERT whose UPDATE is conditional), so two events
 * racing in two queue consumers also end in the newer state. Two different events
 * created in the same second cannot be ordered by `created` (a checkout typically
 * emits `created` then `updated` within one second): for those the subscription is
 * re-read from Stripe (GET /v1/subscriptions/{id}) and Stripe's current state is
 * stored, which is at least as new as either event.
 */
import { and, desc, eq, lte, sql } from "drizzle-orm";
import { type BillingSubscription, billingSubscriptions } from "../../db/schema";
import { AFTER_CHANGE } from "../audit/audit.service";
import { type OrgContext, ownedBy } from "../orgs/org-context";
import type { OrganizationDeletionStep } from "../orgs/orgs.service";
import { dispatchWebhookEvents, webhookEventStatement } from "../webhooks/outbox";
import { type BillingCatalog, findPlanByPrice, type Plan } from "./billing.plans";
import { planRequired } from "./billing.problems";
import { callStripe, stripeClient } from "./stripe.client";
import { idOf, type SubscriptionObject, subscriptionObject } from "./stripe.objects";

/** Statuses in which the organization has its plan (past_due: Stripe is still retrying the payment). */
export const ENTITLED_STATUSES = ["active", "trialing", "past_due"] as const;
/** Statuses of a subscription that is not over: a second checkout would create a second one. */
const LIVE_STATUSES = [...ENTITLED_STATUSES, "unpaid", "paused", "incomplete"];

export type SubscriptionState = {
  status: string;
  priceId: string | null;
  currentPeriodEnd: Date | null;
  cancelAtPeriodEnd: boolean;
  cancelAt: Date | null;
  canceledAt: Date | null;
  endedAt: Date | null;
};

const fromUnix = (seconds: number | null | undefined) => (seconds ? new Date(seconds * 1000) : null);

export function subscriptionStateOf(subscription: SubscriptionObject): SubscriptionState {
  const items = subscription.items.data;
  const periodEnds = items.map((item) => item.current_period_end ?? 0).filter((end) => end > 0);
  return {
    status: subscription.status,
    priceId: items[0]?.price.id ?? null,
    currentPeriodEnd: periodEnds.length > 0 ? fromUnix(Math.max(...periodEnds)) : null,
    cancelAtPeriodEnd: subscription.cancel_at_period_end,
    cancelAt: fromUnix(subscription.cancel_at),
    canceledAt: fromUnix(subscription.canceled_at),
    endedAt: fromUnix(subscription.ended_at),
  };
}

export type ApplyOutcome =
  | {
      outcome: "applied" | "applied_after_reread";
      previous: BillingSubscription | undefined;
      row: BillingSubscription;
    }
  | { outcome: "stale" | "duplicate"; previous: BillingSubscription }
  | { outcome: "other_organization" };

/**
 * Stores `subscription` as described by event (`eventId`, `eventCreated`) unless a
 * newer event already wrote it (see the top of this file).
 */
export async function applySubscriptionEvent(
  octx: OrgContext,
  subscription: SubscriptionObject,
  event: { id: string; created: number },
): Promise<ApplyOutcome> {
  const previous = await findSubscription(octx, subscription.id);
  const state = subscriptionStateOf(subscription);
  const columns = {
    ...state,
    stripeCustomerId: idOf(subscription.customer),
    lastEventCreated: event.created,
    lastEventId: event.id,
    updatedAt: new Date(),
  };
  const updated = subscriptionUpdatedEvent(octx, subscription.id, state);
  const [[written]] = await octx.db.batch([
    octx.db
      .insert(billingSubscriptions)
      .values({ stripeSubscriptionId: subscription.id, organizationId: octx.organization.id, ...columns })
      .onConflictDoUpdate({
        target: billingSubscriptions.stripeSubscriptionId,
        set: columns,
        // Strictly newer only, and never moved to another organization.
        setWhere: sql`excluded.last_event_created > ${billingSubscriptions.lastEventCreated} and ${billingSubscriptions.organizationId} = ${octx.organization.id}`,
      })
      .returning(),
    updated.statement,
  ]);
  if (written) {
    await dispatchWebhookEvents(octx, [updated]);
    return { outcome: "applied", previous, row: written };
  }

  const stored = await findSubscription(octx, subscription.id);
  if (!stored) {
    // Stored for another organization: a subscription never moves, so this event is not ours to apply.
    octx.logger.error("stripe subscription is stored for another organization; event not applied", {
      subscription_id: subscription.id,
      organization_id: octx.organization.id,
    });
    return { outcome: "other_organization" };
  }
  if (stored.lastEventId === event.id) return { outcome: "duplicate", previous: stored };
  if (stored.lastEventCreated > event.created) return { outcome: "stale", previous: stored };

  // Same second, another event: ask Stripe for the subscription as it is now.
  const stripe = await stripeClient(octx);
  const current = await callStripe(octx, "subscriptions.retrieve", () =>
    stripe.subscriptions.retrieve(subscription.id),
  );
  const currentState = subscriptionStateOf(subscriptionObject.parse(current));
  const rereadEvent = subscriptionUpdatedEvent(octx, subscription.id, currentState);
  const [[reread]] = await octx.db.batch([
    octx.db
      .update(billingSubscriptions)
      .set({ ...currentState, lastEventId: event.id, updatedAt: new Date() })
      .where(
        and(
          eq(billingSubscriptions.stripeSubscriptionId, subscription.id),
          ownedBy(octx, billingSubscriptions.organizationId),
          lte(billingSubscriptions.lastEventCreated, event.created),
        ),
      )
      .returning(),
    rereadEvent.statement,
  ]);
  if (!reread) return { outcome: "stale", previous: stored };
  await dispatchWebhookEvents(octx, [rereadEvent]);
  return { outcome: "applied_after_reread", previous: stored, row: reread };
}

const isoOrNull = (date: Date | null) => date?.toISOString() ?? null;

/** subscription.updated, written only when the write just before it in the batch changed the row. */
function subscriptionUpdatedEvent(octx: OrgContext, subscriptionId: string, state: SubscriptionState) {
  return webhookEventStatement(
    octx,
    octx.organization.id,
    "subscription.updated",
    {
      organization_id: octx.organization.id,
      id: subscriptionId,
      status: state.status,
      plan: findPlanByPrice(octx.config.BILLING_PLANS, state.priceId)?.name ?? null,
      price_id: state.priceId,
      current_period_end: isoOrNull(state.currentPeriodEnd),
      cancel_at_period_end: state.cancelAtPeriodEnd,
      cancel_at: isoOrNull(state.cancelAt),
      canceled_at: isoOrNull(state.canceledAt),
      ended_at: isoOrNull(state.endedAt),
    },
    { when: AFTER_CHANGE },
  );
}

function findSubscription(octx: OrgContext, id: string): Promise<BillingSubscription | undefined> {
  return octx.db
    .select()
    .from(billingSubscriptions)
    .where(
      and(
        eq(billingSubscriptions.stripeSubscriptionId, id),
        ownedBy(octx, billingSubscriptions.organizationId),
      ),
    )
    .get();
}

/**
 * The organization's subscription that matters: one that gives the plan, else one
 * that is not over, else the most recent; undefined when it never subscribed.
 */
export async function currentSubscription(octx: OrgContext): Promise<BillingSubscription | undefined> {
  const rank = sql`case
    when ${billingSubscriptions.status} in ('active', 'trialing', 'past_due') then 0
    when ${billingSubscriptions.status} in ('unpaid', 'paused', 'incomplete') then 1
    else 2 end`;
  return octx.db
    .select()
    .from(billingSubscriptions)
    .where(ownedBy(octx, billingSubscriptions.organizationId))
    .orderBy(rank, desc(billingSubscriptions.lastEventCreated))
    .limit(1)
    .get();
}

export const isEntitled = (status: string) => (ENTITLED_STATUSES as readonly string[]).includes(status);
export const isLive = (status: string) => LIVE_STATUSES.includes(status);

export type SubscriptionView = { subscription: BillingSubscription | undefined; plan: Plan | undefined };

export async function subscriptionView(octx: OrgContext, catalog: BillingCatalog): Promise<SubscriptionView> {
  const subscription = await currentSubscription(octx);
  return { subscription, plan: subscription ? findPlanByPrice(catalog, subscription.priceId) : undefined };
}

/**
 * 402 `plan_required` unless the organization has an entitled subscription (to one of
 * `plans`, by name, when given). The service form of requirePlan().
 */
export async function assertPlan(octx: OrgContext, plans: readonly string[] = []): Promise<Plan | undefined> {
  const { subscription, plan } = await subscriptionView(octx, octx.config.BILLING_PLANS);
  const entitled = subscription !== undefined && isEntitled(subscription.status);
  const wanted = plans.map((name) => name.toLowerCase());
  if (!entitled || (wanted.length > 0 && !(plan && wanted.includes(plan.name.toLowerCase())))) {
    throw planRequired({
      plans,
      current: entitled ? (plan?.name ?? null) : null,
      status: subscription?.status ?? "none",
    });
  }
  return plan;
}

/**
 * Organization deletion: a subscription that is not over is canceled in Stripe at
 * once (otherwise Stripe would go on charging for an organization that is gone). A
 * Stripe failure stops the deletion (503), so nothing is deleted while still billed.
 */
export const cancelSubscriptionsOfDeletedOrganization: OrganizationDeletionStep = async (octx) => {
  const rows = await octx.db
    .select({ id: billingSubscriptions.stripeSubscriptionId, status: billingSubscriptions.status })
    .from(billingSubscriptions)
    .where(ownedBy(octx, billingSubscriptions.organizationId));
  const live = rows.filter((row) => isLive(row.status));
  if (live.length === 0) return [];
  const stripe = await stripeClient(octx);
  for (const { id } of live) {
    await callStripe(octx, "subscriptions.cancel", async () => {
      try {
        await stripe.subscriptions.cancel(id, undefined, { idempotencyKey: `cancel-on-delete:${id}` });
      } catch (error) {
        // Already canceled in Stripe (the webhook has not told us yet): nothing left to stop.
        if ((error as { code?: unknown }).code === "resource_missing") return;
        throw error;
      }
    });
    octx.logger.info("subscription canceled with its organization", {
      organization_id: octx.organization.id,
      subscription_id: id,
    });
  }
  return [];
};
