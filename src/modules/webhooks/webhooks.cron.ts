/**
 * Cron jobs of outbound webhooks, listed in src/modules/wiring.ts.
 *
 * `webhooks.sweep` (every minute) is what makes the outbox lose nothing:
 * - events committed but never dispatched (the Worker died between its batch and its
 *   `webhooks.dispatch` send, or the event was written by a batch another module ran)
 *   are fanned out here, once they are 30 s old (younger ones have a message on its way);
 * - deliveries due within the queue's delay limit that have no message on its way (a
 *   send failed and released its claim) get one;
 * - deliveries long overdue although claimed (a message lost, a worker that died
 *   mid-attempt, a message dead-lettered after D1 trouble) get another one. A duplicate
 *   is harmless: attempts are claimed by a conditional UPDATE.
 *
 * `webhooks.purge_old` (hourly) deletes events older than RETENTION_DAYS (30) with their
 * deliveries (ON DELETE CASCADE): the delivery log covers the last 30 days.
 */
import { and, asc, inArray, isNotNull, isNull, lt, lte, or } from "drizzle-orm";
import { webhookDeliveries, webhookEvents } from "../../db/schema";
import { MAX_QUEUE_DELAY_SECONDS } from "../../jobs/enqueue";
import type { MaintenanceJob } from "../../jobs/maintenance-job";
import type { ServiceContext } from "../../lib/context";
import { sendDeliveryMessages } from "./delivery-queue";
import { fanOutEvent } from "./webhook-dispatch.job";

export const RETENTION_DAYS = 30;
/** An undispatched event this old has no dispatch message on its way any more. */
const DISPATCH_GRACE_MS = 30_000;
/** A claimed delivery this far past its due time lost its message (or its worker). */
const OVERDUE_MS = 15 * 60_000;
const SWEEP_BATCH = 100;
const PURGE_BATCH = 500;
const PURGE_MAX_ROUNDS = 20;

export async function sweepWebhooks(
  ctx: ServiceContext,
  now: number,
): Promise<{ events: number; deliveries: number; sent: number }> {
  const stragglers = await ctx.db
    .select({ id: webhookEvents.id })
    .from(webhookEvents)
    .where(
      and(
        isNull(webhookEvents.dispatchedAt),
        lte(webhookEvents.createdAt, new Date(now - DISPATCH_GRACE_MS)),
      ),
    )
    .orderBy(asc(webhookEvents.createdAt))
    .limit(SWEEP_BATCH);
  for (const event of stragglers) await fanOutEvent(ctx, event.id, now);

  const unsent = and(
    inArray(webhookDeliveries.status, ["pending", "retrying"]),
    or(
      and(
        isNull(webhookDeliveries.enqueuedAt),
        lte(webhookDeliveries.nextAttemptAt, new Date(now + MAX_QUEUE_DELAY_SECONDS * 1000)),
      ),
      and(
        isNotNull(webhookDeliveries.enqueuedAt),
        lt(webhookDeliveries.nextAttemptAt, new Date(now - OVERDUE_MS)),
      ),
    ),
  );
  // One statement claims (enqueued_at = now), so two sweeps never send the same delivery twice.
  const claimed = await ctx.db
    .update(webhookDeliveries)
    .set({ enqueuedAt: new Date(now) })
    .where(
      and(
        inArray(
          webhookDeliveries.id,
          ctx.db
            .select({ id: webhookDeliveries.id })
            .from(webhookDeliveries)
            .where(unsent)
            .orderBy(asc(webhookDeliveries.nextAttemptAt))
            .limit(SWEEP_BATCH),
        ),
        unsent,
      ),
    )
    .returning({ id: webhookDeliveries.id, nextAttemptAt: webhookDeliveries.nextAttemptAt });
  const sent = await sendDeliveryMessages(ctx, claimed, now);
  return { events: stragglers.length, deliveries: claimed.length, sent };
}

export async function purgeOldWebhookEvents(ctx: ServiceContext, now: number): Promise<number> {
  const cutoff = new Date(now - RETENTION_DAYS * 24 * 60 * 60 * 1000);
  let deleted = 0;
  for (let round = 0; round < PURGE_MAX_ROUNDS; round++) {
    const removed = await ctx.db
      .delete(webhookEvents)
      .where(
        inArray(
          webhookEvents.id,
          ctx.db
            .select({ id: webhookEvents.id })
            .from(webhookEvents)
            .where(lt(webhookEvents.createdAt, cutoff))
            .limit(PURGE_BATCH),
        ),
      )
      .returning({ id: webhookEvents.id });
    deleted += removed.length;
    if (removed.length < PURGE_BATCH) break;
  }
  return deleted;
}

export const sweepWebhooksJob: MaintenanceJob = {
  name: "webhooks.sweep",
  everyMinutes: 1,
  run: (ctx, now) => sweepWebhooks(ctx, now.getTime()),
};

export const purgeOldWebhookEventsJob: MaintenanceJob = {
  name: "webhooks.purge_old",
  everyMinutes: 60,
  run: async (ctx, now) => ({ deleted: await purgeOldWebhookEvents(ctx, now.getTime()) }),
};
