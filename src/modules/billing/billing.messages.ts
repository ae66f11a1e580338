import { z } from "zod";

/**
 * "Process this Stripe event": the event is already verified and stored in
 * stripe_events (the webhook wrote it before answering Stripe); the job reads it
 * from there, so the message carries only its id.
 */
export const stripeEventMessage = z.object({
  type: z.literal("billing.stripe_event"),
  event_id: z.string().regex(/^evt_[A-Za-z0-9_]{1,250}$/),
});

/** A debit took the organization's balance below BILLING_LOW_CREDITS_THRESHOLD: alert its owners and billing members. */
export const creditsLowMessage = z.object({
  type: z.literal("billing.credits_low"),
  organization_id: z.uuid(),
  credits_remaining: z.number().int().min(0),
});

export type StripeEventMessage = z.infer<typeof stripeEventMessage>;
export type CreditsLowMessage = z.infer<typeof creditsLowMessage>;
