import { z } from "@hono/zod-openapi";
import { creditEntryKinds } from "../../db/schema";
import { listQuery } from "../../lib/list-query";
import { PageMetaSchema } from "../../lib/pagination";
import { billingIntervals, PRICE_ID_PATTERN } from "./billing.plans";

const PRO_PRICE = "price_1QeZ4bF2kLmN0pQrStUvWxYz";
const PACK_PRICE = "price_1QeZ5cF2kLmN0pQrCr3d1t5K";

export const PlanSchema = z
  .object({
    name: z.string().openapi({ example: "Pro" }),
    price_id: z.string().openapi({ description: "The Stripe price to check out with.", example: PRO_PRICE }),
    interval: z.enum(billingIntervals).openapi({ example: "month" }),
    monthly_credits: z.number().int().openapi({
      description: "Credits granted per month of the plan, on each paid invoice (×12 for a yearly plan).",
      example: 5000,
    }),
  })
  .openapi("Plan");

export const CreditPackSchema = z
  .object({
    name: z.string().openapi({ example: "1,000 credits" }),
    price_id: z.string().openapi({ example: PACK_PRICE }),
    credits: z
      .number()
      .int()
      .openapi({ description: "Credits added once the payment succeeds.", example: 1000 }),
  })
  .openapi("CreditPack");

export const plansExample = {
  plans: [
    { name: "Starter", price_id: "price_1QeZ3aF2kLmN0pQrSt4rT3r0", interval: "month", monthly_credits: 1000 },
    { name: "Pro", price_id: PRO_PRICE, interval: "month", monthly_credits: 5000 },
  ],
  credit_packs: [{ name: "1,000 credits", price_id: PACK_PRICE, credits: 1000 }],
};

export const PlansSchema = z
  .object({ plans: z.array(PlanSchema), credit_packs: z.array(CreditPackSchema) })
  .openapi("BillingPlans", { example: plansExample });

export const CheckoutRequestSchema = z
  .strictObject({
    price_id: z
      .string()
      .regex(PRICE_ID_PATTERN, "Must be a Stripe price id (price_…) from GET /api/v1/billing/plans.")
      .openapi({ description: "A plan's or a credit pack's `price_id`.", example: PRO_PRICE }),
    mode: z.enum(["subscription", "payment"]).openapi({
      description: "`subscription` for a plan, `payment` for a one-time credit pack.",
      example: "subscription",
    }),
  })
  .openapi("CheckoutRequest", { example: { price_id: PRO_PRICE, mode: "subscription" } });

export type CheckoutInput = z.infer<typeof CheckoutRequestSchema>;

export const checkoutSessionExample = {
  id: "cs_test_a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ",
  url: "https://checkout.stripe.com/c/pay/cs_test_a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ#fidkdWxOYHwnPyd1blpxYHZxWjA0",
  expires_at: "2026-11-22T09:30:00.000Z",
};

export const CheckoutSessionSchema = z
  .object({
    id: z.string().openapi({ description: "The Stripe Checkout Session id (`cs_…`)." }),
    url: z
      .url()
      .openapi({ description: "Send the customer here (a redirect): Stripe's hosted checkout page." }),
    expires_at: z.iso.datetime().openapi({ description: "The page stops working then (24 h)." }),
  })
  .openapi("CheckoutSession", { example: checkoutSessionExample });

export const PortalSessionSchema = z
  .object({
    url: z.url().openapi({ description: "Stripe's billing portal for the organization: a one-time link." }),
  })
  .openapi("BillingPortalSession", {
    example: { url: "https://billing.stripe.com/p/session/test_YWNjdF8xTjJrTG1OMHBRclN0VXZX" },
  });

export const subscriptionExample = {
  status: "active",
  plan: { name: "Pro", price_id: PRO_PRICE, interval: "month", monthly_credits: 5000 },
  price_id: PRO_PRICE,
  current_period_end: "2026-12-21T09:30:00.000Z",
  cancel_at_period_end: false,
  cancel_at: null,
  canceled_at: null,
  stripe_subscription_id: "sub_1QeZ6dF2kLmN0pQrSuB5cR1p",
};

