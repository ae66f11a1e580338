/**
 * The `notifications.push` queue message (JOBS_QUEUE): one notification to every
 * device of its user. Kept apart from the code that handles it so the queue union
 * (src/jobs/messages.ts) imports nothing but schemas.
 */
import { z } from "zod";
import { MAX_PUSH_SUBSCRIPTIONS_PER_USER } from "../push/push-limits";

export const notificationsPushMessage = z.object({
  type: z.literal("notifications.push"),
  notification_id: z.uuid(),
  user_id: z.uuid(),
  /**
   * Only these devices: set on a follow-up message when some devices took the notification and
   * others asked for a retry, so the ones that have it never get it twice.
   */
  subscription_ids: z.array(z.uuid()).min(1).max(MAX_PUSH_SUBSCRIPTIONS_PER_USER).optional(),
  queued_at: z.iso.datetime(),
  request_id: z.string().max(200).optional(),
});

export type NotificationsPushMessage = z.infer<typeof notificationsPushMessage>;
