/**
 * Every message our queues carry, as one zod union discriminated by `type`.
 * Producers parse before sending (enqueue.ts) and consumers parse on receipt,
 * so a malformed message is caught at the edge it crosses, never deep in a handler.
 */
import { z } from "zod";
import { parseBookmark } from "../db/bookmarks";
import { emailSendMessage } from "../email/message";
import { creditsLowMessage, stripeEventMessage } from "../modules/billing/billing.messages";
import { notificationsBroadcastMessage } from "../modules/notifications/notifications.broadcast-message";
import { notificationsPushMessage } from "../modules/notifications/notifications.push-message";
import { taskRunMessage } from "../modules/tasks/task-message";
import { webhookDeliverMessage, webhookDispatchMessage } from "../modules/webhooks/webhooks.messages";

/** Sent by GET /health to prove a producer binding works; consumers acknowledge and drop it. */
export const healthPingMessage = z.object({
  type: z.literal("health.ping"),
  sent_at: z.iso.datetime(),
  request_id: z.string(),
});

/** `email.send` is itself a union by `template` (src/email/message.ts): each email's data is checked against its template. */
export const queueMessage = z.discriminatedUnion("type", [
  healthPingMessage,
  emailSendMessage,
  notificationsBroadcastMessage,
  notificationsPushMessage,
  taskRunMessage,
  stripeEventMessage,
  creditsLowMessage,
  webhookDispatchMessage,
  webhookDeliverMessage,
]);

export type QueueMessage = z.infer<typeof queueMessage>;
export type QueueMessageType = QueueMessage["type"];

/**
 * Envelope fields a message carries beside its own, whatever its type. The union's objects
 * drop unknown keys, so these never reach a handler as data: the consumer reads them from the
 * raw body (messageEnvelope()).
 *
 * `d1_bookmark`: the D1 bookmark of the work that sent the message, taken when it was sent, so
 * the consumer's session starts there and reads at least what the producer had written
 * (src/jobs/enqueue.ts, src/jobs/consumer.ts).
 */
export type MessageEnvelope = { d1_bookmark?: string };

/** The envelope of a raw message body; a missing or malformed bookmark is left out, never an error. */
export function messageEnvelope(body: unknown): { d1Bookmark: string | null } {
  const value =
    typeof body === "object" && body !== null && "d1_bookmark" in body ? body.d1_bookmark : undefined;
  return { d1Bookmark: parseBookmark(typeof value === "string" ? value : null) };
}

/** Fields that may carry secrets (links with tokens, sign-in codes), by message type. */
const SECRET_FIELDS: Partial<Record<string, readonly string[]>> = { "email.send": ["data"] };

/**
 * A message body as it may be logged (dead letters): secret fields are masked. Works on
 * the raw body, so a body that no longer parses is masked all the same.
 */
export function redactForLog(body: unknown): unknown {
  if (typeof body !== "object" || body === null || !("type" in body)) return body;
  const fields = SECRET_FIELDS[String(body.type)];
  if (!fields) return body;
  const copy: Record<string, unknown> = { ...body };
  for (const field of fields) if (field in copy) copy[field] = "[redacted]";
  return copy;
}
