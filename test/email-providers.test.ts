/**
 * Every provider EMAIL_PROVIDER can name, switched by configuration alone: each is
 * handed the same rendered template and called the way its API documents, captured
 * where the request leaves the Worker (`fetch`), and each of its documented refusals
 * is either retried with the queue's backoff (429, 5xx, no answer) or given up at once
 * (bad key, invalid recipient). Cloudflare Email Sending goes through miniflare's real
 * `send_email` binding; only its documented error answers are played by a stand-in.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { EmailProviderName } from "../src/email/provider";
import { renderEmail, siteFromConfig } from "../src/email/render";
import { type Bindings, getConfig } from "../src/env";
import { retryDelaySeconds } from "../src/jobs/consumer";
import {
  captureLines,
  consume,
  enqueueHeld,
  fakeEmailApi,
  recordEmailEvents,
  resendAccepted,
  resetEmail,
} from "./support/mailbox";

const KEYS = {
  RESEND_API_KEY: "re_test_4f9a1c2b3d",
  POSTMARK_SERVER_TOKEN: "9d6b4e2a-1c3f-4a5b-8e7d-0f1a2b3c4d5e",
  SENDGRID_API_KEY: "SG.test-key.0123456789abcdefghijklmnopqrstuvwxyz",
  MAILGUN_API_KEY: "0123456789abcdef0123456789abcdef-1a2b3c4d-5e6f7a8b",
};

/** The bindings with one provider switched on by its variables alone (a fresh object: getConfig parses it anew). */
function providerEnv(provider: EmailProviderName, vars: Record<string, string> = {}): Bindings {
  const settings: Record<EmailProviderName, Record<string, string>> = {
    console: {},
    resend: { RESEND_API_KEY: KEYS.RESEND_API_KEY },
    postmark: { POSTMARK_SERVER_TOKEN: KEYS.POSTMARK_SERVER_TOKEN },
    sendgrid: { SENDGRID_API_KEY: KEYS.SENDGRID_API_KEY },
    mailgun: { MAILGUN_API_KEY: KEYS.MAILGUN_API_KEY, MAILGUN_DOMAIN: "mg.example.com" },
    cloudflare: {},
  };
  return { ...env, EMAIL_PROVIDER: provider, ...settings[provider], ...vars } as Bindings;
}

/** What the password_reset template renders to, the same for every provider. */
function rendered() {
  return renderEmail("password_reset", resetEmail.data as never, siteFromConfig(getConfig(env)));
}

const postmarkAccepted = (id: string) => () =>
  Response.json({
    To: "ada@example.com",
    SubmittedAt: "2026-11-21T09:12:44.5120000-05:00",
    MessageID: id,
    ErrorCode: 0,
    Message: "OK",
  });
const sendgridAccepted = (id: string) => () =>
  new Response(null, { status: 202, headers: { "X-Message-Id": id } });
const mailgunAccepted = (id: string) => () => Response.json({ id, message: "Queued. Thank you." });
const networkFailure = () => {
  throw new TypeError("Network connection lost.");
};
const timedOut = () => {
  throw new DOMException("The operation was aborted due to timeout", "TimeoutError");
};

afterEach(() => {
  vi.restoreAllMocks();
});

