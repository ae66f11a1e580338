/**
 * Notifications: `notify()` is the one entry point every module uses to tell a user
 * something. It stores the row in D1 (the truth), pushes it to the user's open sockets
 * through their NotificationHub, and queues an email when the user's
 * notification_preferences ask for one. The REST verbs below keep read state, and each
 * change of read state is pushed to the user's sockets too, so every device agrees.
 */
import { and, eq, isNotNull, isNull, type SQL } from "drizzle-orm";
import {
  type Notification as NotificationRow,
  type NotificationType,
  notifications,
  users,
} from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { uuidv7 } from "../../lib/ids";
import type { SortTerm } from "../../lib/list-query";
import { keysetPage, listPage, type Page } from "../../lib/pagination";
import { problems } from "../../lib/problem";
import type { HubEvent } from "./notification-hub.protocol";
import { channelsFor } from "./notification-preferences";
import { emailNotification, publish, queuePushes } from "./notifications.delivery";
import {
  countUnread,
  markIdsRead,
  toNotificationDto,
  unreadCountQuery,
  unreadOf,
} from "./notifications.queries";
import type { NotificationDto } from "./notifications.schemas";

export type { NotificationType } from "../../db/schema";
/** A notification as the API and the sockets show it. */
export type Notification = NotificationDto;

export type NotifyInput = {
  type: NotificationType;
  title: string;
  message: string;
  /** Deep link: an app path (`/tasks/…`) or an absolute http(s) URL. */
  target_url?: string | null;
  data?: Record<string, unknown>;
};

export const NOTIFICATION_LIMITS = { title: 200, message: 2000, targetUrl: 2048, dataBytes: 8192 } as const;

/**
 * Callers are other modules, not clients, so bad input is a bug in the caller: it fails
 * loudly (a plain Error, a 500 and a log line) rather than as a client-facing 400.
 */
export function checkNotifyInput(input: NotifyInput): void {
  const problemsFound: string[] = [];
  if (input.title.trim().length === 0 || input.title.length > NOTIFICATION_LIMITS.title) {
    problemsFound.push(`title must be 1–${NOTIFICATION_LIMITS.title} characters`);
  }
  if (input.message.trim().length === 0 || input.message.length > NOTIFICATION_LIMITS.message) {
    problemsFound.push(`message must be 1–${NOTIFICATION_LIMITS.message} characters`);
  }
  const target = input.target_url;
  if (target != null && (target.length > NOTIFICATION_LIMITS.targetUrl || !isSafeTarget(target))) {
    problemsFound.push("target_url must be an app path starting with / or an http(s) URL");
  }
  if (input.data !== undefined && JSON.stringify(input.data).length > NOTIFICATION_LIMITS.dataBytes) {
    problemsFound.push(`data must serialise to at most ${NOTIFICATION_LIMITS.dataBytes} bytes`);
  }
  if (problemsFound.length > 0) throw new Error(`notify(): ${problemsFound.join("; ")}`);
}

/** An app path (not `//host`, which browsers read as another origin) or an http(s) URL. */
function isSafeTarget(target: string): boolean {
  if (target.startsWith("/")) return !target.startsWith("//") && !target.startsWith("/\\");
  try {
    const url = new URL(target);
    return url.protocol === "https:" || url.protocol === "http:";
  } catch {
    return false;
  }
}

/**
 * Tells `userId` something. Stores it, pushes it to every open socket of the user, and
 * queues an email and a push to their registered devices when their preferences ask for
 * them (defaults: notification-preferences.ts). A type the user muted in the app is
 * stored already read and not sent to the sockets, so the history stays complete without
 * raising the unread count.
 * Throws 404 `not_found` when the user does not exist.
 */
export function notify(ctx: ServiceContext, userId: string, input: NotifyInput): Promise<Notification> {
  return deliver(ctx, userId, input, { email: true });
}

/** notify() with the email channel forced off (the self-test below never emails). */
async function deliver(
  ctx: ServiceContext,
  userId: string,
  input: NotifyInput,
  allow: { email: boolean },
): Promise<Notification> {
  checkNotifyInput(input);
  const user = await ctx.db
    .select({
      id: users.id,
      email: users.email,
      firstName: users.firstName,
      isActive: users.isActive,
      notificationPreferences: users.notificationPreferences,
    })
    .from(users)
    .where(eq(users.id, userId))
    .get();
  if (!user) throw problems.notFound("user");

  const preferred = channelsFor(user.notificationPreferences, input.type);
  const channels = { in_app: preferred.in_app, email: preferred.email && allow.email };
  const now = Date.now();
  const [[row], [unread]] = await ctx.db.batch([
    ctx.db
      .insert(notifications)
      .values({
        id: uuidv7(now),
        userId,
        type: input.type,
        title: input.title,
        message: input.message,
        targetUrl: input.target_url ?? null,
        data: input.data ?? {},
        readAt: channels.in_app ? null : new Date(now),
        createdAt: new Date(now),
      })
      .returning(),
    unreadCountQuery(ctx.db, userId),
  ]);
  if (!row) throw new Error("notify(): the insert returned no row");
  const notification = toNotificationDto(row);

  if (channels.in_app) {
    await publish(ctx, userId, { kind: "notification", notification, unread_count: unread?.value ?? 0 });
  }
  if (channels.email && user.isActive) await emailNotification(ctx, user, row);
  if (preferred.push && user.isActive) await queuePushes(ctx, [row]);
  ctx.logger.info("notification sent", {
    notification_id: row.id,
    user_id: userId,
    type: row.type,
    in_app: channels.in_app,
    email: channels.email && user.isActive,
    push: preferred.push && user.isActive,
  });
  return notification;
}

