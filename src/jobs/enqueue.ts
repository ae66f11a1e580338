import { chunk } from "../db/batch";
import type { DatabaseSession } from "../db/client";
import { type MessageEnvelope, type QueueMessage, queueMessage } from "./messages";

/** Cloudflare Queues refuse a delivery delay (send or retry) longer than 12 hours. */
export const MAX_QUEUE_DELAY_SECONDS = 43_200;

/** Whole seconds from `now` (ms) until `at`, never negative: a send's `delaySeconds`. */
export function delaySecondsUntil(at: Date, now: number): number {
  return Math.max(0, Math.ceil((at.getTime() - now) / 1000));
}

export type EnqueueOptions = {
  /** Hold the message back this long (at most MAX_QUEUE_DELAY_SECONDS). */
  delaySeconds?: number;
  /**
   * The D1 session of the work sending the message (`ctx.dbSession`). Its bookmark, taken
   * now (after the writes the message is about), travels as the envelope's `d1_bookmark`,
   * and the consumer's session starts from it: a replica that has not yet seen those writes
   * does not serve the job. Without it the consumer starts on the primary.
   */
  d1Session?: Pick<DatabaseSession, "bookmark">;
};

/** The body that goes on the queue: the checked message and its envelope. */
function envelope(
  message: QueueMessage,
  d1Session: EnqueueOptions["d1Session"],
): QueueMessage & MessageEnvelope {
  const body = queueMessage.parse(message);
  const bookmark = d1Session?.bookmark();
  return bookmark ? { ...body, d1_bookmark: bookmark } : body;
}

/** Sends one message after checking it against the union, so no queue ever carries a shape its consumer refuses. */
export async function enqueue(
  queue: Queue,
  message: QueueMessage,
  options: EnqueueOptions = {},
): Promise<void> {
  const { d1Session, ...sendOptions } = options;
  await queue.send(envelope(message, d1Session), { contentType: "json", ...sendOptions });
}

/** Sends `message` so that it arrives at `at` (at once when that has passed), `now` being the sender's clock. */
export function enqueueAt(
  queue: Queue,
  message: QueueMessage,
  at: Date,
  now: number,
  options: Pick<EnqueueOptions, "d1Session"> = {},
): Promise<void> {
  const delaySeconds = delaySecondsUntil(at, now);
  return enqueue(queue, message, delaySeconds > 0 ? { ...options, delaySeconds } : options);
}

/** Queues' limit on one sendBatch call. */
const SEND_BATCH_LIMIT = 100;

/** Many messages at once (one sendBatch per 100), each checked like enqueue() checks one. */
export async function enqueueBatch(
  queue: Queue,
  messages: QueueMessage[],
  options: Pick<EnqueueOptions, "d1Session"> = {},
): Promise<void> {
  const bodies = messages.map((message) => envelope(message, options.d1Session));
  for (const part of chunk(bodies, SEND_BATCH_LIMIT)) {
    await queue.sendBatch(part.map((body) => ({ body, contentType: "json" as const })));
  }
}
