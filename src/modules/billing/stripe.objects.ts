/**
 * The parts of Stripe's objects that billing reads, as zod schemas. Webhook
 * payloads are parsed with these before anything acts on them (loose objects:
 * Stripe adds fields with every API version, and only these ones matter here).
 * Shapes follow the API version the SDK pins (2025-03-31 and later: a
 * subscription's period lives on its items, an invoice's subscription under
 * `parent.subscription_details`, a line's price under `pricing.price_details`).
 */
import { z } from "zod";

import { stripeEventId } from "./billing.messages";

const id = (prefix: string) => z.string().regex(new RegExp(`^${prefix}_[A-Za-z0-9_]+$`));
const expandable = (prefix: string) => z.union([id(prefix), z.looseObject({ id: id(prefix) })]);
const metadata = z.record(z.string(), z.string()).nullish();

/** The last second a JavaScript Date can hold (8.64e15 ms after the epoch). */
export const MAX_DATE_SECONDS = 8_640_000_000_000;

/**
 * A Unix time in seconds that becomes a valid Date: every one of these is stored as a
 * time or sent as ISO 8601, and an invalid Date would fail the write (a 500 at the
 * webhook, a retried job) rather than be refused as the bad input it is.
 */
const unix = z.number().int().nonnegative().max(MAX_DATE_SECONDS);

/** The envelope of every event (`evt_…`); its id within what the queue message carries. */
export const stripeEventEnvelope = z.looseObject({
  id: stripeEventId,
  object: z.literal("event"),
  type: z.string().min(1).max(100),
  created: unix,
  livemode: z.boolean(),
  data: z.looseObject({ object: z.looseObject({}) }),
});
export type StripeEventEnvelope = z.infer<typeof stripeEventEnvelope>;

export const checkoutSessionObject = z.looseObject({
  id: id("cs"),
  object: z.literal("checkout.session"),
  mode: z.enum(["payment", "setup", "subscription"]),
  payment_status: z.enum(["paid", "unpaid", "no_payment_required"]),
  client_reference_id: z.string().nullish(),
  customer: expandable("cus").nullish(),
  subscription: expandable("sub").nullish(),
  metadata,
});
export type CheckoutSessionObject = z.infer<typeof checkoutSessionObject>;

export const subscriptionObject = z.looseObject({
  id: id("sub"),
  object: z.literal("subscription"),
  customer: expandable("cus"),
  status: z.string().min(1).max(40),
  cancel_at_period_end: z.boolean(),
  cancel_at: unix.nullish(),
  canceled_at: unix.nullish(),
  ended_at: unix.nullish(),
  metadata,
  items: z.looseObject({
    data: z.array(
      z.looseObject({
        price: z.looseObject({ id: id("price") }),
        current_period_end: unix.nullish(),
      }),
    ),
  }),
});
export type SubscriptionObject = z.infer<typeof subscriptionObject>;

export const invoiceObject = z.looseObject({
  id: id("in"),
  object: z.literal("invoice"),
  customer: expandable("cus").nullish(),
  billing_reason: z.string().nullish(),
  amount_due: z.number().int().nonnegative(),
  currency: z.string().regex(/^[a-zA-Z]{3}$/),
  next_payment_attempt: unix.nullish(),
  parent: z
    .looseObject({
      subscription_details: z.looseObject({ subscription: expandable("sub"), metadata }).nullish(),
    })
    .nullish(),
  lines: z.looseObject({
    data: z.array(
      z.looseObject({
        pricing: z
          .looseObject({
            price_details: z.looseObject({ price: expandable("price") }).nullish(),
          })
          .nullish(),
      }),
    ),
  }),
});
export type InvoiceObject = z.infer<typeof invoiceObject>;

export const idOf = (value: string | { id: string }) => (typeof value === "string" ? value : value.id);
