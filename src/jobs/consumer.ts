/**
 * The queue handler for every queue the Worker consumes. Each message is parsed,
 * dispatched by `type`, then acknowledged or retried on its own, so one bad
 * message never holds back or replays the rest of its batch.
 */
import { deliverEmail } from "../email/deliver-email.job";
import type { Bindings } from "../env";
import { getConfig } from "../env";
import { createServiceContext } from "../lib/context";
import { reportError } from "../lib/error-tracking";
import { uuidv7 } from "../lib/ids";
import { createLogger, type Logger, serializeError } from "../lib/logger";
import { systemPrincipal } from "../lib/principal";
import { deliverCreditsLowAlert } from "../modules/billing/credits-low.job";
import { processStripeEventMessage } from "../modules/billing/stripe-events.job";
import { countQueueMessage, type QueueOutcome } from "../modules/metrics/metrics.recorder";
import { deliverBroadcast } from "../modules/notifications/notifications.broadcast.job";
import { deliverPushNotification } from "../modules/notifications/notifications.push.job";
import { runTaskMessage } from "../modules/tasks/task-run.job";
import { deliverWebhookMessage } from "../modules/webhooks/webhook-delivery.job";
import { dispatchWebhookEvent } from "../modules/webhooks/webhook-dispatch.job";
import { messageEnvelope, type QueueMessage, queueMessage, redactForLog } from "./messages";
import type { QueueHandler } from "./queue-handler";

/** One line per message type. */
const handlers: { [T in QueueMessage["type"]]: QueueHandler<Extract<QueueMessage, { type: T }>> } = {
  "health.ping": async () => {},
  "email.send": deliverEmail,
  "notifications.broadcast": deliverBroadcast,
  "notifications.push": deliverPushNotification,
  "task.run": runTaskMessage,
  "billing.stripe_event": processStripeEventMessage,
  "billing.credits_low": deliverCreditsLowAlert,
  "webhooks.dispatch": dispatchWebhookEvent,
  "webhooks.deliver": deliverWebhookMessage,
};

/** Exponential backoff for retried messages: 2, 4, 8 … seconds, capped at 5 minutes. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(2 ** Math.max(1, attempts), 300);
}

/**
 * `max_retries` of each consumer in wrangler.toml (the same in every environment; queue
 * names there carry a -staging/-production suffix). The runtime does not tell a consumer
 * its own setting, and knowing it is what lets us log a message's final failure before
 * the queue dead-letters it. A test keeps this table and wrangler.toml in step.
 */
export const MAX_RETRIES: Readonly<Record<string, number>> = { "edge-api-jobs": 3, "edge-api-email": 5 };

/** Cloudflare's default when a consumer sets no max_retries. */
const DEFAULT_MAX_RETRIES = 3;

/** A queue's name as the top level of wrangler.toml spells it: the environments add -staging/-production. */
function withoutEnvironment(queueName: string): string {
  return queueName.replace(/-(staging|production)$/, "");
}

export function maxRetriesFor(queueName: string): number {
  return MAX_RETRIES[withoutEnvironment(queueName)] ?? DEFAULT_MAX_RETRIES;
}

/** Every queue this Worker consumes: the ones above and their dead-letter queues (`<name>-dlq`). */
const CONSUMED_QUEUES: ReadonlySet<string> = new Set(
  Object.keys(MAX_RETRIES).flatMap((name) => [name, `${name}-dlq`]),
);

/**
 * The `queue` label of queue_messages_total: the name without its environment suffix
 * (each environment has its own metrics, so dashboards read the same everywhere), and
 * `other` for a queue not in CONSUMED_QUEUES, so a misconfigured consumer cannot grow
 * the label set. A test keeps CONSUMED_QUEUES and wrangler.toml in step.
 */
export function queueLabel(queueName: string): string {
  const name = withoutEnvironment(queueName);
  return CONSUMED_QUEUES.has(name) ? name : "other";
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
  const label = queueLabel(batch.queue);

  if (isDeadLetterQueue(batch.queue)) {
    for (const message of batch.messages) {
      logger.error("dead letter", {
        message_id: message.id,
        attempts: message.attempts,
        body: redactForLog(message.body),
      });
      message.ack();
      countQueueMessage(label, "ack");
    }
    return;
  }

  const maxAttempts = maxRetriesFor(batch.queue) + 1;
  // Messages are independent (each is acked or retried on its own), so they run side by side:
  // a long task (a 10-minute `sleep`) must not hold back the emails or tasks batched with it.
  await Promise.all(
    batch.messages.map(async (message) => {
      const outcome = await handleMessage(message, env, logger, maxAttempts, batch.queue);
      countQueueMessage(label, outcome);
    }),
  );
}

/** Handles one message and acks or retries it; returns which, for the queue metric. */
async function handleMessage(
  message: Message<unknown>,
  env: Bindings,
  logger: Logger,
  maxAttempts: number,
  batchQueue: string,
): Promise<QueueOutcome> {
  const parsed = queueMessage.safeParse(message.body);
  if (!parsed.success) {
    // A message no handler can ever accept would fail the same way on every retry.
    logger.error("queue message rejected", { message_id: message.id, issues: parsed.error.issues });
    message.ack();
    return "ack";
  }
  const handler = handlers[parsed.data.type] as QueueHandler<QueueMessage>;
  try {
    const messageLogger = logger.child({ message_id: message.id, type: parsed.data.type });
    const requestId = "request_id" in parsed.data ? parsed.data.request_id : undefined;
    // One D1 session per message, from the producer's bookmark: the job reads at least what
    // the request (or job, or cron run) that sent it had written. A redelivery starts on the
    // primary instead, since its earlier attempt wrote things that bookmark does not cover; so
    // does a message without one (sent before bookmarks travelled, or by code with no session).
    const { d1Bookmark } = messageEnvelope(message.body);
    const d1SessionStart = message.attempts > 1 ? "first-primary" : (d1Bookmark ?? "first-primary");
    const ctx = createServiceContext({
      env,
      principal: systemPrincipal(parsed.data.type),
      requestId: requestId ?? uuidv7(),
      logger: messageLogger,
      d1SessionStart,
    });
    await handler(parsed.data, {
      ctx,
      env,
      logger: messageLogger,
      attempts: message.attempts,
      lastAttempt: message.attempts >= maxAttempts,
    });
    message.ack();
    return "ack";
  } catch (error) {
    const failure = {
      message_id: message.id,
      type: parsed.data.type,
      attempts: message.attempts,
      error: serializeError(error),
    };
    message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    // Retrying on the last attempt is what hands the message to the dead-letter queue
    // (every consumer in wrangler.toml names one).
    if (message.attempts >= maxAttempts) {
      logger.error("queue message failed on its last attempt; dead-lettering", failure);
      reportError(error, {
        requestId: "request_id" in parsed.data ? parsed.data.request_id : undefined,
        tags: { queue: batchQueue, message_type: parsed.data.type, attempts: message.attempts },
      });
      return "dead_letter";
    }
    logger.warn("queue message failed; will retry", failure);
    return "retry";
  }
}