/**
 * POST /test: a `system` notification to the caller, sent to every open socket and (unless
 * the caller turned `system` push off) every registered device, so a client can check end
 * to end that its devices receive notifications. Never emailed (the global per-user rate
 * limit is then protection enough: it only reaches the caller).
 */
export async function sendTestNotification(ctx: ServiceContext): Promise<Notification> {
  return deliver(
    ctx,
    currentUserId(ctx),
    {
      type: "system",
      title: "Test notification",
      message: "If you can read this on each of your devices, notifications reach them.",
      data: { test: true },
    },
    { email: false },
  );
}

// ---------------------------------------------------------------------------
// Read state (REST)

function currentUserId(ctx: ServiceContext): string {
  if (ctx.principal.kind !== "user") throw problems.unauthorized();
  return ctx.principal.userId;
}

export type ListNotificationsInput = {
  limit: number;
  cursor?: string;
  sort: SortTerm[];
  unread?: boolean;
  type?: NotificationType;
};

export async function listNotifications(
  ctx: ServiceContext,
  input: ListNotificationsInput,
): Promise<Page<NotificationDto>> {
  const userId = currentUserId(ctx);
  const page = keysetPage<NotificationRow>({
    sort: input.sort,
    columns: { created_at: { column: notifications.createdAt, read: (row) => row.createdAt.getTime() } },
    tiebreaker: { column: notifications.id, read: (row) => row.id },
    limit: input.limit,
    cursor: input.cursor,
  });
  const filters: SQL[] = [eq(notifications.userId, userId)];
  if (input.unread === true) filters.push(isNull(notifications.readAt));
  if (input.unread === false) filters.push(isNotNull(notifications.readAt));
  if (input.type) filters.push(eq(notifications.type, input.type));
  const matching = and(...filters);
  const result = await listPage(ctx.db, page, {
    rows: ctx.db.select().from(notifications).$dynamic(),
    countFrom: notifications,
    where: matching,
  });
  return { data: result.data.map(toNotificationDto), meta: result.meta };
}

export async function getUnreadCount(ctx: ServiceContext): Promise<number> {
  return countUnread(ctx.db, currentUserId(ctx));
}

/** The caller's notification, or 404 whether it does not exist or is someone else's. */
async function ownNotification(ctx: ServiceContext, userId: string, id: string): Promise<NotificationRow> {
  const row = await ctx.db
    .select()
    .from(notifications)
    .where(and(eq(notifications.id, id), eq(notifications.userId, userId)))
    .get();
  if (!row) throw problems.notFound("notification");
  return row;
}

export async function getNotification(ctx: ServiceContext, id: string): Promise<NotificationDto> {
  return toNotificationDto(await ownNotification(ctx, currentUserId(ctx), id));
}

/** Idempotent: an already-read notification keeps its first read_at and nothing is pushed. */
export async function markRead(ctx: ServiceContext, id: string): Promise<NotificationDto> {
  const userId = currentUserId(ctx);
  const result = await markIdsRead(ctx.db, userId, [id], new Date());
  const row = await ownNotification(ctx, userId, id);
  if (result.ids.length > 0) {
    await publish(ctx, userId, { kind: "read", ids: result.ids, unread_count: result.unreadCount });
  }
  return toNotificationDto(row);
}

export async function markUnread(ctx: ServiceContext, id: string): Promise<NotificationDto> {
  const userId = currentUserId(ctx);
  const [changed, [unread]] = await ctx.db.batch([
    ctx.db
      .update(notifications)
      .set({ readAt: null })
      .where(and(eq(notifications.id, id), eq(notifications.userId, userId), isNotNull(notifications.readAt)))
      .returning(),
    unreadCountQuery(ctx.db, userId),
  ]);
  const row = changed[0] ?? (await ownNotification(ctx, userId, id));
  if (changed.length > 0) {
    await publish(ctx, userId, { kind: "unread_count", unread_count: unread?.value ?? 0 });
  }
  return toNotificationDto(row);
}

/** Marks every unread notification of the caller read; returns how many changed. */
export async function markAllRead(ctx: ServiceContext): Promise<number> {
  const userId = currentUserId(ctx);
  const changed = await ctx.db
    .update(notifications)
    .set({ readAt: new Date() })
    .where(unreadOf(userId))
    .returning({ id: notifications.id });
  if (changed.length > 0) {
    // The ids let other tabs grey out exactly what changed; a huge backlog is sent as a count only.
    const event: HubEvent =
      changed.length <= 500
        ? { kind: "read", ids: changed.map((row) => row.id), unread_count: 0 }
        : { kind: "unread_count", unread_count: 0 };
    await publish(ctx, userId, event);
  }
  return changed.length;
}

export async function deleteNotification(ctx: ServiceContext, id: string): Promise<void> {
  const userId = currentUserId(ctx);
  const [deleted, [unread]] = await ctx.db.batch([
    ctx.db
      .delete(notifications)
      .where(and(eq(notifications.id, id), eq(notifications.userId, userId)))
      .returning({ readAt: notifications.readAt }),
    unreadCountQuery(ctx.db, userId),
  ]);
  const [row] = deleted;
  if (!row) throw problems.notFound("notification");
  // Deleting a read one leaves the count as it was: nothing to tell the other devices.
  if (row.readAt === null) {
    await publish(ctx, userId, { kind: "unread_count", unread_count: unread?.value ?? 0 });
  }
}
