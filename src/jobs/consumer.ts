/**
 * The queue handler for every queue the Worker consumes. Each message is parsed,
 * dispatched by `type`, then acknowledged or retried on its own, so one bad
 * message never holds back or replays the rest of its batch.
 */
import type { Bindings } from "../env";
import { getConfig } from "../env";
import { uuidv7 } from "../lib/ids";
import { createLogger, type Logger, serializeError } from "../lib/logger";
import { type QueueMessage, queueMessage } from "./messages";

type Handler<M extends QueueMessage> = (message: M, deps: { env: Bindings; logger: Logger }) => Promise<void>;

/** One line per type; later issues add tasks and email here. */
const handlers: { [T in QueueMessage["type"]]: Handler<Extract<QueueMessage, { type: T }>> } = {
  "health.ping": async () => {},
};

/** Exponential backoff for retried messages: 2, 4, 8 … seconds, capped at 5 minutes. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(2 ** Math.max(1, attempts), 300);
}

export function isDeadLetterQueue(queueName: string): boolean {
  return /-dlq(-|$)/.test(queueName);
}

export async function handleQueueBatch(batch: MessageBatch<unknown>, env: Bindings): Promise<void> {
  const level = (() => {
    try {
      return getConfig(env).LOG_LEVEL;
    } catch {
      return "info" as const;
    }
  })();
  const logger = createLogger(level, { queue: batch.queue, batch_id: uuidv7() });

  if (isDeadLetterQueue(batch.queue)) {
    for (const message of batch.messages) {
      logger.error("dead letter", { message_id: message.id, attempts: message.attempts, body: message.body });
      message.ack();
    }
    return;
  }

  for (const message of batch.messages) {
    const parsed = queueMessage.safeParse(message.body);
    if (!parsed.success) {
      // A message no handler can ever accept would fail the same way on every retry.
      logger.error("queue message rejected", { message_id: message.id, issues: parsed.error.issues });
      message.ack();
      continue;
    }
    const handler = handlers[parsed.data.type] as Handler<QueueMessage>;
    try {
      await handler(parsed.data, { env, logger: logger.child({ message_id: message.id, type: parsed.data.type }) });
      message.ack();
    } catch (error) {
      logger.warn("queue message failed; will retry", {
        message_id: message.id,
        type: parsed.data.type,
        attempts: message.attempts,
        error: serializeError(error),
      });
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    }
  }
}
