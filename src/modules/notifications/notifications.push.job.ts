/**
 * The JOBS_QUEUE handler of `notifications.push` (queued by notify() and by each
 * broadcast batch for users with a registered device): the notification to every
 * device of its user, through push/push-delivery.ts.
 *
 * Retries: when no device took it and some asked to be tried again (429, 5xx, no
 * answer), the handler throws and the queue retries the whole message with its backoff
 * (then the dead-letter queue). When some devices took it, only the others are tried
 * again, in a follow-up message naming them, so no device shows the notification twice;
 * each follow-up names fewer devices, so this ends.
 */
import { and, eq } from "drizzle-orm";
import { notifications } from "../../db/schema";
import { enqueue } from "../../jobs/enqueue";
import type { QueueHandlerDeps } from "../../jobs/queue-handler";
import type { ServiceContext } from "../../lib/context";
import { pushToDevices } from "../push/push-delivery";
import { pushContentOf } from "./notifications.delivery";
import type { NotificationsPushMessage } from "./notifications.push-message";

/** The wait before a follow-up, unless a push service asked for longer (Retry-After, capped at an hour). */
export const PUSH_FOLLOW_UP_DELAY_SECONDS = 30;
const MAX_FOLLOW_UP_DELAY_SECONDS = 3600;

/** Nothing was accepted and something may be later: the queue's retry with backoff is what this asks for. */
export class PushNotAcceptedError extends Error {
  constructor(devices: number) {
    super(`no push service accepted the notification yet (${devices} device(s) to try again)`);
    this.name = "PushNotAcceptedError";
  }
}

export async function deliverPushNotification(
  message: NotificationsPushMessage,
  deps: QueueHandlerDeps,
): Promise<void> {
  const ctx: ServiceContext = {
    ...deps.ctx,
    logger: deps.logger.child({ notification_id: message.notification_id, user_id: message.user_id }),
  };
  const row = await ctx.db
    .select()
    .from(notifications)
    .where(and(eq(notifications.id, message.notification_id), eq(notifications.userId, message.user_id)))
    .get();
  if (!row) {
    // Deleted by its reader (or with the account) before the push went out: nothing to show any more.
    ctx.logger.info("notification gone before its push; skipped");
    return;
  }
  const report = await pushToDevices(
    ctx,
    message.user_id,
    pushContentOf(ctx.config, row),
    message.subscription_ids,
  );
  ctx.logger.info("push notification delivered", { ...report, attempts: deps.attempts });
  if (report.retry.length === 0) return;
  if (report.retry.length === report.attempted) throw new PushNotAcceptedError(report.retry.length);
  await enqueue(
    ctx.env.JOBS_QUEUE,
    { ...message, subscription_ids: report.retry, queued_at: new Date().toISOString() },
    {
      d1Session: ctx.dbSession,
      delaySeconds: Math.min(
        Math.max(PUSH_FOLLOW_UP_DELAY_SECONDS, report.retryAfterSeconds ?? 0),
        MAX_FOLLOW_UP_DELAY_SECONDS,
      ),
    },
  );
}
