/**
 * The notification reads and writes that both the service (HTTP, jobs) and the
 * NotificationHub (socket frames, replay) need. Every query is scoped to one user:
 * another user's notification id simply matches nothing.
 */
import { and, asc, count, eq, gt, isNull } from "drizzle-orm";
import { inJsonList } from "../../db/batch";
import type { Database } from "../../db/client";
import { type Notification as NotificationRow, notifications } from "../../db/schema";
import type { NotificationDto } from "./notifications.schemas";

export function toNotificationDto(row: NotificationRow): NotificationDto {
  return {
    id: row.id,
    type: row.type,
    title: row.title,
    message: row.message,
    target_url: row.targetUrl,
    data: row.data,
    read_at: row.readAt?.toISOString() ?? null,
    created_at: row.createdAt.toISOString(),
  };
}

export const unreadOf = (userId: string) =>
  and(eq(notifications.userId, userId), isNull(notifications.readAt));

export function unreadCountQuery(db: Database, userId: string) {
  return db.select({ value: count() }).from(notifications).where(unreadOf(userId));
}

export async function countUnread(db: Database, userId: string): Promise<number> {
  const [row] = await unreadCountQuery(db, userId);
  return row?.value ?? 0;
}

/**
 * Marks the given ids read (those of `userId` that were unread) and returns the ids that
 * changed with the new unread count, in one round trip.
 */
export async function markIdsRead(
  db: Database,
  userId: string,
  ids: readonly string[],
  now: Date,
): Promise<{ ids: string[]; unreadCount: number }> {
  if (ids.length === 0) return { ids: [], unreadCount: await countUnread(db, userId) };
  const [changed, [unread]] = await db.batch([
    db
      .update(notifications)
      .set({ readAt: now })
      // Up to MAX_MARK_READ_IDS ids plus the user's: one JSON parameter keeps it under D1's bound-parameter cap.
      .where(and(unreadOf(userId), inJsonList(notifications.id, ids)))
      .returning({ id: notifications.id }),
    unreadCountQuery(db, userId),
  ]);
  return { ids: changed.map((row) => row.id), unreadCount: unread?.value ?? 0 };
}

/** Notifications created after `since` (a notification id; UUIDv7 sorts by time), oldest first. */
export async function notificationsSince(
  db: Database,
  userId: string,
  since: string,
  limit: number,
): Promise<NotificationRow[]> {
  return db
    .select()
    .from(notifications)
    .where(and(eq(notifications.userId, userId), gt(notifications.id, since.toLowerCase())))
    .orderBy(asc(notifications.id))
    .limit(limit);
}
