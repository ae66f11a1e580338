/// <reference types="vite/client" />
/**
 * Delivery through EMAIL_QUEUE: the producer puts an `email.send` message on the real
 * local queue, and the tests hand that exact body to the Worker's queue handler in a
 * batch they build (createMessageBatch), so retries, backoff and the last attempt are
 * driven without waiting for the queue's timers. Resend is faked only at `fetch`.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { onEmailEvent } from "../src/email/events";
import { sendEmail } from "../src/email/send-email";
import { type Bindings, getConfig } from "../src/env";
import { MAX_RETRIES, retryDelaySeconds } from "../src/jobs/consumer";
import { createServiceContext } from "../src/lib/context";
import { systemPrincipal } from "../src/lib/principal";
import wranglerToml from "../wrangler.toml?raw";
import {
  captureLines,
  consume,
  EMAIL_DLQ,
  EMAIL_QUEUE,
  enqueueHeld,
  fakeResend,
  HOLD_SECONDS,
  recordEmailEvents,
  resendAccepted,
  resetEmail,
} from "./support/mailbox";

const RESEND_KEY = "re_test_4f9a1c2b3d";

/** The same bindings with other email settings; a fresh object, so getConfig parses it anew. */
function envWith(
  vars: Partial<Record<"EMAIL_PROVIDER" | "RESEND_API_KEY" | "EMAIL_FROM", string>>,
): Bindings {
  return { ...env, ...vars };
}

const resendEnv = () => envWith({ EMAIL_PROVIDER: "resend", RESEND_API_KEY: RESEND_KEY });

const resendError =
  (statusCode: number, name: string, message: string, headers: HeadersInit = {}) =>
  () =>
    Response.json({ statusCode, name, message }, { status: statusCode, headers });

afterEach(() => {
  vi.restoreAllMocks();
});