describe("email providers: the request each API documents", () => {
  const events = recordEmailEvents();

  it("postmark: POST /email with X-Postmark-Server-Token and Postmark's fields", async () => {
    const { emailId, body } = await enqueueHeld(resetEmail);
    const api = fakeEmailApi(postmarkAccepted("0a129aee-e1cd-480d-b08d-4f48548ff48d"));
    const { id, result } = await consume(body, { env: providerEnv("postmark") });

    expect(result.explicitAcks).toEqual([id]);
    const [request] = api.requests as [Request];
    expect(request.method).toBe("POST");
    expect(request.url).toBe("https://api.postmarkapp.com/email");
    expect(request.headers.get("x-postmark-server-token")).toBe(KEYS.POSTMARK_SERVER_TOKEN);
    expect(request.headers.get("accept")).toBe("application/json");
    expect(request.headers.get("content-type")).toBe("application/json");
    expect(request.headers.get("authorization")).toBeNull();
    const email = rendered();
    expect(await request.json()).toEqual({
      From: "Edge API Platform <no-reply@example.com>",
      To: "ada@example.com",
      Subject: email.subject,
      HtmlBody: email.html,
      TextBody: email.text,
      MessageStream: "outbound",
      Tag: "password_reset",
      Metadata: { template: "password_reset", email_id: emailId },
      Headers: [{ Name: "X-Entity-Ref-ID", Value: emailId }],
    });
    expect(events.find((event) => event.email_id === emailId)).toMatchObject({
      outcome: "sent",
      provider: "postmark",
      provider_message_id: "0a129aee-e1cd-480d-b08d-4f48548ff48d",
    });
  });

  it("sendgrid: POST /v3/mail/send with a Bearer key, one personalization, text before HTML", async () => {
    const { emailId, body } = await enqueueHeld(resetEmail);
    const api = fakeEmailApi(sendgridAccepted("14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"));
    const { id, result } = await consume(body, { env: providerEnv("sendgrid") });

    expect(result.explicitAcks).toEqual([id]);
    const [request] = api.requests as [Request];
    expect(request.method).toBe("POST");
    expect(request.url).toBe("https://api.sendgrid.com/v3/mail/send");
    expect(request.headers.get("authorization")).toBe(`Bearer ${KEYS.SENDGRID_API_KEY}`);
    expect(request.headers.get("content-type")).toBe("application/json");
    const email = rendered();
    expect(await request.json()).toEqual({
      personalizations: [{ to: [{ email: "ada@example.com" }] }],
      from: { email: "no-reply@example.com", name: "Edge API Platform" },
      subject: email.subject,
      content: [
        { type: "text/plain", value: email.text },
        { type: "text/html", value: email.html },
      ],
      headers: { "X-Entity-Ref-ID": emailId },
      categories: ["password_reset"],
      custom_args: { template: "password_reset", email_id: emailId },
    });
    expect(events.find((event) => event.email_id === emailId)).toMatchObject({
      outcome: "sent",
      provider: "sendgrid",
      provider_message_id: "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
    });
  });

  it("mailgun: POST /v3/{domain}/messages with Basic api:<key> and multipart fields", async () => {
    const { emailId, body } = await enqueueHeld(resetEmail);
    const api = fakeEmailApi(mailgunAccepted("<20261121091244.1.5C1A2B3C4D5E6F70@mg.example.com>"));
    const { id, result } = await consume(body, { env: providerEnv("mailgun") });

    expect(result.explicitAcks).toEqual([id]);
    const [request] = api.requests as [Request];
    expect(request.method).toBe("POST");
    expect(request.url).toBe("https://api.mailgun.net/v3/mg.example.com/messages");
    expect(request.headers.get("authorization")).toBe(`Basic ${btoa(`api:${KEYS.MAILGUN_API_KEY}`)}`);
    expect(request.headers.get("content-type")).toMatch(/^multipart\/form-data; boundary=/);
    const form = await request.formData();
    const email = rendered();
    expect(Object.fromEntries(form.entries())).toEqual({
      from: "Edge API Platform <no-reply@example.com>",
      to: "ada@example.com",
      subject: email.subject,
      text: email.text,
      html: email.html,
      "o:tag": "password_reset",
      "v:template": "password_reset",
      "v:email_id": emailId,
      "h:X-Entity-Ref-ID": emailId,
    });
    expect(events.find((event) => event.email_id === emailId)).toMatchObject({
      outcome: "sent",
      provider: "mailgun",
      provider_message_id: "<20261121091244.1.5C1A2B3C4D5E6F70@mg.example.com>",
    });
  });

  it("mailgun in the EU region: EMAIL_API_BASE_URL=https://api.eu.mailgun.net", async () => {
    const { body } = await enqueueHeld(resetEmail);
    const api = fakeEmailApi(mailgunAccepted("<eu@mg.example.com>"));
    await consume(body, {
      env: providerEnv("mailgun", { EMAIL_API_BASE_URL: "https://api.eu.mailgun.net" }),
    });
    expect(api.requests[0]?.url).toBe("https://api.eu.mailgun.net/v3/mg.example.com/messages");
  });

  it("cloudflare: the send_email binding (miniflare's own) gets the structured message", async () => {
    const { emailId, body } = await enqueueHeld(resetEmail);
    const real = env.SEND_EMAIL as SendEmail;
    const sent: EmailMessageBuilder[] = [];
    // Records what the Worker hands the binding, then lets miniflare's binding take it as it would.
    const recording = {
      send: async (message: EmailMessageBuilder) => {
        sent.push(message);
        return real.send(message);
      },
    } as SendEmail;
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    const { id, result } = await consume(body, {
      env: { ...providerEnv("cloudflare"), SEND_EMAIL: recording },
    });

    expect(result.explicitAcks).toEqual([id]);
    expect(fetchSpy).not.toHaveBeenCalled();
    const email = rendered();
    expect(sent).toEqual([
      {
        from: { email: "no-reply@example.com", name: "Edge API Platform" },
        to: "ada@example.com",
        subject: email.subject,
        text: email.text,
        html: email.html,
        headers: { "X-Entity-Ref-ID": emailId },
      },
    ]);
    const event = events.find((each) => each.email_id === emailId);
    expect(event).toMatchObject({ outcome: "sent", provider: "cloudflare" });
    expect(event?.outcome === "sent" && event.provider_message_id).toMatch(/^<[^@>]+@example\.com>$/);
  });

  it("resend keeps its SDK call, now with EMAIL_API_BASE_URL as its base", async () => {
    const { body } = await enqueueHeld(resetEmail);
    const api = fakeEmailApi(resendAccepted("49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"));
    await consume(body, { env: providerEnv("resend", { EMAIL_API_BASE_URL: "http://127.0.0.1:8025/" }) });
    expect(api.requests[0]?.url).toBe("http://127.0.0.1:8025/emails");
    expect(api.requests[0]?.headers.get("authorization")).toBe(`Bearer ${KEYS.RESEND_API_KEY}`);
  });

  for (const [provider, path, answer] of [
    ["postmark", "/email", postmarkAccepted("local-1")],
    ["sendgrid", "/v3/mail/send", sendgridAccepted("local-2")],
    ["mailgun", "/v3/mg.example.com/messages", mailgunAccepted("<local-3@mg.example.com>")],
  ] as const) {
    it(`${provider}: EMAIL_API_BASE_URL points it at a local fake (http is fine outside production)`, async () => {
      const { body } = await enqueueHeld(resetEmail);
      const api = fakeEmailApi(answer);
      const { id, result } = await consume(body, {
        env: providerEnv(provider, { EMAIL_API_BASE_URL: "http://127.0.0.1:8025" }),
      });
      expect(result.explicitAcks).toEqual([id]);
      expect(api.requests[0]?.url).toBe(`http://127.0.0.1:8025${path}`);
    });
  }
});

