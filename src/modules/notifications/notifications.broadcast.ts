/**
 * Admin broadcast: a `system` notification to many users. The request only queues
 * work (`broadcastSystemNotification`); JOBS_QUEUE consumers deliver it in batches of
 * BROADCAST_BATCH_SIZE users (`deliverBroadcast`), each batch one multi-row insert and
 * one round of hub pushes, so a broadcast to every user never runs in one request.
 *
 * Delivery is at least once, so each row carries the broadcast id and a unique
 * (broadcast_id, user_id) index turns a redelivered batch into no new rows; only rows
 * actually inserted are pushed and emailed.
 */
import { and, asc, count, eq, gt, inArray, isNull } from "drizzle-orm";
import { chunk, rowsPerInsert } from "../../db/batch";
import { type NewNotification, notifications, users } from "../../db/schema";
import { enqueue } from "../../jobs/enqueue";
import type { QueueHandlerDeps } from "../../jobs/queue-handler";
import type { ServiceContext } from "../../lib/context";
import { uuidv7 } from "../../lib/ids";
import { channelsFor } from "./notification-preferences";
import { BROADCAST_BATCH_SIZE, type NotificationsBroadcastMessage } from "./notifications.broadcast-message";
import { emailNotification, publish } from "./notifications.delivery";
import { toNotificationDto } from "./notifications.queries";
import { checkNotifyInput } from "./notifications.service";

/** Named recipients per broadcast; beyond that, broadcast to everyone. */
export const BROADCAST_MAX_USER_IDS = 10_000;
/** D1 binds at most 100 parameters per statement. */
const IDS_PER_STATEMENT = 90;

export type BroadcastInput = {
  title: string;
  message: string;
  target_url?: string | null;
  data?: Record<string, unknown>;
  /** Omitted: every active user. */
  user_ids?: string[];
};

/**
 * Queues a `system` notification for the named users (deduplicated, at most
 * BROADCAST_MAX_USER_IDS) or, without `user_ids`, for every active user. Returns at
 * once with the broadcast id and how many queue messages were sent (for all users, one:
 * each batch queues the next).
 */
export async function broadcastSystemNotification(
  ctx: ServiceContext,
  input: BroadcastInput,
): Promise<{ broadcastId: string; messages: number }> {
  checkNotifyInput({ type: "system", ...input });
  const broadcastId = uuidv7();
  const base = {
    type: "notifications.broadcast" as const,
    broadcast_id: broadcastId,
    queued_at: new Date().toISOString(),
    request_id: ctx.requestId,
    notification: {
      title: input.title,
      message: input.message,
      target_url: input.target_url ?? null,
      data: input.data,
    },
  };
  if (input.user_ids === undefined) {
    await enqueue(ctx.env.JOBS_QUEUE, { ...base, audience: { kind: "all_active", after: null } });
    ctx.logger.info("broadcast queued", { broadcast_id: broadcastId, audience: "all_active" });
    return { broadcastId, messages: 1 };
  }
  const userIds = [...new Set(input.user_ids.map((id) => id.toLowerCase()))];
  if (userIds.length === 0 || userIds.length > BROADCAST_MAX_USER_IDS) {
    throw new RangeError(`broadcast: 1–${BROADCAST_MAX_USER_IDS} user ids, or none for everyone`);
  }
  const batches = chunk(userIds, BROADCAST_BATCH_SIZE);
  for (const ids of batches) {
    await enqueue(ctx.env.JOBS_QUEUE, { ...base, audience: { kind: "users", user_ids: ids } });
  }
  ctx.logger.info("broadcast queued", {
    broadcast_id: broadcastId,
    users: userIds.length,
    messages: batches.length,
  });
  return { broadcastId, messages: batches.length };
}

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
  for (const ids of chunk(audience.user_ids, IDS_PER_STATEMENT)) {
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

  const last = recipients.at(-1);
  if (message.audience.kind === "all_active" && recipients.length === BROADCAST_BATCH_SIZE && last) {
    await enqueue(ctx.env.JOBS_QUEUE, { ...message, audience: { kind: "all_active", after: last.id } });
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
  for (const ids of chunk(userIds, IDS_PER_STATEMENT)) {
    const rows = await ctx.db
      .select({ userId: notifications.userId, value: count() })
      .from(notifications)
      .where(and(inArray(notifications.userId, ids), isNull(notifications.readAt)))
      .groupBy(notifications.userId);
    for (const row of rows) counts.set(row.userId, row.value);
  }
  return counts;
}
