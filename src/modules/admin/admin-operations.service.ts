/**
 * The rest of the admin API: the platform summary, the waitlist (read through the
 * pre-registrations service) and notification broadcasts (queued by the notifications
 * module; the audit row follows the queueing, as there is no D1 write to share a batch with).
 */
import { and, count, gt, isNull, sql } from "drizzle-orm";
import {
  notifications,
  organizations,
  sessions,
  stripeEvents,
  type TaskStatus,
  taskStatuses,
  tasks,
  users,
} from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { audit } from "../audit/audit.service";
import { broadcastSystemNotification } from "../notifications/notifications.broadcast";
import type { AdminSummaryDto, BroadcastInput } from "./admin-operations.schemas";

const DAY_MS = 24 * 60 * 60 * 1000;

/** `sum(case when <condition> then 1 else 0 end)`, as a number (0 on an empty table). */
const countWhere = (condition: ReturnType<typeof sql>) =>
  sql<number>`coalesce(sum(case when ${condition} then 1 else 0 end), 0)`.mapWith(Number);

/** Every count in one D1 round trip. */
export async function platformSummary(ctx: ServiceContext, now = Date.now()): Promise<AdminSummaryDto> {
  const [[people], [orgs], [live], taskRows, [unread], stripeRows] = await ctx.db.batch([
    ctx.db
      .select({
        total: count(),
        verified: countWhere(sql`${users.emailVerifiedAt} is not null`),
        active: countWhere(sql`${users.isActive} = 1`),
        staff: countWhere(sql`${users.isStaff} = 1`),
        new24h: countWhere(sql`${users.createdAt} > ${now - DAY_MS}`),
      })
      .from(users),
    ctx.db.select({ total: count() }).from(organizations),
    ctx.db
      .select({ total: count() })
      .from(sessions)
      .where(and(isNull(sessions.revokedAt), gt(sessions.expiresAt, new Date(now)))),
    ctx.db.select({ status: tasks.status, total: count() }).from(tasks).groupBy(tasks.status),
    ctx.db.select({ total: count() }).from(notifications).where(isNull(notifications.readAt)),
    ctx.db.select({ type: stripeEvents.type, total: count() }).from(stripeEvents).groupBy(stripeEvents.type),
  ]);
  const byStatus = Object.fromEntries(taskStatuses.map((status) => [status, 0])) as Record<
    TaskStatus,
    number
  >;
  for (const row of taskRows) byStatus[row.status] = row.total;
  return {
    generated_at: new Date(now).toISOString(),
    users: {
      total: people?.total ?? 0,
      verified: people?.verified ?? 0,
      active: people?.active ?? 0,
      staff: people?.staff ?? 0,
      new_24h: people?.new24h ?? 0,
    },
    organizations: { total: orgs?.total ?? 0 },
    sessions: { active: live?.total ?? 0 },
    tasks: { total: taskRows.reduce((sum, row) => sum + row.total, 0), by_status: byStatus },
    notifications: { unread: unread?.total ?? 0 },
    stripe_events: {
      total: stripeRows.reduce((sum, row) => sum + row.total, 0),
      by_type: Object.fromEntries(stripeRows.map((row) => [row.type, row.total])),
    },
  };
}

/** Queues the broadcast, then records it (who sent what to whom; the message text is kept). */
export async function broadcast(
  ctx: ServiceContext,
  input: BroadcastInput,
): Promise<{ broadcastId: string; audience: "all_active" | "users"; messages: number }> {
  const { broadcastId, messages } = await broadcastSystemNotification(ctx, {
    title: input.title,
    message: input.message,
    target_url: input.target_url ?? null,
    data: input.data,
    user_ids: input.user_ids,
  });
  const audience = input.user_ids === undefined ? "all_active" : "users";
  await audit(ctx, {
    action: "notification.broadcast",
    target: { type: "broadcast", id: broadcastId },
    before: null,
    after: {
      title: input.title,
      message: input.message,
      target_url: input.target_url ?? null,
      audience,
      recipients: input.user_ids ? new Set(input.user_ids.map((id) => id.toLowerCase())).size : null,
      queue_messages: messages,
    },
  });
  return { broadcastId, audience, messages };
}
