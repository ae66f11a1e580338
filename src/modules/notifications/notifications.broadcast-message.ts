/**
 * The `notifications.broadcast` queue message (JOBS_QUEUE): one batch of an admin
 * broadcast. Kept apart from the code that handles it so the queue union
 * (src/jobs/messages.ts) imports nothing but schemas.
 */
import { z } from "zod";

/** Recipients per message: one D1 page of users and one round of hub pushes. */
export const BROADCAST_BATCH_SIZE = 100;

export const notificationsBroadcastMessage = z.object({
  type: z.literal("notifications.broadcast"),
  /** Same for every batch of one broadcast; with the user id it makes redelivery insert nothing twice. */
  broadcast_id: z.uuid(),
  queued_at: z.iso.datetime(),
  request_id: z.string().max(200).optional(),
  notification: z.object({
    title: z.string().min(1).max(200),
    message: z.string().min(1).max(2000),
    target_url: z.string().max(2048).nullable().optional(),
    data: z.record(z.string(), z.unknown()).optional(),
  }),
  audience: z.discriminatedUnion("kind", [
    /** Named users; unknown or inactive ones are skipped. */
    z.object({ kind: z.literal("users"), user_ids: z.array(z.uuid()).min(1).max(BROADCAST_BATCH_SIZE) }),
    /** Every active user, one page at a time: each batch queues the next after its last id. */
    z.object({ kind: z.literal("all_active"), after: z.uuid().nullable() }),
  ]),
});

export type NotificationsBroadcastMessage = z.infer<typeof notificationsBroadcastMessage>;
