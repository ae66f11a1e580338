/**
 * The ways a stored notification leaves D1: pushed to the user's sockets through
 * their NotificationHub, queued as an email, and queued for the user's devices (push).
 * None may fail the write that stored it: D1 is the truth, and clients catch up with
 * `?since=` or the REST list.
 */

import type { Notification as NotificationRow, User } from "../../db/schema";
import { sendEmail } from "../../email/send-email";
import type { Config } from "../../env";
import { enqueueBatch } from "../../jobs/enqueue";
import type { ServiceContext } from "../../lib/context";
import { serializeError } from "../../lib/logger";
import type { PushContent } from "../push/push-content";
import { usersWithDevices } from "../push/push-subscriptions.service";
import { notificationHub } from "./notification-hub.client";
import type { HubEvent } from "./notification-hub.protocol";

/** Sends to the user's sockets; a hub that is down never fails the write (clients replay with `since`). */
export async function publish(ctx: ServiceContext, userId: string, event: HubEvent): Promise<void> {
  try {
    await notificationHub(ctx.env, userId).publish(event);
  } catch (error) {
    ctx.logger.error("could not publish to the notification hub", {
      user_id: userId,
      event: event.kind,
      error: serializeError(error),
    });
  }
}

/** Control characters would be refused by the email template; the app shows the text as is. */
const emailText = (text: string) => text.replace(/\p{Cc}+/gu, " ").trim();

/** Where a notification leads outside the app (an email button, a tapped push): app paths made absolute with APP_URL. */
export function absoluteTargetUrl(config: Pick<Config, "APP_URL">, targetUrl: string | null): string | null {
  if (!targetUrl) return null;
  return targetUrl.startsWith("/") ? `${config.APP_URL.replace(/\/+$/, "")}${targetUrl}` : targetUrl;
}

export async function emailNotification(
  ctx: ServiceContext,
  user: Pick<User, "email" | "firstName">,
  row: NotificationRow,
): Promise<void> {
  const actionUrl = absoluteTargetUrl(ctx.config, row.targetUrl) ?? undefined;
  try {
    await sendEmail(ctx, {
      template: "notification",
      to: user.email,
      data: {
        ...(user.firstName.trim() ? { name: emailText(user.firstName).slice(0, 80) } : {}),
        type: row.type,
        title: emailText(row.title),
        message: emailText(row.message),
        ...(actionUrl ? { action_url: actionUrl } : {}),
      },
    });
  } catch (error) {
    // The notification is stored and delivered in the app; a lost email is logged, not fatal.
    ctx.logger.error("could not queue a notification email", {
      notification_id: row.id,
      error: serializeError(error),
    });
  }
}

/** Security notices and billing trouble wake a sleeping device at once; the rest may wait for it. */
const URGENT_TYPES: ReadonlySet<string> = new Set(["system", "billing_alert"]);

/** What the user's devices are sent for `row` (push/push-content.ts encodes it per service). */
export function pushContentOf(config: Pick<Config, "APP_URL">, row: NotificationRow): PushContent {
  return {
    id: row.id,
    type: row.type,
    title: row.title,
    body: row.message,
    url: absoluteTargetUrl(config, row.targetUrl),
    data: row.data,
    created_at: row.createdAt.toISOString(),
    urgency: URGENT_TYPES.has(row.type) ? "high" : "normal",
  };
}

/**
 * Queues one `notifications.push` job per row whose user has a registered device (the
 * others would be a job that finds nothing). The push services are called by the job,
 * never by the request: a slow one cannot slow `notify()` down.
 */
export async function queuePushes(ctx: ServiceContext, rows: NotificationRow[]): Promise<void> {
  if (rows.length === 0) return;
  try {
    const withDevices = await usersWithDevices(
      ctx,
      rows.map((row) => row.userId),
    );
    const queuedAt = new Date().toISOString();
    await enqueueBatch(
      ctx.env.JOBS_QUEUE,
      rows
        .filter((row) => withDevices.has(row.userId))
        .map((row) => ({
          type: "notifications.push" as const,
          notification_id: row.id,
          user_id: row.userId,
          queued_at: queuedAt,
          request_id: ctx.requestId,
        })),
      { d1Session: ctx.dbSession },
    );
  } catch (error) {
    // The notification is stored and in the app; a lost push is logged, not fatal.
    ctx.logger.error("could not queue push notifications", {
      notification_ids: rows.map((row) => row.id).slice(0, 10),
      error: serializeError(error),
    });
  }
}
