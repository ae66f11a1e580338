/**
 * Getting a delivery's `webhooks.deliver` message onto JOBS_QUEUE for its next attempt.
 *
 * Whoever sends it first claims the delivery by setting `enqueued_at` (in the same
 * write that made the attempt due: the fan-out's INSERT, a retry's UPDATE, the sweep's
 * claim), then sends with `delaySeconds` until `next_attempt_at`. A send the queue
 * refuses gives the claim back, and the cron sweep (webhooks.cron.ts) sends it later.
 * A duplicate message is harmless: an attempt is claimed by a conditional UPDATE
 * (webhook-delivery.job.ts), so only one message per attempt does anything.
 */
import { and, inArray, isNotNull } from "drizzle-orm";
import { webhookDeliveries } from "../../db/schema";
import { enqueueAt } from "../../jobs/enqueue";
import type { ServiceContext } from "../../lib/context";
import { serializeError } from "../../lib/logger";

/** Sends the message for an attempt due at `dueAt`; false (logged, claim released) when the queue refused it. */
export async function sendDeliveryMessage(
  ctx: ServiceContext,
  deliveryId: string,
  dueAt: Date,
  now: number,
): Promise<boolean> {
  try {
    await enqueueAt(ctx.env.JOBS_QUEUE, { type: "webhooks.deliver", delivery_id: deliveryId }, dueAt, now, {
      d1Session: ctx.dbSession,
    });
    return true;
  } catch (error) {
    ctx.logger.error("webhook delivery message not sent; the cron sweep will", {
      delivery_id: deliveryId,
      error: serializeError(error),
    });
    await releaseDeliveryClaims(ctx, [deliveryId]);
    return false;
  }
}

/** Gives claims back so the sweep sends those deliveries; never throws (the sweep's overdue rule is the backstop). */
export async function releaseDeliveryClaims(ctx: ServiceContext, deliveryIds: string[]): Promise<void> {
  if (deliveryIds.length === 0) return;
  try {
    await ctx.db
      .update(webhookDeliveries)
      .set({ enqueuedAt: null })
      .where(and(inArray(webhookDeliveries.id, deliveryIds), isNotNull(webhookDeliveries.nextAttemptAt)));
  } catch (error) {
    ctx.logger.error("webhook delivery claim not released", { error: serializeError(error) });
  }
}

/** Sends each delivery's message (all due at once); how many the queue took. */
export async function sendDeliveryMessages(
  ctx: ServiceContext,
  deliveries: readonly { id: string; nextAttemptAt: Date | null }[],
  now: number,
): Promise<number> {
  const sent = await Promise.all(
    deliveries.map((delivery) =>
      sendDeliveryMessage(ctx, delivery.id, delivery.nextAttemptAt ?? new Date(now), now),
    ),
  );
  return sent.filter(Boolean).length;
}
