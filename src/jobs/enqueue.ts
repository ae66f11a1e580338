import { chunk } from "../db/batch";
import { type QueueMessage, queueMessage } from "./messages";

/** Cloudflare Queues refuse a delivery delay (send or retry) longer than 12 hours. */
export const MAX_QUEUE_DELAY_SECONDS = 43_200;

/** Whole seconds from `now` (ms) until `at`, never negative: a send's `delaySeconds`. */
export function delaySecondsUntil(at: Date, now: number): number {
  return Math.max(0, Math.ceil((at.getTime() - now) / 1000));
}

/** Sends one message after checking it against the union, so no queue ever carries a shape its consumer refuses. */
export async function enqueue(
  queue: Queue,
  message: QueueMessage,
  options: { delaySeconds?: number } = {},
): Promise<void> {
  const body = queueMessage.parse(message);
  await queue.send(body, { contentType: "json", ...options });
}

/** Sends `message` so that it arrives at `at` (at once when that has passed), `now` being the sender's clock. */
export function enqueueAt(queue: Queue, message: QueueMessage, at: Date, now: number): Promise<void> {
  const delaySeconds = delaySecondsUntil(at, now);
  return enqueue(queue, message, delaySeconds > 0 ? { delaySeconds } : {});
}

/** Queues' limit on one sendBatch call. */
const SEND_BATCH_LIMIT = 100;

/** Many messages at once (one sendBatch per 100), each checked like enqueue() checks one. */
export async function enqueueBatch(queue: Queue, messages: QueueMessage[]): Promise<void> {
  const bodies = messages.map((message) => queueMessage.parse(message));
  for (const part of chunk(bodies, SEND_BATCH_LIMIT)) {
    await queue.sendBatch(part.map((body) => ({ body, contentType: "json" as const })));
  }
}
