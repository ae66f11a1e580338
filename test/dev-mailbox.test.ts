/**
 * The dev mailbox: an email delivered by the real queue consumer shows up in
 * GET /dev/mailbox.json and on the HTML pages (rendered, links clickable, everything
 * escaped), newest first, for one day (time injected, never slept); the routes answer
 * 404 where it is off, and staging/production refuse to turn it on.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type SendEmailInput, sendEmail } from "../src/email/send-email";
import { type Bindings, ConfigError, getConfig } from "../src/env";
import { createLogger } from "../src/lib/logger";
import type { MailboxEmail } from "../src/modules/dev-mailbox/dev-mailbox.service";
import {
  keepDeliveredEmail,
  MAILBOX_PREFIX,
  MAILBOX_RETENTION_MS,
} from "../src/modules/dev-mailbox/dev-mailbox.service";
import { newAddress } from "./support/factories";
import { api, apiWith, jsonOf, problemOf } from "./support/http";
import { consume, deliver, HOLD_SECONDS, watchMailbox } from "./support/mailbox";

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** A request straight to the Worker's fetch handler, in this isolate (so a faked clock applies). */
const get = (path: string, vars: Record<string, string> = {}) =>
  apiWith(vars, "GET", path, { ip: "198.51.100.77" });

async function mailboxFor(to: string): Promise<MailboxEmail[]> {
  const body = await jsonOf<{ data: MailboxEmail[] }>(
    await get(`/dev/mailbox.json?to=${encodeURIComponent(to)}`),
    200,
  );
  return body.data;
}

/** Puts an email.send message on the real queue (held back) and returns its body, for consume(). */
async function enqueued(input: SendEmailInput): Promise<unknown> {
  const send = vi.spyOn(env.EMAIL_QUEUE, "send");
  await sendEmail(env, input, { delaySeconds: HOLD_SECONDS });
  const body = send.mock.calls[0]?.[0];
  send.mockRestore();
  return body;
}

const resetEmail = (to: string): SendEmailInput => ({
  template: "password_reset",
  to,
  data: {
    name: "Ada",
    reset_url: "https://app.example.com/reset-password?token=tok_reset_123",
    expires_in_minutes: 60,
  },
});

/** Runs the real consumer on one message and asserts it was acked (console log lines muted). */
async function delivered(input: SendEmailInput, options: { env?: Bindings } = {}): Promise<void> {
  const body = await enqueued(input);
  vi.spyOn(console, "log").mockImplementation(() => {});
  const outcome = await consume(body, options);
  expect(outcome.acked).toBe(true);
}

/** Elements matching `selector` in an HTML page, with their attributes (workerd's own HTML parser). */
async function elements(page: string, selector: string): Promise<Array<Record<string, string>>> {
  const found: Array<Record<string, string>> = [];
  await new HTMLRewriter()
    .on(selector, {
      element(element) {
        found.push(Object.fromEntries(element.attributes));
      },
    })
    .transform(new Response(page))
    .text();
  return found;
}

/** What an HTML attribute value decodes to (the entities the `html` tag writes). */
const decodeAttribute = (value: string) =>
  value
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&quot;", '"')
    .replaceAll("&#39;", "'")
    .replaceAll("&amp;", "&");