/** A refusal as the provider documents it, and what the consumer must do with it. */
type Failure = {
  what: string;
  answer: () => Response;
  status: number | null;
  code: string;
  retried: boolean;
  /** Part of the provider's explanation, which the log of a given-up email must carry. */
  says?: string;
};

const failuresByProvider: Record<"postmark" | "sendgrid" | "mailgun", Failure[]> = {
  postmark: [
    {
      what: "401 without a valid token",
      answer: () =>
        Response.json(
          {
            ErrorCode: 10,
            Message:
              "No Account or Server API tokens were supplied in the HTTP headers. Please add a header for either X-Postmark-Server-Token or X-Postmark-Account-Token.",
          },
          { status: 401 },
        ),
      status: 401,
      code: "error_code_10",
      retried: false,
      says: "No Account or Server API tokens were supplied",
    },
    {
      what: "422 inactive recipient (ErrorCode 406)",
      answer: () =>
        Response.json(
          {
            ErrorCode: 406,
            Message:
              "You tried to send to recipient(s) that have been marked as inactive. Found inactive addresses: ada@example.com. Inactive recipients are ones that have generated a hard bounce, a spam complaint, or a manual suppression.",
          },
          { status: 422 },
        ),
      status: 422,
      code: "error_code_406",
      retried: false,
      says: "marked as inactive",
    },
    {
      what: "429 rate limited",
      answer: () => Response.json({ ErrorCode: 429, Message: "Rate limit exceeded." }, { status: 429 }),
      status: 429,
      code: "error_code_429",
      retried: true,
    },
    {
      what: "500 internal error",
      answer: () => new Response("Internal Server Error", { status: 500 }),
      status: 500,
      code: "http_500",
      retried: true,
    },
  ],
  sendgrid: [
    {
      what: "401 bad key",
      answer: () =>
        Response.json(
          {
            errors: [
              {
                message: "The provided authorization grant is invalid, expired, or revoked",
                field: null,
                help: null,
              },
            ],
          },
          { status: 401 },
        ),
      status: 401,
      code: "unauthorized",
      retried: false,
      says: "The provided authorization grant is invalid",
    },
    {
      what: "400 invalid recipient",
      answer: () =>
        Response.json(
          {
            errors: [
              {
                message: "Does not contain a valid address.",
                field: "personalizations.0.to.0.email",
                help: "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message.personalizations.to",
              },
            ],
          },
          { status: 400 },
        ),
      status: 400,
      code: "bad_request",
      retried: false,
      says: "personalizations.0.to.0.email: Does not contain a valid address.",
    },
    {
      what: "429 too many requests",
      answer: () =>
        Response.json(
          { errors: [{ message: "too many requests", field: null, help: null }] },
          { status: 429 },
        ),
      status: 429,
      code: "rate_limited",
      retried: true,
    },
    {
      what: "503 unavailable",
      answer: () => new Response("upstream connect error", { status: 503 }),
      status: 503,
      code: "server_error",
      retried: true,
    },
  ],
  mailgun: [
    {
      what: "401 Forbidden (plain text)",
      answer: () => new Response("Forbidden", { status: 401 }),
      status: 401,
      code: "unauthorized",
      retried: false,
      says: "Forbidden",
    },
    {
      what: "400 invalid parameter",
      answer: () =>
        Response.json(
          { message: "'to' parameter is not a valid address. please check documentation" },
          { status: 400 },
        ),
      status: 400,
      code: "bad_request",
      retried: false,
      says: "'to' parameter is not a valid address",
    },
    {
      what: "429 too many requests",
      answer: () => Response.json({ message: "Too many requests" }, { status: 429 }),
      status: 429,
      code: "rate_limited",
      retried: true,
    },
    {
      what: "500 internal error",
      answer: () => Response.json({ message: "Internal Server Error" }, { status: 500 }),
      status: 500,
      code: "server_error",
      retried: true,
    },
  ],
};

