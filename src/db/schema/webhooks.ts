import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { createdAt, id, timestamp, updatedAt } from "./columns";
import { organizations } from "./orgs";
import { users } from "./users";

/** Why an endpoint stopped receiving deliveries: a person turned it off, or 5 days of failures did. */
export const webhookDisabledReasons = ["manual", "failing"] as const;
export type WebhookDisabledReason = (typeof webhookDisabledReasons)[number];

/**
 * An organization's outbound webhook endpoint: where its events are POSTed, which
 * event types it wants, and the signing secrets. The secrets must be read back to
 * sign every delivery, so they are stored sealed (AES-256-GCM under
 * WEBHOOK_SECRET_ENCRYPTION_KEY, bound to the endpoint id; src/lib/secret-box.ts), never
 * in clear. After a rotation the previous secret keeps signing too until
 * `previous_secret_expires_at` (24 h), so receivers can switch over.
 */
export const webhookEndpoints = sqliteTable(
  "webhook_endpoints",
  {
    id: id(),
    organizationId: text("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    url: text("url").notNull(),
    description: text("description"),
    /** Event type names, or `["*"]` for every type (including types added later). */
    eventTypes: text("event_types", { mode: "json" }).$type<string[]>().notNull(),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    secretCiphertext: text("secret_ciphertext").notNull(),
    previousSecretCiphertext: text("previous_secret_ciphertext"),
    previousSecretExpiresAt: timestamp("previous_secret_expires_at"),
    /** The first failed attempt since the last success (null while healthy): 5 days of it disables the endpoint. */
    failingSince: timestamp("failing_since"),
    disabledAt: timestamp("disabled_at"),
    disabledReason: text("disabled_reason", { enum: webhookDisabledReasons }),
    createdBy: text("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (table) => [index("webhook_endpoints_org_created_idx").on(table.organizationId, table.createdAt, table.id)],
);

/**
 * The outbox: one row per event an organization's endpoints must hear about, written
 * in the SAME D1 batch as the change it describes (src/modules/webhooks/outbox.ts),
 * so an event exists exactly when its change committed. `payload` is the exact JSON
 * body every delivery sends (and signs), byte for byte the same on every retry.
 * `dispatched_at` is set once its deliveries exist; the cron sweep dispatches rows a
 * crash left without it.
 */
export const webhookEvents = sqliteTable(
  "webhook_events",
  {
    /** Also the `webhook-id` header of every delivery of the event. */
    id: text("id").primaryKey(),
    organizationId: text("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    type: text("type").notNull(),
    payload: text("payload").notNull(),
    createdAt: timestamp("created_at").notNull(),
    dispatchedAt: timestamp("dispatched_at"),
  },
  (table) => [
    // The organization's deletion cascades here through this index rather than a table scan.
    index("webhook_events_org_created_idx").on(table.organizationId, table.createdAt),
    index("webhook_events_undispatched_idx").on(table.createdAt).where(sql`${table.dispatchedAt} is null`),
    index("webhook_events_created_idx").on(table.createdAt),
  ],
);

export const webhookDeliveryStatuses = ["pending", "retrying", "succeeded", "failed"] as const;
export type WebhookDeliveryStatus = (typeof webhookDeliveryStatuses)[number];

/**
 * One event on its way to one endpoint, and the log of its attempts: the last
 * attempt's status, time and the first 4 KiB of the receiver's answer. Unique per
 * (event, endpoint), so dispatching an event twice never delivers it twice.
 * `next_attempt_at` is when the next attempt is due (null once succeeded or failed);
 * `enqueued_at` is the claim that a queue message for that attempt is on its way (the
 * cron sweep sends one for rows without it, and again for rows long overdue).
 */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: id(),
    organizationId: text("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    endpointId: text("endpoint_id")
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: "cascade" }),
    eventId: text("event_id")
      .notNull()
      .references(() => webhookEvents.id, { onDelete: "cascade" }),
    eventType: text("event_type").notNull(),
    status: text("status", { enum: webhookDeliveryStatuses }).notNull().default("pending"),
    /** Attempts made (a claimed attempt counts even if its worker died). */
    attempts: integer("attempts").notNull().default(0),
    /** Retried by hand after it had finished: its next failure is final (no schedule). */
    manual: integer("manual", { mode: "boolean" }).notNull().default(false),
    nextAttemptAt: timestamp("next_attempt_at"),
    enqueuedAt: timestamp("enqueued_at"),
    lastAttemptAt: timestamp("last_attempt_at"),
    responseStatus: integer("response_status"),
    responseMs: integer("response_ms"),
    /** The first 4 KiB of the last answer (owners and admins only). */
    responseBody: text("response_body"),
    /** Why the last attempt failed when there was no HTTP status to say it: `timeout`, `network_error` … */
    error: text("error"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (table) => [
    uniqueIndex("webhook_deliveries_event_endpoint_unique").on(table.eventId, table.endpointId),
    // The delivery log (organization, endpoint, newest first); it also serves the organization's cascade.
    index("webhook_deliveries_org_endpoint_created_idx").on(
      table.organizationId,
      table.endpointId,
      table.createdAt,
      table.id,
    ),
    // filter[status]; it also serves the endpoint's cascade.
    index("webhook_deliveries_endpoint_status_idx").on(
      table.endpointId,
      table.status,
      table.createdAt,
      table.id,
    ),
    // The cron sweep reads only deliveries still on their way.
    index("webhook_deliveries_due_idx")
      .on(table.nextAttemptAt)
      .where(sql`${table.status} in ('pending', 'retrying')`),
  ],
);

export type WebhookEndpoint = typeof webhookEndpoints.$inferSelect;
export type WebhookEvent = typeof webhookEvents.$inferSelect;
export type WebhookDelivery = typeof webhookDeliveries.$inferSelect;
