import { chunk } from "../db/batch";
import { type QueueMessage, queueMessage } from "./messages";

/** Sends one message after checking it against the union, so no queue ever carries a shape its consumer refuses. */
export async function enqueue(
  queue: Queue,
  message: QueueMessage,
  options: { delaySeconds?: number } = {},
): Promise<void> {
  const body = queueMessage.parse(message);
  await queue.send(body, { contentType: "json", ...options });
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
