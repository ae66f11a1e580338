/**
 * The outbox, as the modules that own the changes see it: two functions and nothing
 * else of the webhooks module (only the catalogue's types, checked at compile time).
 *
 *   const event = webhookEventStatement(octx, octx.organization.id, "api_key.created", data);
 *   await octx.db.batch([insertKey, auditRow, event.statement]);   // one transaction
 *   await dispatchWebhookEvents(octx, [event]);                     // after the commit
 *
 * The event row is a statement of the SAME D1 batch as the change it describes, so it
 * exists if and only if that change committed: a batch that fails (a constraint, a
 * guard) rolls the event back with it, and nothing is ever sent for it. The row is only
 * written when the organization has an enabled endpoint subscribed to the type (checked
 * inside the statement), so organizations without webhooks pay one indexed lookup.
 *
 * Delivery starts after the commit: `dispatchWebhookEvents` sends a `webhooks.dispatch`
 * message per event that was written. A Worker that dies between the commit and the
 * send loses nothing: the cron sweep (webhooks.cron.ts) dispatches rows left
 * undispatched. Statements returned into a batch another module runs (account erasure
 * steps) rely on that sweep alone.
 */
import { and, inArray, isNull, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { webhookEndpoints, webhookEvents } from "../../db/schema";
import { enqueue } from "../../jobs/enqueue";
import type { ServiceContext } from "../../lib/context";
import { uuidv7 } from "../../lib/ids";
import { serializeError } from "../../lib/logger";
import type { WebhookEventData, WebhookEventType } from "./event-catalog";

export type OutboxEvent = { id: string; type: WebhookEventType; statement: BatchItem<"sqlite"> };

export type OutboxOptions = {
  /** Write the event only when this holds too, e.g. AFTER_CHANGE for a guarded UPDATE just before it. */
  when?: SQL;
  /**
   * Fields of `data` only the database knows at that point of the batch (a balance after a
   * debit): `{ credits_remaining: sql`(select …)` }` replaces `data.credits_remaining`.
   */
  computed?: Record<string, SQL>;
};

const FIELD_NAME = /^[a-z_]+$/;

/** True when the organization has an enabled endpoint that wants `type` (`*` wants every type). */
function subscribed(organizationId: string, type: WebhookEventType): SQL {
  return sql`exists (select 1 from ${webhookEndpoints} where ${webhookEndpoints.organizationId} = ${organizationId} and ${webhookEndpoints.enabled} = 1 and exists (select 1 from json_each(${webhookEndpoints.eventTypes}) where value in (${type}, '*')))`;
}

/** The INSERT of one event, for the batch that makes the change it describes. */
export function webhookEventStatement<T extends WebhookEventType>(
  ctx: ServiceContext,
  organizationId: string,
  type: T,
  data: WebhookEventData<T>,
  options: OutboxOptions = {},
): OutboxEvent {
  const now = Date.now();
  const id = uuidv7(now);
  const body = JSON.stringify({ type, timestamp: new Date(now).toISOString(), data });
  let payload: SQL = sql`${body}`;
  for (const [field, value] of Object.entries(options.computed ?? {})) {
    if (!FIELD_NAME.test(field)) throw new Error(`webhookEventStatement: bad computed field "${field}"`);
    payload = sql`json_set(${payload}, ${`$.data.${field}`}, ${value})`;
  }
  const condition = options.when
    ? sql`(${options.when}) and ${subscribed(organizationId, type)}`
    : subscribed(organizationId, type);
  // INSERT … SELECT <values> WHERE <condition>: the columns in table order (dispatched_at last, null).
  const statement = ctx.db
    .insert(webhookEvents)
    .select(sql`select ${id}, ${organizationId}, ${type}, ${payload}, ${now}, null where ${condition}`);
  return { id, type, statement };
}

/**
 * After the batch committed: a `webhooks.dispatch` message for each of `events` that was
 * written. Never throws: a failure is logged and the cron sweep dispatches the event.
 */
export async function dispatchWebhookEvents(
  ctx: ServiceContext,
  events: readonly Pick<OutboxEvent, "id">[],
): Promise<void> {
  if (events.length === 0) return;
  try {
    const written = await ctx.db
      .select({ id: webhookEvents.id })
      .from(webhookEvents)
      .where(
        and(
          inArray(
            webhookEvents.id,
            events.map((event) => event.id),
          ),
          isNull(webhookEvents.dispatchedAt),
        ),
      );
    for (const { id } of written) {
      await enqueue(
        ctx.env.JOBS_QUEUE,
        { type: "webhooks.dispatch", event_id: id },
        { d1Session: ctx.dbSession },
      );
    }
  } catch (error) {
    ctx.logger.error("webhook event not dispatched; the cron sweep will", {
      event_ids: events.map((event) => event.id),
      error: serializeError(error),
    });
  }
}