describe("email providers: refusals, retried or given up", () => {
  const events = recordEmailEvents();

  for (const [provider, failures] of Object.entries(failuresByProvider) as Array<
    [keyof typeof failuresByProvider, Failure[]]
  >) {
    for (const failure of failures) {
      it(`${provider}: ${failure.what} is ${failure.retried ? "retried with backoff" : "given up at once"}`, async () => {
        const { emailId, body } = await enqueueHeld(resetEmail);
        fakeEmailApi(failure.answer);
        const errors = captureLines("error");
        const { id, result, retryOptions } = await consume(body, { env: providerEnv(provider), attempts: 2 });

        const event = events.find((each) => each.email_id === emailId);
        expect(event).toEqual({
          outcome: "failed",
          email_id: emailId,
          template: "password_reset",
          provider,
          attempts: 2,
          final: !failure.retried,
          error_code: failure.code,
          status: failure.status,
        });
        if (failure.retried) {
          expect(result.retryMessages).toEqual([{ msgId: id }]);
          expect(retryOptions).toEqual([{ delaySeconds: retryDelaySeconds(2) }]);
        } else {
          expect(result.explicitAcks).toEqual([id]);
          expect(result.retryMessages).toEqual([]);
          const [line] = errors();
          expect(line).toMatchObject({
            msg: "email refused by the provider; not retried",
            provider,
            status: failure.status,
            error_code: failure.code,
          });
          // The provider's own explanation reaches the log...
          expect(String(line?.error)).toContain(failure.says);
        }
        // ...and no key ever does.
        const logged = JSON.stringify(errors());
        for (const key of Object.values(KEYS)) expect(logged).not.toContain(key);
      });
    }

    it(`${provider}: no answer (network failure, timeout) is retried`, async () => {
      for (const [answer, code] of [
        [networkFailure, "network_error"],
        [timedOut, "timeout"],
      ] as const) {
        const { emailId, body } = await enqueueHeld(resetEmail);
        fakeEmailApi(answer);
        const { id, result } = await consume(body, { env: providerEnv(provider) });
        expect(result.retryMessages).toEqual([{ msgId: id }]);
        expect(events.find((event) => event.email_id === emailId)).toMatchObject({
          outcome: "failed",
          provider,
          status: null,
          error_code: code,
          final: false,
        });
        vi.restoreAllMocks();
      }
    });
  }

  it("mailgun: the Basic credentials never reach the logs, even echoed back in an error body", async () => {
    const { body } = await enqueueHeld(resetEmail);
    const echoed = `Basic ${btoa(`api:${KEYS.MAILGUN_API_KEY}`)}`;
    fakeEmailApi(() =>
      Response.json({ message: `bad auth ${echoed} ${KEYS.MAILGUN_API_KEY}` }, { status: 401 }),
    );
    const errors = captureLines("error");
    await consume(body, { env: providerEnv("mailgun") });
    const logged = JSON.stringify(errors());
    expect(logged).toContain("[redacted]");
    expect(logged).not.toContain(KEYS.MAILGUN_API_KEY);
    expect(logged).not.toContain(echoed);
  });
});

