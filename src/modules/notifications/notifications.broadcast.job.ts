/**
 * The JOBS_QUEUE handler of `notifications.broadcast` (queued by
 * broadcastSystemNotification in notifications.broadcast.ts): one batch of at most
 * BROADCAST_BATCH_SIZE recipients, one multi-row insert, one round of hub pushes and
 * emails, and one batch of push jobs. For "every active user" each batch queues the next.
 *
 * Delivery is at least once: the unique (broadcast_id, user_id) index turns a
 * redelivered batch into no new rows, and only rows actually inserted are pushed and
 * emailed.
 */
import { and, asc, count, eq, gt, inArray, isNull } from "drizzle-orm";
import { chunk, D1_IDS_PER_STATEMENT, rowsPerInsert } from "../../db/batch";
import { type NewNotification, notifications, users } from "../../db/schema";
import { enqueue } from "../../jobs/enqueue";
import type { QueueHandlerDeps } from "../../jobs/queue-handler";
import type { ServiceContext } from "../../lib/context";
import { uuidv7 } from "../../lib/ids";
import { channelsFor } from "./notification-preferences";
import { BROADCAST_BATCH_SIZE, type NotificationsBroadcastMessage } from "./notifications.broadcast-message";
import { emailNotification, publish, queuePushes } from "./notifications.delivery";
import { toNotificationDto } from "./notifications.queries";

type Recipient = Pick<
  typeof users.$inferSelect,
  "id" | "email" | "firstName" | "notificationPreferences" | "isActive"
>;

const recipientColumns = {
  id: users.id,
  email: users.email,
  firstName: users.firstName,
  notificationPreferences: users.notificationPreferences,
  isActive: users.isActive,
};

async function recipientsOf(
  ctx: ServiceContext,
  audience: NotificationsBroadcastMessage["audience"],
): Promise<Recipient[]> {
  if (audience.kind === "all_active") {
    return ctx.db
      .select(recipientColumns)
      .from(users)
      .where(and(eq(users.isActive, true), audience.after ? gt(users.id, audience.after) : undefined))
      .orderBy(asc(users.id))
      .limit(BROADCAST_BATCH_SIZE);
  }
  const found: Recipient[] = [];
  for (const ids of chunk(audience.user_ids, D1_IDS_PER_STATEMENT)) {
    found.push(
      ...(await ctx.db
        .select(recipientColumns)
        .from(users)
        .where(and(inArray(users.id, ids), eq(users.isActive, true)))),
    );
  }
  return found;
}

/** The JOBS_QUEUE handler of `notifications.broadcast`: one batch of recipients. */
export async function deliverBroadcast(
  message: NotificationsBroadcastMessage,
  deps: QueueHandlerDeps,
): Promise<void> {
  const ctx: ServiceContext = {
    ...deps.ctx,
    logger: deps.logger.child({ broadcast_id: message.broadcast_id }),
  };
  const recipients = await recipientsOf(ctx, message.audience);
  const now = Date.now();
  const byUser = new Map(recipients.map((user) => [user.id, user]));
  const rows: NewNotification[] = recipients.map((user) => ({
    id: uuidv7(now),
    userId: user.id,
    type: "system",
    title: message.notification.title,
    message: message.notification.message,
    targetUrl: message.notification.target_url ?? null,
    data: message.notification.data ?? {},
    readAt: channelsFor(user.notificationPreferences, "system").in_app ? null : new Date(now),
    broadcastId: message.broadcast_id,
    createdAt: new Date(now),
  }));

  const inserted = await insertNew(ctx, rows);
  const unread = await unreadCounts(
    ctx,
    inserted.map((row) => row.userId),
  );
  await Promise.all(
    inserted.map(async (row) => {
      const user = byUser.get(row.userId);
      if (!user) return;
      const channels = channelsFor(user.notificationPreferences, "system");
      if (channels.in_app) {
        await publish(ctx, row.userId, {
          kind: "notification",
          notification: toNotificationDto(row),
          unread_count: unread.get(row.userId) ?? 0,
        });
      }
      if (channels.email) await emailNotification(ctx, user, row);
    }),
  );
  // One look-up for the batch's devices, one sendBatch: a push job per recipient who has a device.
  await queuePushes(
    ctx,
    inserted.filter((row) => {
      const user = byUser.get(row.userId);
      return user !== undefined && channelsFor(user.notificationPreferences, "system").push;
    }),
  );

  const last = recipients.at(-1);
  if (message.audience.kind === "all_active" && recipients.length === BROADCAST_BATCH_SIZE && last) {
    await enqueue(
      ctx.env.JOBS_QUEUE,
      { ...message, audience: { kind: "all_active", after: last.id } },
      { d1Session: ctx.dbSession },
    );
  }
  ctx.logger.info("broadcast batch delivered", { recipients: recipients.length, inserted: inserted.length });
}

/** Inserts the rows not already there (same broadcast, same user) and returns those. */
async function insertNew(ctx: ServiceContext, rows: NewNotification[]) {
  const statements = chunk(rows, rowsPerInsert(notifications)).map((part) =>
    ctx.db.insert(notifications).values(part).onConflictDoNothing().returning(),
  );
  const [first, ...rest] = statements;
  if (!first) return [];
  return (await ctx.db.batch([first, ...rest])).flat();
}

async function unreadCounts(ctx: ServiceContext, userIds: string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const ids of chunk(userIds, D1_IDS_PER_STATEMENT)) {
    const rows = await ctx.db
      .select({ userId: notifications.userId, value: count() })
      .from(notifications)
      .where(and(inArray(notifications.userId, ids), isNull(notifications.readAt)))
      .groupBy(notifications.userId);
    for (const row of rows) counts.set(row.userId, row.value);
  }
  return counts;
}
