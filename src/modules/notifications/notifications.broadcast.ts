/**
 * Admin broadcast: a `system` notification to many users. The request only queues
 * work (`broadcastSystemNotification`); JOBS_QUEUE consumers deliver it in batches of
 * BROADCAST_BATCH_SIZE users (`deliverBroadcast`, notifications.broadcast.job.ts), each batch one multi-row insert and
 * one round of hub pushes, so a broadcast to every user never runs in one request.
 *
 * Delivery is at least once, so each row carries the broadcast id and a unique
 * (broadcast_id, user_id) index turns a redelivered batch into no new rows; only rows
 * actually inserted are pushed and emailed.
 */
import { chunk } from "../../db/batch";
import { enqueue } from "../../jobs/enqueue";
import type { ServiceContext } from "../../lib/context";
import { uuidv7 } from "../../lib/ids";
import { BROADCAST_BATCH_SIZE } from "./notifications.broadcast-message";
import { checkNotifyInput } from "./notifications.service";

/** Named recipients per broadcast; beyond that, broadcast to everyone. */
export const BROADCAST_MAX_USER_IDS = 10_000;

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
    await enqueue(
      ctx.env.JOBS_QUEUE,
      { ...base, audience: { kind: "all_active", after: null } },
      { d1Session: ctx.dbSession },
    );
    ctx.logger.info("broadcast queued", { broadcast_id: broadcastId, audience: "all_active" });
    return { broadcastId, messages: 1 };
  }
  const userIds = [...new Set(input.user_ids.map((id) => id.toLowerCase()))];
  if (userIds.length === 0 || userIds.length > BROADCAST_MAX_USER_IDS) {
    throw new RangeError(`broadcast: 1–${BROADCAST_MAX_USER_IDS} user ids, or none for everyone`);
  }
  const batches = chunk(userIds, BROADCAST_BATCH_SIZE);
  for (const ids of batches) {
    await enqueue(
      ctx.env.JOBS_QUEUE,
      { ...base, audience: { kind: "users", user_ids: ids } },
      { d1Session: ctx.dbSession },
    );
  }
  ctx.logger.info("broadcast queued", {
    broadcast_id: broadcastId,
    users: userIds.length,
    messages: batches.length,
  });
  return { broadcastId, messages: batches.length };
}