describe("email providers: cloudflare send_email refusals", () => {
  const events = recordEmailEvents();

  /** A binding that refuses the way Cloudflare documents: an Error with a `code`. */
  function refusingBinding(code: string | undefined, message: string): SendEmail {
    return {
      send: async () => {
        throw Object.assign(new Error(message), code ? { code } : {});
      },
    } as unknown as SendEmail;
  }

  for (const [code, message, retried] of [
    ["E_SENDER_NOT_VERIFIED", "Sender domain not verified", false],
    ["E_RECIPIENT_SUPPRESSED", "Recipient is on suppression list", false],
    ["E_VALIDATION_ERROR", "Validation error in the payload", false],
    ["E_RATE_LIMIT_EXCEEDED", "Rate limit exceeded", true],
    ["E_INTERNAL_SERVER_ERROR", "Internal service error", true],
    [undefined, "Network connection lost.", true],
  ] as const) {
    it(`${code ?? "an error without a code"} is ${retried ? "retried" : "given up at once"}`, async () => {
      const { emailId, body } = await enqueueHeld(resetEmail);
      captureLines("error");
      const { id, result } = await consume(body, {
        env: { ...providerEnv("cloudflare"), SEND_EMAIL: refusingBinding(code, message) },
      });
      expect(result.retryMessages.map((retry) => retry.msgId)).toEqual(retried ? [id] : []);
      expect(result.explicitAcks).toEqual(retried ? [] : [id]);
      expect(events.find((event) => event.email_id === emailId)).toMatchObject({
        outcome: "failed",
        provider: "cloudflare",
        status: null,
        error_code: code ?? "binding_error",
        final: !retried,
      });
    });
  }
});

