import { z } from "zod";

/**
 * "Fan this event out": create its deliveries (one per subscribed, enabled endpoint of
 * its organization) and send each its `webhooks.deliver`. Sent after the batch that
 * wrote the event committed; the cron sweep sends none, it fans out stragglers itself.
 */
export const webhookDispatchMessage = z.object({
  type: z.literal("webhooks.dispatch"),
  event_id: z.uuid(),
});

/**
 * "Make this delivery's next attempt": everything else (URL, secrets, payload, attempt
 * count) is read from D1 when the message is consumed, so a late or duplicated message
 * carries nothing stale and a claimed attempt runs once.
 */
export const webhookDeliverMessage = z.object({
  type: z.literal("webhooks.deliver"),
  delivery_id: z.uuid(),
});

export type WebhookDispatchMessage = z.infer<typeof webhookDispatchMessage>;
export type WebhookDeliverMessage = z.infer<typeof webhookDeliverMessage>;
