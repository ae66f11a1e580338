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
