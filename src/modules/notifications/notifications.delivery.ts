/**
 * The two ways a stored notification leaves D1: pushed to the user's sockets through
 * their NotificationHub, and queued as an email. Neither may fail the write that
 * stored it: D1 is the truth, and clients catch up with `?since=` or the REST list.
 */
import type { Notification as NotificationRow, User } from "../../db/schema";
import { sendEmail } from "../../email/send-email";
import type { ServiceContext } from "../../lib/context";
import { serializeError } from "../../lib/logger";
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

export async function emailNotification(
  ctx: ServiceContext,
  user: Pick<User, "email" | "firstName">,
  row: NotificationRow,
): Promise<void> {
  const base = ctx.config.APP_URL.replace(/\/+$/, "");
  const actionUrl = row.targetUrl
    ? row.targetUrl.startsWith("/")
      ? `${base}${row.targetUrl}`
      : row.targetUrl
    : undefined;
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