describe("an email delivered by the queue consumer", () => {
  beforeEach(() => {
    watchMailbox();
  });

  it("is listed in /dev/mailbox.json with its bodies (a magic code requested over HTTP)", async () => {
    const mailbox = watchMailbox();
    const email = newAddress("magic");
    expect((await api("POST", "/api/v1/auth/magic/request", { body: { email } })).status).toBe(202);
    const message = await mailbox.next(email, "magic_code");
    const sent = await deliver(message);

    const [kept, ...others] = await mailboxFor(email);
    expect(others).toEqual([]);
    expect(kept).toMatchObject({
      email_id: message.email_id,
      template: "magic_code",
      to: email,
      from: getConfig(env).EMAIL_FROM,
      subject: sent.subject,
      text: sent.text,
      html: sent.html,
      provider: "console",
    });
    expect(kept?.id).toMatch(new RegExp(`^\\d{13}-${message.email_id}$`));
    expect(Date.parse(kept?.sent_at ?? "")).toBeGreaterThan(Date.now() - 60_000);
    expect(kept?.text).toMatch(/^\s+\d{8}$/m);
  });

  it("is recorded whatever EMAIL_PROVIDER is (Resend, faked at fetch), and only once delivery succeeded", async () => {
    const resend = { ...env, EMAIL_PROVIDER: "resend", RESEND_API_KEY: "re_test_4f9a1c2b3d" } as Bindings;
    const to = newAddress("resend");
    const fetchSpy = vi
      .spyOn(globalThis, "fetch")
      .mockResolvedValueOnce(
        Response.json({ statusCode: 500, name: "application_error", message: "down" }, { status: 500 }),
      )
      .mockResolvedValueOnce(Response.json({ id: "re_msg_1" }, { status: 200 }));
    vi.spyOn(console, "warn").mockImplementation(() => {});
    vi.spyOn(console, "log").mockImplementation(() => {});
    const body = await enqueued(resetEmail(to));

    expect((await consume(body, { env: resend })).retried).toBe(true);
    expect(await mailboxFor(to)).toEqual([]);

    expect((await consume(body, { env: resend, attempts: 2 })).acked).toBe(true);
    expect(fetchSpy).toHaveBeenCalledTimes(2);
    const kept = await mailboxFor(to);
    expect(kept.map((email) => [email.provider, email.template])).toEqual([["resend", "password_reset"]]);
  });

  it("is still acked when the copy cannot be kept: the email already went out", async () => {
    const to = newAddress("r2down");
    vi.spyOn(env.FILES, "put").mockRejectedValue(new Error("R2 is down"));
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    await delivered(resetEmail(to), { env: { ...env, LOG_LEVEL: "warn" } as Bindings });
    expect(warn.mock.calls.map(([line]) => String(line)).join("\n")).toContain(
      "dev mailbox: could not keep a copy of the email",
    );
    vi.mocked(env.FILES.put).mockRestore();
    expect(await mailboxFor(to)).toEqual([]);
  });

  it("is listed newest first", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const to = newAddress("order");
    const start = Date.parse("2026-11-21T09:00:00.000Z");
    for (const [minutes, name] of [
      [0, "First"],
      [1, "Second"],
      [2, "Third"],
    ] as const) {
      vi.setSystemTime(start + minutes * 60_000);
      await delivered({ ...resetEmail(to), data: { ...resetEmail(to).data, name } } as SendEmailInput);
    }
    vi.setSystemTime(start + 3 * 60_000);
    const kept = await mailboxFor(to);
    expect(kept.map((email) => email.text.match(/Hi (\w+),/)?.[1])).toEqual(["Third", "Second", "First"]);
    expect(kept.map((email) => email.sent_at)).toEqual([
      "2026-11-21T09:02:00.000Z",
      "2026-11-21T09:01:00.000Z",
      "2026-11-21T09:00:00.000Z",
    ]);

    const limited = await jsonOf<{ data: MailboxEmail[] }>(
      await get(`/dev/mailbox.json?to=${encodeURIComponent(to)}&limit=2`),
      200,
    );
    expect(limited.data.map((email) => email.sent_at)).toEqual([
      "2026-11-21T09:02:00.000Z",
      "2026-11-21T09:01:00.000Z",
    ]);
  });

  it("is kept for a day, then left out and deleted from R2 by the next read", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const to = newAddress("expiry");
    const sentAt = Date.parse("2026-11-22T10:00:00.000Z");
    vi.setSystemTime(sentAt);
    await delivered(resetEmail(to));
    const [kept] = await mailboxFor(to);
    if (!kept) throw new Error("the email was not kept");

    vi.setSystemTime(sentAt + MAILBOX_RETENTION_MS);
    expect((await mailboxFor(to)).map((email) => email.id)).toEqual([kept.id]);
    expect((await get(`/dev/mailbox/${kept.id}`)).status).toBe(200);

    vi.setSystemTime(sentAt + MAILBOX_RETENTION_MS + 1);
    expect(await mailboxFor(to)).toEqual([]);
    expect(await env.FILES.head(`${MAILBOX_PREFIX}${kept.id}`)).toBeNull();
    expect((await problemOf(await get(`/dev/mailbox/${kept.id}`), 404)).code).toBe("not_found");
  });
});

