/**
 * Cron jobs of billing (src/scheduled.ts):
 *
 * - `billing.redispatch_stripe_events` (every 10 min): an event recorded but still not
 *   processed 10 minutes later lost its queue message (the queue gave up on it after
 *   its retries, e.g. through a long Stripe outage); it is sent again, at most
 *   MAX_DISPATCHES times in all, within Stripe's own 3-day retry window. Each send is
 *   claimed by a conditional UPDATE of `dispatches`, so concurrent runs send once.
 * - `billing.purge_stripe_events` (hourly): event records older than 30 days go (their
 *   payloads hold customer details; Stripe stops retrying an event after 3 days, so
 *   de-duplication needs far less).
 */
import { and, eq, gt, inArray, isNull, lt, lte } from "drizzle-orm";
import { stripeEvents } from "../../db/schema";
import { enqueue } from "../../jobs/enqueue";
import type { MaintenanceJob } from "../../jobs/maintenance-job";
import type { ServiceContext } from "../../lib/context";
import { serializeError } from "../../lib/logger";

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;
export const REDISPATCH_AFTER_MS = 10 * MINUTE_MS;
export const MAX_DISPATCHES = 5;
const REDISPATCH_WINDOW_MS = 3 * DAY_MS;
export const STRIPE_EVENT_RETENTION_MS = 30 * DAY_MS;
const BATCH = 50;

export async function redispatchStuckEvents(ctx: ServiceContext, now: Date): Promise<number> {
  const stuck = await ctx.db
    .select({ id: stripeEvents.id, dispatches: stripeEvents.dispatches })
    .from(stripeEvents)
    .where(
      and(
        isNull(stripeEvents.processedAt),
        lt(stripeEvents.createdAt, new Date(now.getTime() - REDISPATCH_AFTER_MS)),
        gt(stripeEvents.createdAt, new Date(now.getTime() - REDISPATCH_WINDOW_MS)),
        lt(stripeEvents.dispatches, MAX_DISPATCHES),
      ),
    )
    .limit(BATCH);
  let sent = 0;
  for (const event of stuck) {
    const claimed = await ctx.db
      .update(stripeEvents)
      .set({ dispatches: event.dispatches + 1 })
      .where(
        and(
          eq(stripeEvents.id, event.id),
          eq(stripeEvents.dispatches, event.dispatches),
          isNull(stripeEvents.processedAt),
        ),
      )
      .run();
    if (claimed.meta.changes !== 1) continue;
    try {
      await enqueue(
        ctx.env.JOBS_QUEUE,
        { type: "billing.stripe_event", event_id: event.id },
        { d1Session: ctx.dbSession },
      );
      sent += 1;
    } catch (error) {
      ctx.logger.error("could not re-queue a stripe event", {
        event_id: event.id,
        error: serializeError(error),
      });
    }
  }
  if (sent > 0) ctx.logger.warn("stripe events re-queued after their messages were lost", { count: sent });
  return sent;
}

export async function purgeOldStripeEvents(ctx: ServiceContext, now: Date): Promise<number> {
  let deleted = 0;
  for (let round = 0; round < 20; round++) {
    const old = ctx.db
      .select({ id: stripeEvents.id })
      .from(stripeEvents)
      .where(lte(stripeEvents.createdAt, new Date(now.getTime() - STRIPE_EVENT_RETENTION_MS)))
      .limit(500);
    const result = await ctx.db.delete(stripeEvents).where(inArray(stripeEvents.id, old)).run();
    deleted += result.meta.changes;
    if (result.meta.changes < 500) break;
  }
  return deleted;
}

export const redispatchStripeEventsJob: MaintenanceJob = {
  name: "billing.redispatch_stripe_events",
  everyMinutes: 10,
  run: async (ctx, now) => ({ requeued: await redispatchStuckEvents(ctx, now) }),
};

export const purgeStripeEventsJob: MaintenanceJob = {
  name: "billing.purge_stripe_events",
  everyMinutes: 60,
  run: async (ctx, now) => ({ deleted: await purgeOldStripeEvents(ctx, now) }),
};
