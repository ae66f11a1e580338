/**
 * The email side of end-to-end tests. `watchMailbox()` lets every email the app
 * enqueues go onto the real local EMAIL_QUEUE as usual, held back 12 hours (the
 * queue's longest delay) so the queue's own delivery never races the test, and
 * records the message body. `deliver()` then hands that exact body to the Worker's
 * queue handler, as the queue would, and returns what the provider "sent": the
 * console provider's log line, or the request Resend received (faked at `fetch`).
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, expect, vi } from "vitest";
import { type EmailEvent, onEmailEvent } from "../../src/email/events";
import type { EmailSendMessage } from "../../src/email/message";
import { type SendEmailInput, sendEmail } from "../../src/email/send-email";
import type { Bindings } from "../../src/env";
import { runQueueBatch } from "./background";

export const EMAIL_QUEUE = "edge-api-email";
export const EMAIL_DLQ = "edge-api-email-dlq";
/** The queue's longest delay (12 hours): a message held this long is never delivered by the queue during a test. */
export const HOLD_SECONDS = 43_200;

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

/**
 * watchMailbox() before each test of the file (or describe block) that calls it, as one
 * Mailbox that always reads the running test's: `const mailbox = mailboxPerTest();`.
 */
export function mailboxPerTest(): Mailbox {
  let current: Mailbox | undefined;
  beforeEach(() => {
    current = watchMailbox();
  });
  const watching = () => {
    if (!current) throw new Error("mailboxPerTest(): the mailbox is read outside a test");
    return current;
  };
  return {
    get queued() {
      return watching().queued;
    },
    for: (to, template) => watching().for(to, template),
    next: (to, template) => watching().next(to, template),
  };
}

export type SentEmail = { to: string; from: string; subject: string; text: string; html: string };

let messageSeq = 0;

/**
 * Runs the Worker's queue handler on one message as delivery number `attempts` (on
 * EMAIL_QUEUE with the test bindings unless told otherwise), and reports whether it was
 * acked or retried: as flags (`acked`, `retried`, `retryDelays`) and as the queue's own
 * result with the options `retry()` was given (`result`, `retryOptions`).
 */
export async function consume(
  body: unknown,
  options: { env?: Bindings; attempts?: number; queue?: string } = {},
) {
  const id = `mail-${++messageSeq}`;
  const { result, retryOptions } = await runQueueBatch(
    options.queue ?? EMAIL_QUEUE,
    [{ id, body, attempts: options.attempts }],
    options.env ?? env,
  );
  const retries = retryOptions[0] ?? [];
  return {
    id,
    result,
    retryOptions: retries,
    acked: result.explicitAcks.includes(id),
    retried: result.retryMessages.some((retried) => retried.msgId === id),
    retryDelays: retries.map((retryOptions) => retryOptions?.delaySeconds),
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

/**
 * An email provider's HTTP API, faked at `fetch`: answers each request with the next of
 * `answers` (the last one again once they run out) and records every request, to read what
 * the provider was sent. (`fakeResend` is the same fake, by the name most tests know it.)
 */
export function fakeEmailApi(...answers: (() => Response | Promise<Response>)[]) {
  const requests: Request[] = [];
  let call = 0;
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    requests.push(new Request(input, init));
    const answer = answers[Math.min(call++, answers.length - 1)];
    if (!answer) throw new Error("fakeEmailApi needs at least one answer");
    return answer();
  });
  return { spy, requests };
}

export const fakeResend = fakeEmailApi;

/** Resend's 200 answer to POST /emails, for the email it stored as `id`. */
export const resendAccepted = (id: string) => () => Response.json({ id }, { status: 200 });

/** The `token` query parameter of one emailed URL (a template's `*_url` field). */
export const tokenOfUrl = (url: string) => new URL(url).searchParams.get("token") as string;

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

/** The email most delivery tests send: a password reset whose link carries a token (kept out of logs). */
export const resetEmail: SendEmailInput = {
  template: "password_reset",
  to: "ada@example.com",
  data: {
    name: "Ada",
    reset_url: "https://app.example.com/reset-password?token=tok_secret_123",
    expires_in_minutes: 60,
  },
};

/**
 * Enqueues through the real producer onto the real local queue (held back, see HOLD_SECONDS)
 * and returns the body that was sent, for `consume()` to deliver with the bindings a test picks.
 */
export async function enqueueHeld(input: SendEmailInput): Promise<{ emailId: string; body: unknown }> {
  const send = vi.spyOn(env.EMAIL_QUEUE, "send");
  const { emailId } = await sendEmail(env, input, { delaySeconds: HOLD_SECONDS });
  expect(send).toHaveBeenCalledTimes(1);
  const [body, options] = send.mock.calls[0] ?? [];
  expect(options).toEqual({ contentType: "json", delaySeconds: HOLD_SECONDS });
  send.mockRestore();
  return { emailId, body };
}

/** Log lines (JSON, one per call) written to a console method while a test runs. */
export function captureLines(method: "log" | "warn" | "error"): () => Record<string, unknown>[] {
  const spy = vi.spyOn(console, method).mockImplementation(() => {});
  return () =>
    spy.mock.calls.flatMap(([line]) => {
      try {
        return [JSON.parse(String(line)) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

/** Every email event of each test in the calling describe block (reset per test). */
export function recordEmailEvents(): EmailEvent[] {
  const events: EmailEvent[] = [];
  let stop = () => {};
  beforeEach(() => {
    events.length = 0;
    stop = onEmailEvent((event) => {
      events.push(event);
    });
  });
  afterEach(() => stop());
  return events;
}