describe("the pages", () => {
  beforeEach(() => {
    watchMailbox();
  });

  it("list the emails with a link to each, under a strict Content-Security-Policy", async () => {
    const to = newAddress("page");
    await delivered(resetEmail(to));
    const [kept] = await mailboxFor(to);
    if (!kept) throw new Error("the email was not kept");

    const res = await get(`/dev/mailbox?to=${encodeURIComponent(to)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(csp).not.toMatch(/script-src/);
    const page = await res.text();
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
    expect((await elements(page, "style")).map((style) => style.nonce)).toEqual([nonce]);
    expect(await elements(page, "script")).toEqual([]);
    expect(await elements(page, "link")).toEqual([]);
    expect((await elements(page, "a[href]")).map((link) => link.href)).toContain(`/dev/mailbox/${kept.id}`);
    expect(page).toContain(kept.subject);
    expect(page).toContain("password_reset");
  });

  it("show one email: its HTML in a sandboxed iframe, its text with clickable links", async () => {
    const to = newAddress("view");
    await delivered(resetEmail(to));
    const [kept] = await mailboxFor(to);
    if (!kept) throw new Error("the email was not kept");

    const res = await get(`/dev/mailbox/${kept.id}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toMatch(/default-src 'none'/);
    const page = await res.text();
    const [frame, ...moreFrames] = await elements(page, "iframe");
    expect(moreFrames).toEqual([]);
    // No allow-scripts, no allow-same-origin: the email runs nothing and reaches nothing of this origin.
    expect(frame?.sandbox?.split(" ").sort()).toEqual(["allow-popups", "allow-popups-to-escape-sandbox"]);
    const srcdoc = decodeAttribute(frame?.srcdoc ?? "");
    expect(srcdoc).toContain('<head><base target="_blank">');
    expect(srcdoc.replace('<base target="_blank">', "")).toBe(kept.html);

    const textLinks = (await elements(page, "pre a[href]")).map((link) => decodeAttribute(link.href ?? ""));
    expect(textLinks).toContain("https://app.example.com/reset-password?token=tok_reset_123");
    expect(await elements(page, "script")).toEqual([]);
  });

  it("escape a subject and a recipient that carry markup", async () => {
    const to = newAddress("xss");
    const title = `<script>alert("subject")</script><img src=x onerror=alert(1)>`;
    await delivered({
      template: "notification",
      to,
      data: { type: "system", title, message: "<b>bold?</b>", action_url: "https://app.example.com/x" },
    });
    // The queue's schema refuses such an address, so a recipient with markup is put in directly.
    await keepDeliveredEmail(
      { env, logger: createLogger("error") },
      {
        email_id: crypto.randomUUID(),
        template: "welcome",
        from: "Edge API Platform <no-reply@example.com>",
        to: `"<script>alert('to')</script>"@example.com`,
        subject: "Welcome",
        text: "Hi",
        html: "<p>Hi</p>",
        provider: "console",
      },
    );
    const [kept] = await mailboxFor(to);
    if (!kept) throw new Error("the email was not kept");
    expect(kept.subject).toBe(title);

    const list = await (await get("/dev/mailbox")).text();
    const view = await (await get(`/dev/mailbox/${kept.id}`)).text();
    for (const page of [list, view]) {
      expect(page).not.toMatch(/<script/i);
      expect(page).not.toMatch(/<img/i);
      expect(await elements(page, "script, img")).toEqual([]);
    }
    expect(list).toContain("&lt;script&gt;alert(&quot;subject&quot;)&lt;/script&gt;");
    expect(list).toContain("&lt;script&gt;alert(&#39;to&#39;)&lt;/script&gt;");
    expect(view).toContain("<h1>&lt;script&gt;alert(&quot;subject&quot;)&lt;/script&gt;");
  });
});

describe("rate limiting", () => {
  const poll = (path: string, vars: Record<string, string> = {}) =>
    apiWith(vars, "GET", path, { ip: "198.51.100.78" });

  it("does not count the mailbox against the per-IP budget where it is on (scripts poll it)", async () => {
    for (let i = 0; i < 70; i++) {
      const res = await poll("/dev/mailbox.json?limit=1");
      expect(res.status).toBe(200);
      expect(res.headers.get("x-ratelimit-limit")).toBeNull();
      await res.arrayBuffer();
    }
  });

  it("counts it like any path where it is off", async () => {
    const res = await poll("/dev/mailbox.json", { DEV_MAILBOX_ENABLED: "false" });
    expect(res.status).toBe(404);
    expect(res.headers.get("x-ratelimit-limit")).not.toBeNull();
  });
});

describe("odd input", () => {
  it.each([
    ["a word", "nope"],
    ["markup", "%3Cscript%3E"],
    ["a broken percent-escape", "%E0%A4%A"],
    ["a well-formed id nothing was stored under", "0000000000000-00000000-0000-0000-0000-000000000000"],
    ["a well-formed id from 1970 (long expired)", `${"9".repeat(13)}-${crypto.randomUUID()}`],
    ["5000 characters", "x".repeat(5000)],
  ])("GET /dev/mailbox/{id} with %s is a 404 problem", async (_, id) => {
    expect((await problemOf(await get(`/dev/mailbox/${id}`), 404)).code).toBe("not_found");
  });

  it.each(["limit=0", "limit=101", "limit=abc", "to=not-an-address"])(
    "?%s is a 400 problem on both listings",
    async (query) => {
      for (const path of ["/dev/mailbox.json", "/dev/mailbox"]) {
        const problem = await problemOf(await get(`${path}?${query}`), 400);
        expect(problem.code).toBe("validation_failed");
      }
    },
  );
});

describe("off", () => {
  const paths = [
    "/dev/mailbox",
    "/dev/mailbox.json",
    `/dev/mailbox/${"1".repeat(13)}-${crypto.randomUUID()}`,
  ];

  it.each([
    ["DEV_MAILBOX_ENABLED=false", { DEV_MAILBOX_ENABLED: "false" }],
    ["staging by default", { ENVIRONMENT: "staging" }],
    ["production by default", { ENVIRONMENT: "production", EMAIL_PROVIDER: "resend" }],
  ])("answers 404 with %s", async (_, vars) => {
    for (const path of paths) {
      expect((await problemOf(await get(path, vars), 404)).code).toBe("not_found");
    }
  });

  it("answers another method with 404 while off, not a 405 that would name the route's methods", async () => {
    for (const path of paths) {
      const off = await apiWith({ DEV_MAILBOX_ENABLED: "false" }, "POST", path, { ip: "198.51.100.77" });
      expect((await problemOf(off, 404)).code, path).toBe("not_found");
      expect(off.headers.get("allow"), path).toBeNull();
      const on = await apiWith({}, "POST", path, { ip: "198.51.100.77" });
      expect((await problemOf(on, 405)).code, path).toBe("method_not_allowed");
      expect(on.headers.get("allow"), path).toBe("GET, HEAD");
    }
  });

  it("keeps nothing when DEV_MAILBOX_ENABLED=false", async () => {
    watchMailbox();
    const to = newAddress("off");
    await delivered(resetEmail(to), { env: { ...env, DEV_MAILBOX_ENABLED: "false" } as Bindings });
    expect(await mailboxFor(to)).toEqual([]);
  });

  it.each([
    ["staging", {}],
    ["production", { EMAIL_PROVIDER: "resend" }],
  ])("refuses DEV_MAILBOX_ENABLED=true in %s with a ConfigError", (environment, vars) => {
    const config = { ...env, ...vars, ENVIRONMENT: environment, DEV_MAILBOX_ENABLED: "true" } as Bindings;
    expect(() => getConfig(config)).toThrow(ConfigError);
    expect(() => getConfig(config)).toThrow(
      new RegExp(`DEV_MAILBOX_ENABLED: \`true\` is refused in ${environment}`),
    );
  });

  it("is on by default in development and test, and may be turned off there", () => {
    expect(getConfig(env).DEV_MAILBOX_ENABLED).toBe(true);
    expect(getConfig({ ...env, ENVIRONMENT: "development" } as Bindings).DEV_MAILBOX_ENABLED).toBe(true);
    expect(getConfig({ ...env, DEV_MAILBOX_ENABLED: "false" } as Bindings).DEV_MAILBOX_ENABLED).toBe(false);
    expect(getConfig({ ...env, ENVIRONMENT: "staging" } as Bindings).DEV_MAILBOX_ENABLED).toBe(false);
  });
});

describe("GET /api/openapi.json", () => {
  it("documents /dev/mailbox.json under Development, with an example", async () => {
    const doc = (await (await get("/api/openapi.json")).json()) as {
      paths: Record<string, { get?: { tags: string[]; responses: Record<string, unknown> } }>;
    };
    const operation = doc.paths["/dev/mailbox.json"]?.get;
    expect(operation?.tags).toEqual(["Development"]);
    expect(JSON.stringify(operation?.responses["200"])).toContain('"example"');
    expect(Object.keys(doc.paths).filter((path) => path.startsWith("/dev/"))).toEqual(["/dev/mailbox.json"]);
  });
});
