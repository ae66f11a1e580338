/**
 * What can be bought, from the BILLING_PLANS variable (JSON, validated once per
 * isolate with the rest of the configuration in src/env.ts):
 *
 *   {
 *     "plans": [{ "name": "Pro", "price_id": "price_…", "interval": "month", "monthly_credits": 5000 }],
 *     "credit_packs": [{ "name": "1,000 credits", "price_id": "price_…", "credits": 1000 }]
 *   }
 *
 * Plans are recurring Stripe prices (checkout mode `subscription`); credit packs are
 * one-time prices (mode `payment`). Stripe stays the source of truth for amounts and
 * currencies; this file only maps price ids to what they give. No imports from the
 * rest of the app but src/lib/json-setting.ts: src/env.ts imports this schema.
 */
import { z } from "zod";
import { jsonSetting } from "../../lib/json-setting";

/** `price_` followed by Stripe's id characters. */
export const PRICE_ID_PATTERN = /^price_[A-Za-z0-9_]{1,200}$/;
const priceId = z.string().regex(PRICE_ID_PATTERN, "must be a Stripe price id (price_…)");
const name = z
  .string()
  .trim()
  .min(1)
  .max(60)
  .regex(/^[^\p{Cc}]*$/u, "must not contain control characters");
const credits = z.number().int().min(0).max(100_000_000);

export const billingIntervals = ["month", "year"] as const;
export type BillingInterval = (typeof billingIntervals)[number];

const planSchema = z.strictObject({
  name,
  price_id: priceId,
  /** The Stripe price's billing interval; a yearly plan grants 12 × monthly_credits per paid invoice. */
  interval: z.enum(billingIntervals),
  monthly_credits: credits,
});

const creditPackSchema = z.strictObject({
  name,
  price_id: priceId,
  credits: credits.min(1),
});

export type Plan = z.infer<typeof planSchema>;
export type CreditPack = z.infer<typeof creditPackSchema>;
export type BillingCatalog = { plans: Plan[]; credit_packs: CreditPack[] };

export const EMPTY_CATALOG: BillingCatalog = { plans: [], credit_packs: [] };

/** The BILLING_PLANS variable: a JSON string → the validated catalog. */
export const billingPlansSchema = jsonSetting(
  z
    .strictObject({
      plans: z.array(planSchema).max(50).default([]),
      credit_packs: z.array(creditPackSchema).max(50).default([]),
    })
    .superRefine((catalog, ctx) => {
      const prices = [...catalog.plans, ...catalog.credit_packs].map((item) => item.price_id);
      const repeated = prices.filter((price, i) => prices.indexOf(price) !== i);
      if (repeated.length > 0) {
        ctx.addIssue({ code: "custom", message: `price ids must be unique: ${repeated.join(", ")}` });
      }
      const names = catalog.plans.map((plan) => plan.name.toLowerCase());
      if (new Set(names).size !== names.length) {
        ctx.addIssue({ code: "custom", message: "plan names must be unique" });
      }
    }),
  'must be JSON such as {"plans":[{"name":"Pro","price_id":"price_…","interval":"month","monthly_credits":5000}],"credit_packs":[{"name":"1,000 credits","price_id":"price_…","credits":1000}]}',
);

/** Credits one paid invoice of `plan` grants: a month's worth per month of the interval. */
export function creditsPerInvoice(plan: Plan): number {
  return plan.monthly_credits * (plan.interval === "year" ? 12 : 1);
}

export function findPlanByPrice(catalog: BillingCatalog, priceId: string | null): Plan | undefined {
  return priceId === null ? undefined : catalog.plans.find((plan) => plan.price_id === priceId);
}

export function findPackByPrice(catalog: BillingCatalog, priceId: string): CreditPack | undefined {
  return catalog.credit_packs.find((pack) => pack.price_id === priceId);
}