export const SubscriptionSchema = z
  .object({
    status: z.string().openapi({
      description:
        "`none` (never subscribed) or Stripe's status: `active`, `trialing`, `past_due` (the plan still applies while Stripe retries the payment), `unpaid`, `paused`, `incomplete`, `incomplete_expired`, `canceled`.",
      example: "active",
    }),
    plan: PlanSchema.nullable().openapi({
      description:
        "The plan of the subscription's price; null with no subscription or a price not in BILLING_PLANS.",
    }),
    price_id: z.string().nullable(),
    current_period_end: z.iso
      .datetime()
      .nullable()
      .openapi({ description: "When the paid period ends (renewal)." }),
    cancel_at_period_end: z
      .boolean()
      .openapi({ description: "Canceled, effective at the end of the period." }),
    cancel_at: z.iso.datetime().nullable(),
    canceled_at: z.iso.datetime().nullable(),
    stripe_subscription_id: z.string().nullable(),
  })
  .openapi("Subscription", { example: subscriptionExample });

export type SubscriptionDto = z.infer<typeof SubscriptionSchema>;

export const ledgerEntryExample = {
  id: "0190c6e1-7a2b-7c3d-8e4f-5a6b7c8d9e0f",
  kind: "usage",
  amount: -1,
  balance_after: 4999,
  description: "Task process_data",
  reference: "task:0190c6e1-79f0-7a1b-9c2d-3e4f5a6b7c8d",
  created_at: "2026-11-21T09:31:12.000Z",
};

export const CreditLedgerEntrySchema = z
  .object({
    id: z.uuid(),
    kind: z.enum(creditEntryKinds).openapi({
      description:
        "`grant` (a plan's credits for a paid invoice), `purchase` (a credit pack), `usage` (spent), `refund` (usage given back), `adjustment` (a correction by staff).",
    }),
    amount: z.number().int().openapi({ description: "Signed: positive adds, negative spends." }),
    balance_after: z.number().int().openapi({ description: "The balance this entry left." }),
    description: z.string(),
    reference: z.string().openapi({
      description:
        "What the entry is for: `invoice:in_…`, `checkout:cs_…`, `task:<task id>`, `task-refund:<task id>` … (each applies once).",
    }),
    created_at: z.iso.datetime(),
  })
  .openapi("CreditLedgerEntry", { example: ledgerEntryExample });

export type CreditLedgerEntryDto = z.infer<typeof CreditLedgerEntrySchema>;

export const CreditsPageSchema = z
  .object({
    balance: z.number().int().openapi({ description: "Credits available now.", example: 4999 }),
    low_credits_threshold: z.number().int().openapi({
      description: "Owners and billing members are alerted when the balance drops below this (0: never).",
      example: 10,
    }),
    data: z.array(CreditLedgerEntrySchema),
    meta: PageMetaSchema,
  })
  .openapi("CreditsPage", {
    example: {
      balance: 4999,
      low_credits_threshold: 10,
      data: [ledgerEntryExample],
      meta: { next: null, prev: null, total: 1 },
    },
  });

export const ListCreditsQuery = listQuery({
  sort: ["created_at"],
  defaultSort: "-created_at",
  filters: { "filter[kind]": z.enum(creditEntryKinds) },
});

export const webhookAckExample = {
  received: true,
  event_id: "evt_1QeZ7eF2kLmN0pQrW3bH00k5",
  duplicate: false,
};

export const WebhookAckSchema = z
  .object({
    received: z.literal(true),
    event_id: z.string(),
    duplicate: z
      .boolean()
      .openapi({ description: "True when this event id was received before (nothing more is done)." }),
  })
  .openapi("StripeWebhookAck", { example: webhookAckExample });
