/**
 * The `webhooks.dispatch` queue handler, and the fan-out it runs (the cron sweep runs it
 * too, for events a crash left undispatched): one delivery per enabled endpoint of the
 * event's organization that subscribes to its type, then a `webhooks.deliver` message per
 * delivery. Each delivery is its own message, so one slow receiver never holds up
 * another endpoint's (or another organization's) deliveries.
 *
 * Idempotent: deliveries are unique per (event, endpoint) and inserted with ON CONFLICT
 * DO NOTHING, and only the rows this run inserted get a message from it; the event is
 * marked dispatched in the same batch.
 */
import { and, eq, isNull } from "drizzle-orm";
import { chunk, rowsPerInsert } from "../../db/batch";
import { webhookDeliveries, webhookEndpoints, webhookEvents } from "../../db/schema";
import type { QueueHandlerDeps } from "../../jobs/queue-handler";
import type { ServiceContext } from "../../lib/context";
import { uuidv7 } from "../../lib/ids";
import { sendDeliveryMessages } from "./delivery-queue";
import { ALL_EVENT_TYPES } from "./event-catalog";
import type { WebhookDispatchMessage } from "./webhooks.messages";

/** Fans one event out; how many deliveries this run created (0 when already dispatched or gone). */
export async function fanOutEvent(ctx: ServiceContext, eventId: string, now: number): Promise<number> {
  const event = await ctx.db
    .select({ id: webhookEvents.id, organizationId: webhookEvents.organizationId, type: webhookEvents.type })
    .from(webhookEvents)
    .where(and(eq(webhookEvents.id, eventId), isNull(webhookEvents.dispatchedAt)))
    .get();
  if (!event) return 0;
  const endpoints = await ctx.db
    .select({ id: webhookEndpoints.id, eventTypes: webhookEndpoints.eventTypes })
    .from(webhookEndpoints)
    .where(
      and(eq(webhookEndpoints.organizationId, event.organizationId), eq(webhookEndpoints.enabled, true)),
    );
  const due = new Date(now);
  const rows = endpoints
    .filter(({ eventTypes }) => eventTypes.includes(event.type) || eventTypes.includes(ALL_EVENT_TYPES))
    .map((endpoint) => ({
      id: uuidv7(now),
      organizationId: event.organizationId,
      endpointId: endpoint.id,
      eventId: event.id,
      eventType: event.type,
      nextAttemptAt: due,
      // The claim: this run sends their messages (sendDeliveryMessage releases it on failure).
      enqueuedAt: due,
      createdAt: due,
      updatedAt: due,
    }));
  const inserts = chunk(rows, rowsPerInsert(webhookDeliveries)).map((part) =>
    ctx.db
      .insert(webhookDeliveries)
      .values(part)
      .onConflictDoNothing()
      .returning({ id: webhookDeliveries.id, nextAttemptAt: webhookDeliveries.nextAttemptAt }),
  );
  const markDispatched = ctx.db
    .update(webhookEvents)
    .set({ dispatchedAt: due })
    .where(and(eq(webhookEvents.id, event.id), isNull(webhookEvents.dispatchedAt)));
  const results = await ctx.db.batch([markDispatched, ...inserts]);
  const created = results.slice(1).flat() as { id: string; nextAttemptAt: Date | null }[];
  await sendDeliveryMessages(ctx, created, now);
  ctx.logger.info("webhook event dispatched", {
    event_id: event.id,
    type: event.type,
    deliveries: created.length,
  });
  return created.length;
}

export async function dispatchWebhookEvent(
  message: WebhookDispatchMessage,
  deps: QueueHandlerDeps,
): Promise<void> {
  await fanOutEvent(deps.ctx, message.event_id, Date.now());
}