describe("email delivery: producer", () => {
  it("enqueues { template, to, data } as an email.send message on EMAIL_QUEUE", async () => {
    const { emailId, body } = await enqueueHeld(resetEmail);
    expect(emailId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(body).toEqual({
      type: "email.send",
      email_id: emailId,
      queued_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      template: "password_reset",
      to: "ada@example.com",
      data: resetEmail.data,
    });
  });

  it("carries the request id when given a ServiceContext", async () => {
    const ctx = createServiceContext({ env, principal: systemPrincipal("test"), requestId: "req_email_1" });
    const send = vi.spyOn(env.EMAIL_QUEUE, "send");
    await sendEmail(
      ctx,
      { template: "welcome", to: "ada@example.com", data: { name: "Ada" } },
      { delaySeconds: HOLD_SECONDS },
    );
    expect(send.mock.calls[0]?.[0]).toMatchObject({ type: "email.send", request_id: "req_email_1" });
  });

  it("sends JSON, and passes a delay through to the queue", async () => {
    const send = vi.spyOn(env.EMAIL_QUEUE, "send");
    await sendEmail(
      env,
      { template: "welcome", to: "ada@example.com", data: {} },
      { delaySeconds: HOLD_SECONDS },
    );
    expect(send.mock.calls[0]?.[1]).toEqual({ contentType: "json", delaySeconds: HOLD_SECONDS });
  });
});

describe("email delivery: console provider", () => {
  const events = recordEmailEvents();

  it("logs the rendered message as one structured JSON line and acks", async () => {
    const { emailId, body } = await enqueueHeld(resetEmail);
    const lines = captureLines("log");
    const { id, result } = await consume(body, { env: envWith({ EMAIL_PROVIDER: "console" }) });

    expect(result.explicitAcks).toEqual([id]);
    expect(result.retryMessages).toEqual([]);
    const delivered = lines().filter((line) => line.email_id === emailId && line.provider === "console");
    expect(delivered).toHaveLength(1);
    const line = delivered[0] ?? {};
    expect(line).toMatchObject({
      level: "info",
      msg: "email delivered to console",
      from: "Edge API Platform <no-reply@example.com>",
      to: "ada@example.com",
      subject: "Reset your Edge API Platform password",
      tags: [
        { name: "template", value: "password_reset" },
        { name: "email_id", value: emailId },
      ],
      headers: { "X-Entity-Ref-ID": emailId },
    });
    expect(line.text).toContain(
      "Choose a new password:\nhttps://app.example.com/reset-password?token=tok_secret_123",
    );
    expect(line.html).toContain('href="https://app.example.com/reset-password?token=tok_secret_123"');
    expect(events.filter((event) => event.email_id === emailId)).toEqual([
      {
        outcome: "sent",
        email_id: emailId,
        template: "password_reset",
        provider: "console",
        attempts: 1,
        provider_message_id: `console-${emailId}`,
      },
    ]);
  });

  it("is what the real local queue delivers to by default (observed end to end)", async () => {
    // Guard: this test lets the real consumer run with the real env; it must never reach a real provider.
    expect(getConfig(env).EMAIL_PROVIDER).toBe("console");
    const lines = captureLines("log");
    const { emailId } = await sendEmail(env, {
      template: "welcome",
      to: "grace@example.com",
      data: { name: "Grace" },
    });
    // The queue flushes after max_batch_timeout (1 s); poll for the delivery instead of sleeping a fixed time.
    await vi.waitFor(
      () => {
        expect(
          lines().some((line) => line.email_id === emailId && line.msg === "email delivered to console"),
        ).toBe(true);
      },
      { timeout: 10_000, interval: 50 },
    );
    const line = lines().find((entry) => entry.email_id === emailId);
    expect(line).toMatchObject({ to: "grace@example.com", subject: "Welcome to Edge API Platform" });
  });
});

describe("email delivery: resend provider", () => {
  const events = recordEmailEvents();

  it("POSTs the body Resend's API expects, with an idempotency key, and acks", async () => {
    const { emailId, body } = await enqueueHeld(resetEmail);
    const resend = fakeResend(resendAccepted("49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"));
    const { id, result } = await consume(body, { env: resendEnv() });

    expect(result.explicitAcks).toEqual([id]);
    expect(resend.requests).toHaveLength(1);
    const request = resend.requests[0] as Request;
    expect(request.method).toBe("POST");
    expect(request.url).toBe("https://api.resend.com/emails");
    expect(request.headers.get("authorization")).toBe(`Bearer ${RESEND_KEY}`);
    expect(request.headers.get("content-type")).toBe("application/json");
    expect(request.headers.get("idempotency-key")).toBe(`email-send/${emailId}`);
    expect(request.headers.get("user-agent")).toMatch(/^resend-node:/);

    const sent = (await request.json()) as Record<string, unknown>;
    expect(Object.keys(sent).sort()).toEqual(["from", "headers", "html", "subject", "tags", "text", "to"]);
    expect(sent).toMatchObject({
      from: "Edge API Platform <no-reply@example.com>",
      to: "ada@example.com",
      subject: "Reset your Edge API Platform password",
      tags: [
        { name: "template", value: "password_reset" },
        { name: "email_id", value: emailId },
      ],
      headers: { "X-Entity-Ref-ID": emailId },
    });
    expect(sent.html).toMatch(/^<!doctype html>/);
    expect(sent.html).toContain('href="https://app.example.com/reset-password?token=tok_secret_123"');
    expect(sent.text).toContain("https://app.example.com/reset-password?token=tok_secret_123");

    expect(events.filter((event) => event.email_id === emailId)).toEqual([
      {
        outcome: "sent",
        email_id: emailId,
        template: "password_reset",
        provider: "resend",
        attempts: 1,
        provider_message_id: "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794",
      },
    ]);
  });

  it("uses EMAIL_FROM as the sender", async () => {
    const { body } = await enqueueHeld(resetEmail);
    const resend = fakeResend(resendAccepted("0d7c0a6e-8f43-4b8e-9a47-3f1f0e3c5a11"));
    await consume(body, { env: { ...resendEnv(), EMAIL_FROM: "Acme Security <security@acme.example>" } });
    const [request] = resend.requests;
    expect(((await request?.json()) as { from?: string } | undefined)?.from).toBe(
      "Acme Security <security@acme.example>",
    );
  });

  it("sends the same idempotency key and payload when the queue redelivers a message", async () => {
    const { emailId, body } = await enqueueHeld(resetEmail);
    const resend = fakeResend(resendAccepted("5b0e2f8a-7c1d-4e3f-9a2b-6c8d0e1f2a3b"));
    const testEnv = resendEnv();
    await consume(body, { env: testEnv, attempts: 1 });
    await consume(body, { env: testEnv, attempts: 2 });
    const [first, second] = resend.requests;
    expect(first?.headers.get("idempotency-key")).toBe(`email-send/${emailId}`);
    expect(second?.headers.get("idempotency-key")).toBe(`email-send/${emailId}`);
    expect(await first?.text()).toBe(await second?.text());
  });
});

describe("email delivery: errors", () => {
  const events = recordEmailEvents();

  const failures = [
    {
      what: "429 rate_limit_exceeded",
      answer: resendError(
        429,
        "rate_limit_exceeded",
        "Too many requests. You can only make 2 requests per second.",
        {
          "retry-after": "1",
        },
      ),
      status: 429,
      code: "rate_limit_exceeded",
    },
    {
      what: "500 internal_server_error",
      answer: resendError(500, "internal_server_error", "An unexpected error occurred."),
      status: 500,
      code: "internal_server_error",
    },
    {
      what: "a network failure",
      answer: () => {
        throw new TypeError("Network connection lost.");
      },
      status: null,
      code: "application_error",
    },
  ];

  for (const failure of failures) {
    it(`retries on ${failure.what} with exponential backoff`, async () => {
      const { emailId, body } = await enqueueHeld(resetEmail);
      fakeResend(failure.answer);
      const testEnv = resendEnv();

      for (const attempts of [1, 2, 3]) {
        const { id, result, retryOptions } = await consume(body, { env: testEnv, attempts });
        expect(result.explicitAcks).toEqual([]);
        expect(result.retryMessages).toEqual([{ msgId: id }]);
        expect(retryOptions).toEqual([{ delaySeconds: retryDelaySeconds(attempts) }]);
      }
      expect([1, 2, 3].map(retryDelaySeconds)).toEqual([2, 4, 8]);

      expect(events.filter((event) => event.email_id === emailId)).toEqual(
        [1, 2, 3].map((attempts) => ({
          outcome: "failed",
          email_id: emailId,
          template: "password_reset",
          provider: "resend",
          attempts,
          final: false,
          error_code: failure.code,
          status: failure.status,
        })),
      );
    });
  }

  for (const refusal of [
    {
      what: "422 validation_error",
      answer: resendError(
        422,
        "validation_error",
        "Invalid `to` field. The email address needs to follow the `email@example.com` format.",
      ),
      status: 422,
      code: "validation_error",
    },
    {
      what: "401 missing_api_key",
      answer: resendError(401, "missing_api_key", "Missing API key in the authorization header."),
      status: 401,
      code: "missing_api_key",
    },
  ]) {
    it(`gives up at once on ${refusal.what}: acked, logged with Resend's explanation, counted as final`, async () => {
      const { emailId, body } = await enqueueHeld(resetEmail);
      const resend = fakeResend(refusal.answer);
      const errors = captureLines("error");
      const { id, result } = await consume(body, { env: resendEnv(), attempts: 1 });

      expect(resend.requests).toHaveLength(1);
      expect(result.explicitAcks).toEqual([id]);
      expect(result.retryMessages).toEqual([]);
      expect(errors()).toEqual([
        expect.objectContaining({
          level: "error",
          msg: "email refused by the provider; not retried",
          email_id: emailId,
          provider: "resend",
          status: refusal.status,
          error_code: refusal.code,
          to: "ada@example.com",
        }),
      ]);
      expect(JSON.stringify(errors())).not.toContain(RESEND_KEY);
      expect(events.filter((event) => event.email_id === emailId)).toEqual([
        {
          outcome: "failed",
          email_id: emailId,
          template: "password_reset",
          provider: "resend",
          attempts: 1,
          final: true,
          error_code: refusal.code,
          status: refusal.status,
        },
      ]);
    });
  }

  it("logs the final failure, leaves the message to the dead-letter queue, and the DLQ consumer logs it", async () => {
    const maxAttempts = (MAX_RETRIES[EMAIL_QUEUE] ?? 0) + 1;
    expect(maxAttempts).toBe(6);
    const { emailId, body } = await enqueueHeld(resetEmail);
    fakeResend(resendError(500, "internal_server_error", "An unexpected error occurred."));
    const errors = captureLines("error");

    // Attempt 5 of 6 still retries quietly (a warning, below the test LOG_LEVEL of "error").
    await consume(body, { env: resendEnv(), attempts: maxAttempts - 1 });
    expect(errors()).toEqual([]);

    // The last attempt: not acked, so the queue moves the message to edge-api-email-dlq; logged as final.
    const { id, result, retryOptions } = await consume(body, { env: resendEnv(), attempts: maxAttempts });
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toEqual([{ msgId: id }]);
    expect(retryOptions).toHaveLength(1);
    expect(errors()).toEqual([
      expect.objectContaining({
        level: "error",
        msg: "queue message failed on its last attempt; dead-lettering",
        queue: EMAIL_QUEUE,
        message_id: id,
        type: "email.send",
        attempts: maxAttempts,
        error: expect.objectContaining({
          name: "EmailProviderError",
          message: "resend refused the email (500 internal_server_error): An unexpected error occurred.",
        }),
      }),
    ]);
    expect(
      events
        .filter((event) => event.email_id === emailId)
        .map((event) => event.outcome === "failed" && event.final),
    ).toEqual([false, true]);

    // The dead-letter queue's consumer logs the message, with the secrets in its data masked, and acks it.
    const dead = await consume(body, { queue: EMAIL_DLQ, attempts: 1 });
    expect(dead.result.explicitAcks).toEqual([dead.id]);
    const deadLine = errors().find((line) => line.msg === "dead letter");
    expect(deadLine).toMatchObject({
      queue: EMAIL_DLQ,
      message_id: dead.id,
      body: {
        type: "email.send",
        email_id: emailId,
        template: "password_reset",
        to: "ada@example.com",
        data: "[redacted]",
      },
    });
    expect(JSON.stringify(errors())).not.toContain("tok_secret_123");
  });

  it("refuses EMAIL_PROVIDER=resend without RESEND_API_KEY with a clear error, and retries", async () => {
    const { emailId, body } = await enqueueHeld(resetEmail);
    const resend = fakeResend(resendAccepted("never-used"));
    const errors = captureLines("error");
    const { id, result } = await consume(body, {
      env: envWith({ EMAIL_PROVIDER: "resend", RESEND_API_KEY: "" }),
      attempts: 6,
    });
    expect(resend.spy).not.toHaveBeenCalled();
    expect(result.retryMessages.map((retry) => retry.msgId)).toEqual([id]);
    expect(errors()[0]).toMatchObject({
      error: {
        name: "ConfigError",
        message: expect.stringContaining("RESEND_API_KEY: required when EMAIL_PROVIDER=resend"),
      },
    });
    expect(events.find((event) => event.email_id === emailId)).toMatchObject({
      outcome: "failed",
      provider: "resend",
      error_code: "ConfigError",
      status: null,
      final: true,
    });
  });

  it("keeps delivering when an event listener throws", async () => {
    const stop = onEmailEvent(() => {
      throw new Error("metrics are down");
    });
    try {
      const { body } = await enqueueHeld(resetEmail);
      fakeResend(resendAccepted("1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9"));
      const errors = captureLines("error");
      const { id, result } = await consume(body, { env: resendEnv() });
      expect(result.explicitAcks).toEqual([id]);
      expect(errors()).toEqual([
        expect.objectContaining({ msg: "email event listener failed", outcome: "sent" }),
      ]);
    } finally {
      stop();
    }
  });

  it("acks and logs a message whose data no longer fits its template (a retry could never succeed)", async () => {
    const errors = captureLines("error");
    const { id, result } = await consume({
      type: "email.send",
      email_id: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
      queued_at: new Date().toISOString(),
      template: "magic_code",
      to: "ada@example.com",
      data: { code: "12", magic_url: "https://app.example.com/m", expires_in_minutes: 15 },
    });
    expect(result.explicitAcks).toEqual([id]);
    expect(errors()[0]).toMatchObject({ msg: "queue message rejected", message_id: id });
  });
});

describe("email delivery: configuration", () => {
  it("knows each consumer's max_retries exactly as wrangler.toml sets them, in every environment", () => {
    const consumers = [
      ...wranglerToml.matchAll(/queues\.consumers\]\]\nqueue = "([^"]+)"\n((?:[a-z_]+ = [^\n]+\n)+)/g),
    ];
    const withRetries = consumers.flatMap(([, queue, settings]) => {
      const retries = /max_retries = (\d+)/.exec(settings ?? "")?.[1];
      return retries === undefined ? [] : [[queue, Number(retries)] as const];
    });
    expect(withRetries.length).toBe(6);
    for (const [queue, retries] of withRetries) {
      expect(MAX_RETRIES[(queue as string).replace(/-(staging|production)$/, "")]).toBe(retries);
    }
  });

  it("rejects an EMAIL_FROM that is not a mailbox", () => {
    expect(() => getConfig(envWith({ EMAIL_FROM: "Security Team" }))).toThrow(/EMAIL_FROM/);
    expect(() => getConfig(envWith({ EMAIL_PROVIDER: "smtp" }))).toThrow(/EMAIL_PROVIDER/);
    expect(getConfig(envWith({ EMAIL_FROM: "security@acme.example" })).EMAIL_FROM).toBe(
      "security@acme.example",
    );
  });
});
