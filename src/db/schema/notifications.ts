import { sql } from "drizzle-orm";
import { index, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { createdAt, id, timestamp } from "./columns";
import { users } from "./users";

/** Every kind of notification a module may send; the API documents the same list. */
export const notificationTypes = [
  "task_completed",
  "task_failed",
  "org_invitation",
  "billing_alert",
  "new_comment",
  "system",
  "webhook_endpoint_disabled",
] as const;

export type NotificationType = (typeof notificationTypes)[number];

/**
 * One row per notification of one user. Ids are UUIDv7, so ordering by id is ordering by
 * creation time: lists page on (user_id, id) and `?since=<id>` replay is `id > since`.
 */
export const notifications = sqliteTable(
  "notifications",
  {
    id: id(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    type: text("type", { enum: notificationTypes }).notNull(),
    title: text("title").notNull(),
    message: text("message").notNull(),
    /** Deep link into the app (absolute URL or app path). */
    targetUrl: text("target_url"),
    data: text("data", { mode: "json" }).$type<Record<string, unknown>>().notNull().default(sql`'{}'`),
    readAt: timestamp("read_at"),
    /** Set for rows written by an admin broadcast: a redelivered queue message inserts nothing twice. */
    broadcastId: text("broadcast_id"),
    createdAt: createdAt(),
  },
  (table) => [
    index("notifications_user_id_idx").on(table.userId, table.id),
    // Unread counts and filter[unread] touch only the unread rows of one user.
    index("notifications_user_unread_idx").on(table.userId, table.id).where(sql`${table.readAt} is null`),
    uniqueIndex("notifications_broadcast_user_unique").on(table.broadcastId, table.userId),
  ],
);

export type Notification = typeof notifications.$inferSelect;
export type NewNotification = typeof notifications.$inferInsert;