describe("email providers: configuration", () => {
  const events = recordEmailEvents();

  for (const [provider, vars, missing] of [
    [
      "postmark",
      { POSTMARK_SERVER_TOKEN: "" },
      "POSTMARK_SERVER_TOKEN: required when EMAIL_PROVIDER=postmark",
    ],
    ["sendgrid", { SENDGRID_API_KEY: "" }, "SENDGRID_API_KEY: required when EMAIL_PROVIDER=sendgrid"],
    ["mailgun", { MAILGUN_API_KEY: "" }, "MAILGUN_API_KEY: required when EMAIL_PROVIDER=mailgun"],
    ["mailgun", { MAILGUN_DOMAIN: "" }, "MAILGUN_DOMAIN: required when EMAIL_PROVIDER=mailgun"],
    [
      "cloudflare",
      { SEND_EMAIL: undefined },
      "SEND_EMAIL: EMAIL_PROVIDER=cloudflare needs a send_email binding",
    ],
  ] as const) {
    it(`${provider} without ${Object.keys(vars)[0]}: a ConfigError naming it, retried until it is set`, async () => {
      const { emailId, body } = await enqueueHeld(resetEmail);
      const api = fakeEmailApi(postmarkAccepted("never-used"));
      const errors = captureLines("error");
      const { id, result } = await consume(body, {
        env: { ...providerEnv(provider), ...vars } as Bindings,
        attempts: 6,
      });
      expect(api.spy).not.toHaveBeenCalled();
      expect(result.retryMessages.map((retry) => retry.msgId)).toEqual([id]);
      expect(errors()[0]).toMatchObject({
        error: { name: "ConfigError", message: expect.stringContaining(missing) },
      });
      expect(events.find((event) => event.email_id === emailId)).toMatchObject({
        outcome: "failed",
        provider,
        error_code: "ConfigError",
        final: true,
      });
    });
  }

  it("EMAIL_PROVIDER takes exactly the six providers", () => {
    for (const provider of ["console", "resend", "postmark", "sendgrid", "mailgun", "cloudflare"] as const) {
      expect(getConfig(providerEnv(provider)).EMAIL_PROVIDER).toBe(provider);
    }
    expect(() => getConfig({ ...env, EMAIL_PROVIDER: "ses" } as Bindings)).toThrow(/EMAIL_PROVIDER/);
  });

  it("EMAIL_API_BASE_URL: an http(s) URL; https only in production", () => {
    const production = (vars: Record<string, string>) =>
      ({ ...providerEnv("mailgun"), ENVIRONMENT: "production", ...vars }) as Bindings;
    expect(() => getConfig(providerEnv("mailgun", { EMAIL_API_BASE_URL: "api.eu.mailgun.net" }))).toThrow(
      /EMAIL_API_BASE_URL/,
    );
    expect(() => getConfig(production({ EMAIL_API_BASE_URL: "http://127.0.0.1:8025" }))).toThrow(
      /EMAIL_API_BASE_URL: must be an https URL in production/,
    );
    expect(
      getConfig(production({ EMAIL_API_BASE_URL: "https://api.eu.mailgun.net" })).EMAIL_API_BASE_URL,
    ).toBe("https://api.eu.mailgun.net");
  });

  it("MAILGUN_DOMAIN must be a domain name", () => {
    expect(() => getConfig(providerEnv("mailgun", { MAILGUN_DOMAIN: "https://mg.example.com" }))).toThrow(
      /MAILGUN_DOMAIN: must be a domain name/,
    );
  });

  it("console stays refused in production, naming the providers to use instead", () => {
    expect(() =>
      getConfig({ ...env, ENVIRONMENT: "production", EMAIL_PROVIDER: "console" } as Bindings),
    ).toThrow(/`console` is refused in production; use resend, postmark, sendgrid, mailgun or cloudflare/);
  });
});
