/**
 * The email side of end-to-end tests. `watchMailbox()` lets every email the app
 * enqueues go onto the real local EMAIL_QUEUE as usual, held back 12 hours (the
 * queue's longest delay) so the queue's own delivery never races the test, and
 * records the message body. `deliver()` then hands that exact body to the Worker's
 * queue handler, as the queue would, and returns what the provider "sent": the
 * console provider's log line, or the request Resend received (faked at `fetch`).
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, vi } from "vitest";
import type { EmailSendMessage } from "../../src/email/message";
import type { Bindings } from "../../src/env";
import worker from "../../src/index";

export const EMAIL_QUEUE = "edge-api-email";
export const EMAIL_DLQ = "edge-api-email-dlq";
const HOLD_SECONDS = 43_200;

export type Mailbox = {
  /** Every email.send message enqueued since the watch began, in order. */
  readonly queued: EmailSendMessage[];
  /**
   * The newest message for `to` (and `template`), waiting for it when it is queued after the
   * response; typed by its template, so `data` has that template's fields.
   */
  next<T extends EmailSendMessage["template"] = EmailSendMessage["template"]>(
    to: string,
    template?: T,
  ): Promise<Extract<EmailSendMessage, { template: T }>>;
  /** Messages for `to` (and `template`) queued so far. */
  for(to: string, template?: EmailSendMessage["template"]): EmailSendMessage[];
};

/** The binding's own send, taken before any spy wraps it (a second watch then replaces the first, never nests). */
const realSend = env.EMAIL_QUEUE.send;

export function watchMailbox(): Mailbox {
  const queue = env.EMAIL_QUEUE;
  const queued: EmailSendMessage[] = [];
  vi.spyOn(queue, "send").mockImplementation(async (body, options) => {
    queued.push(body as EmailSendMessage);
    return realSend.call(queue, body, { ...options, delaySeconds: HOLD_SECONDS });
  });
  const matching = (to: string, template?: string) =>
    queued.filter(
      (message) => message.to === to && (template === undefined || message.template === template),
    );
  return {
    queued,
    for: matching,
    async next<T extends EmailSendMessage["template"]>(to: string, template?: T) {
      // Some emails are queued after the response (waitUntil): poll, never sleep a fixed time.
      await vi.waitFor(() => expect(matching(to, template).length).toBeGreaterThan(0), {
        timeout: 5_000,
        interval: 10,
      });
      return matching(to, template).at(-1) as Extract<EmailSendMessage, { template: T }>;
    },
  };
}

export type SentEmail = { to: string; from: string; subject: string; text: string; html: string };

let messageSeq = 0;

/**
 * Runs the Worker's queue handler on one message as delivery number `attempts`,
 * and reports whether it was acked or retried (with the delay it asked for).
 */
export async function consume(
  body: unknown,
  options: { env?: Bindings; attempts?: number; queue?: string } = {},
) {
  const id = `mail-${++messageSeq}`;
  const batch = createMessageBatch(options.queue ?? EMAIL_QUEUE, [
    { id, timestamp: new Date(), attempts: options.attempts ?? 1, body },
  ]);
  const [message] = batch.messages;
  if (!message) throw new Error("createMessageBatch returned no message");
  const retry = vi.spyOn(message, "retry");
  const ctx = createExecutionContext();
  await worker.queue(batch, options.env ?? env, ctx);
  const result = await getQueueResult(batch, ctx);
  return {
    id,
    acked: result.explicitAcks.includes(id),
    retried: result.retryMessages.some((retried) => retried.msgId === id),
    retryDelays: retry.mock.calls.map(([retryOptions]) => retryOptions?.delaySeconds),
  };
}

/** Delivers a message through the console provider (the tests' EMAIL_PROVIDER) and returns the email it logged. */
export async function deliver(message: EmailSendMessage): Promise<SentEmail> {
  const log = vi.spyOn(console, "log").mockImplementation(() => {});
  try {
    const outcome = await consume(message);
    expect(outcome.acked).toBe(true);
    const line = log.mock.calls
      .map(([text]) => {
        try {
          return JSON.parse(String(text)) as Record<string, unknown>;
        } catch {
          return {};
        }
      })
      .find((entry) => entry.msg === "email delivered to console" && entry.email_id === message.email_id);
    if (!line) throw new Error(`no console delivery logged for email ${message.email_id}`);
    return line as unknown as SentEmail;
  } finally {
    log.mockRestore();
  }
}

/** The `token` query parameter of the first link in `text` whose path ends with `path`. */
export function tokenFromLink(text: string, path: string): string {
  for (const match of text.matchAll(/https?:\/\/\S+/g)) {
    const url = new URL(match[0]);
    if (url.pathname.endsWith(path)) {
      const token = url.searchParams.get("token");
      if (token) return token;
    }
  }
  throw new Error(`no ${path}?token= link in:\n${text}`);
}
