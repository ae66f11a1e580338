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

/**
 * A Stripe event id as this message carries it. The webhook validates the event's id
 * with this very schema before it records anything, so an id the message could not
 * carry is refused once at the edge (400) instead of failing every queue send (503)
 * and being redelivered by Stripe for days.
 */
export const stripeEventId = stripeEventMessage.shape.event_id;

/** A debit took the organization's balance below BILLING_LOW_CREDITS_THRESHOLD: alert its owners and billing members. */
export const creditsLowMessage = z.object({
  type: z.literal("billing.credits_low"),
  organization_id: z.uuid(),
  credits_remaining: z.number().int().min(0),
});

export type StripeEventMessage = z.infer<typeof stripeEventMessage>;
export type CreditsLowMessage = z.infer<typeof creditsLowMessage>;
