import { sql } from "drizzle-orm";
import { check, index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { createdAt, id, timestamp, updatedAt } from "./columns";
import { organizations } from "./orgs";

/**
 * One row per organization that has touched billing: its Stripe customer (created
 * lazily, at the first checkout or portal visit) and its credit balance. The balance
 * is only ever changed in the same D1 batch as the credit_ledger row that explains
 * it (src/modules/billing/credits.service.ts), and never goes below zero (debits are
 * conditional on `credit_balance >= cost`; the CHECK is the last line of defence).
 */
export const billingAccounts = sqliteTable(
  "billing_accounts",
  {
    organizationId: text("organization_id")
      .primaryKey()
      .references(() => organizations.id, { onDelete: "cascade" }),
    /** `cus_…`; set once by a conditional UPDATE, so concurrent first checkouts agree on one customer. */
    stripeCustomerId: text("stripe_customer_id"),
    creditBalance: integer("credit_balance").notNull().default(0),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (table) => [
    uniqueIndex("billing_accounts_stripe_customer_unique").on(table.stripeCustomerId),
    check("billing_accounts_balance_not_negative", sql`${table.creditBalance} >= 0`),
  ],
);

/** Why a balance changed. Grants and purchases add, usage takes, refunds give usage back, adjustments are staff corrections. */
export const creditEntryKinds = ["grant", "purchase", "usage", "refund", "adjustment"] as const;
export type CreditEntryKind = (typeof creditEntryKinds)[number];

/**
 * The credit ledger: append-only (a trigger refuses UPDATE, and DELETE while the
 * organization exists; see the `credit_ledger_append_only` migration). Every entry
 * records the signed amount and the balance it left, and carries a `reference`
 * unique per organization (`invoice:in_…`, `checkout:cs_…`, `task:<id>` …), which is
 * what makes a grant for one invoice, or the charge for one task, happen once however
 * often the event or the call is repeated.
 */
export const creditLedger = sqliteTable(
  "credit_ledger",
  {
    id: id(),
    organizationId: text("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: creditEntryKinds }).notNull(),
    /** Signed: positive adds credits, negative takes them. */
    amount: integer("amount").notNull(),
    balanceAfter: integer("balance_after").notNull(),
    reference: text("reference").notNull(),
    description: text("description").notNull(),
    createdAt: createdAt(),
  },
  (table) => [
    uniqueIndex("credit_ledger_reference_unique").on(table.organizationId, table.reference),
    index("credit_ledger_org_created_idx").on(table.organizationId, table.createdAt, table.id),
  ],
);

/**
 * Subscription state per Stripe subscription, as the webhooks last described it.
 * Events arrive out of order, so each row remembers the `created` time (seconds) and
 * id of the event that wrote it, and an older event never overwrites a newer one.
 */
export const billingSubscriptions = sqliteTable(
  "billing_subscriptions",
  {
    stripeSubscriptionId: text("stripe_subscription_id").primaryKey(),
    organizationId: text("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    stripeCustomerId: text("stripe_customer_id").notNull(),
    /** Stripe's status: active, trialing, past_due, unpaid, paused, incomplete, incomplete_expired, canceled. */
    status: text("status").notNull(),
    /** The subscription's (first) price; the plan is looked up from BILLING_PLANS when read. */
    priceId: text("price_id"),
    currentPeriodEnd: timestamp("current_period_end"),
    cancelAtPeriodEnd: integer("cancel_at_period_end", { mode: "boolean" }).notNull().default(false),
    cancelAt: timestamp("cancel_at"),
    canceledAt: timestamp("canceled_at"),
    endedAt: timestamp("ended_at"),
    /** `created` (Unix seconds) of the Stripe event this state came from: the ordering guard. */
    lastEventCreated: integer("last_event_created").notNull(),
    lastEventId: text("last_event_id").notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (table) => [index("billing_subscriptions_org_idx").on(table.organizationId, table.lastEventCreated)],
);

/**
 * Every Stripe event received, by its id (`evt_…`): the de-duplication record
 * written before anything else happens, and the payload the queue job works from.
 * Not organization-owned (the organization is only known once the event is read).
 */
export const stripeEvents = sqliteTable(
  "stripe_events",
  {
    id: text("id").primaryKey(),
    type: text("type").notNull(),
    livemode: integer("livemode", { mode: "boolean" }).notNull(),
    /** The event's own `created`, as a time. */
    stripeCreatedAt: timestamp("stripe_created_at").notNull(),
    /** The verified request body, as Stripe sent it. */
    payload: text("payload").notNull(),
    /** When the webhook received it. */
    createdAt: createdAt(),
    /** Times a `billing.stripe_event` message was sent for it (the sweep re-sends, a few times at most). */
    dispatches: integer("dispatches").notNull().default(0),
    processedAt: timestamp("processed_at"),
    /** What processing did: `applied`, `stale`, `duplicate`, `ignored`, `unknown_customer` … */
    outcome: text("outcome"),
  },
  (table) => [
    index("stripe_events_unprocessed_idx").on(table.createdAt).where(sql`${table.processedAt} is null`),
    index("stripe_events_received_idx").on(table.createdAt),
  ],
);

export type BillingAccount = typeof billingAccounts.$inferSelect;
export type CreditLedgerEntry = typeof creditLedger.$inferSelect;
export type BillingSubscription = typeof billingSubscriptions.$inferSelect;
export type StripeEventRow = typeof stripeEvents.$inferSelect;
