/**
 * Every message our queues carry, as one zod union discriminated by `type`.
 * Producers parse before sending (enqueue.ts) and consumers parse on receipt,
 * so a malformed message is caught at the edge it crosses, never deep in a handler.
 */
import { z } from "zod";

/** Sent by GET /health to prove a producer binding works; consumers acknowledge and drop it. */
export const healthPingMessage = z.object({
  type: z.literal("health.ping"),
  sent_at: z.iso.datetime(),
  request_id: z.string(),
});

export const queueMessage = z.discriminatedUnion("type", [healthPingMessage]);

export type QueueMessage = z.infer<typeof queueMessage>;
export type QueueMessageType = QueueMessage["type"];
