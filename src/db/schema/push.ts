import { index, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { createdAt, id, timestamp, updatedAt } from "./columns";
import { sessions } from "./sessions";
import { users } from "./users";

/** How a device is reached: Web Push (browsers, RFC 8030/8291/8292) or Firebase Cloud Messaging (Android, iOS). */
export const pushSubscriptionTypes = ["webpush", "fcm"] as const;
export type PushSubscriptionType = (typeof pushSubscriptionTypes)[number];

/**
 * One row per device that asked for push notifications. A device is its push endpoint
 * (Web Push) or registration token (FCM), unique across users: the account that
 * registered it last receives on it, so a shared browser never shows the previous
 * user's notifications. A subscription lives as long as the session that registered
 * it: signing that session out (or its expiry) removes it.
 */
export const pushSubscriptions = sqliteTable(
  "push_subscriptions",
  {
    id: id(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    sessionId: text("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    type: text("type", { enum: pushSubscriptionTypes }).notNull(),
    /** Web Push: the push service URL; FCM: the registration token. */
    target: text("target").notNull(),
    /** Web Push only: the browser's P-256 public key (65 bytes) and auth secret (16 bytes), base64url. */
    p256dh: text("p256dh"),
    auth: text("auth"),
    /** The User-Agent that registered the device, to tell devices apart in the list. */
    userAgent: text("user_agent"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    /** When a push service last accepted a notification for this device. */
    lastDeliveredAt: timestamp("last_delivered_at"),
  },
  (table) => [
    uniqueIndex("push_subscriptions_target_unique").on(table.target),
    index("push_subscriptions_user_idx").on(table.userId, table.createdAt, table.id),
    index("push_subscriptions_session_idx").on(table.sessionId),
  ],
);

export type PushSubscription = typeof pushSubscriptions.$inferSelect;
export type NewPushSubscription = typeof pushSubscriptions.$inferInsert;
