/**
 * Passwordless sign-in end to end: request → the email.send message on the real
 * local queue → the consumer → the code and link in the email → verify. Then the
 * rules: single use, 15 minutes, five checks, one live code per address, someone
 * else's code, throttling, and the MAGIC_LINK_* settings.
 */
import { env } from "cloudflare:workers";
import { desc, eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { magicCodes, newDeviceSessions, sessions, users } from "../src/db/schema";
import { type Bindings, ConfigError, getConfig } from "../src/env";
import { createServiceContext } from "../src/lib/context";
import { sha256Hex } from "../src/lib/crypto";
import { systemPrincipal } from "../src/lib/principal";
import { MAGIC_CODE_MAX_ATTEMPTS, requestMagicCode } from "../src/modules/auth/magic-code.service";
import type { UserDto } from "../src/modules/users/users.schemas";
import { type AuthTokensBody, createUser, newAddress } from "./support/factories";
import { api, apiWith, as, jsonOf, type Problem, problemOf } from "./support/http";
import { deliver, type Mailbox, tokenFromLink, watchMailbox } from "./support/mailbox";

const db = getDb(env);

// Every email stays on the queue for the test to deliver (none reaches the queue's own consumer).
beforeEach(() => {
  watchMailbox();
});

afterEach(() => {
  vi.restoreAllMocks();
});

const request = (email: string, options: { ip?: string } = {}) =>
  api("POST", "/api/v1/auth/magic/request", { body: { email }, ...options });
const verify = (body: Record<string, unknown>) => api("POST", "/api/v1/auth/magic/verify", { body });

/** Requests a code through HTTP and reads the code and link token from the email the consumer sent. */
async function emailedCode(
  mailbox: Mailbox,
  email: string,
): Promise<{ code: string; token: string; text: string }> {
  expect((await request(email)).status).toBe(202);
  const sent = await deliver(await mailbox.next(email, "magic_code"));
  const code = /^\s+(\d{8})$/m.exec(sent.text)?.[1];
  if (!code) throw new Error(`no 8-digit code in:\n${sent.text}`);
  return { code, token: tokenFromLink(sent.text, "/magic-verify"), text: sent.text };
}

async function latestCodeRow(email: string) {
  return db
    .select()
    .from(magicCodes)
    .where(eq(magicCodes.email, email))
    .orderBy(desc(magicCodes.createdAt))
    .get();
}

const invalid = async (res: Response) => {
  const problem = await problemOf(res, 400);
  expect(problem.code).toBe("invalid_or_expired");
  return problem;
};

describe("magic codes: request → queue → email → verify", () => {
  it("emails a code and a link; the code signs up a new, verified account", async () => {
    const mailbox = watchMailbox();
    const email = newAddress("newcomer");
    const accepted = await request(email);
    expect(await jsonOf(accepted, 202)).toEqual({
      message: `A sign-in code and link are on their way to ${email}.`,
      expires_in: 900,
    });

    const message = await mailbox.next(email, "magic_code");
    const sent = await deliver(message);
    expect(sent.subject).toBe("Your Edge API Platform sign-in code");
    const { code, token } = {
      code: /^\s+(\d{8})$/m.exec(sent.text)?.[1] ?? "",
      token: tokenFromLink(sent.text, "/magic-verify"),
    };
    expect(code).toMatch(/^\d{8}$/);
    // The code stays out of the subject (lock screens); the link goes to MAGIC_LINK_VERIFY_URL.
    expect(sent.subject).not.toContain(code);
    expect(sent.text).toContain(`http://localhost:5173/magic-verify?token=${token}`);
    expect(sent.text).toContain("expire in 15 minutes");

    // Both hashed at rest.
    const row = await latestCodeRow(email);
    expect(row?.tokenHash).toBe(await sha256Hex(token));
    expect(row?.codeHash).toBe(await sha256Hex(`${row?.id}:${code}`));
    expect(JSON.stringify(row)).not.toContain(code);
    expect(row && row.expiresAt.getTime() - row.createdAt.getTime()).toBe(15 * 60 * 1000);

    const signedUp = await jsonOf<AuthTokensBody>(await verify({ email, code }), 200);
    expect(signedUp).toMatchObject({ token_type: "Bearer", user: { email, email_verified: true } });
    const me = await jsonOf<UserDto>(await as(signedUp.access_token).get("/api/v1/users/me"), 200);
    expect(me.id).toBe(signedUp.user.id);
    // A new account verified from the start gets the welcome email, not a verification link.
    await mailbox.next(email, "welcome");
    expect(mailbox.for(email, "verify_email")).toHaveLength(0);

    // The code and the link of that request are both spent.
    await invalid(await verify({ email, code }));
    await invalid(await verify({ token }));
  });

  it("the link signs in to the existing account (and marks an unverified address verified)", async () => {
    const mailbox = watchMailbox();
    const { user, email } = await createUser();
    const { token } = await emailedCode(mailbox, email);
    const signedIn = await jsonOf<AuthTokensBody>(await verify({ token }), 200);
    expect(signedIn.user).toMatchObject({ id: user.id, email_verified: true });
    expect(await db.select().from(sessions).where(eq(sessions.userId, user.id)).all()).toHaveLength(1);
    expect(mailbox.for(email, "welcome")).toHaveLength(0);
  });

  it("answers 403 account_disabled for a disabled account", async () => {
    const mailbox = watchMailbox();
    const { email } = await createUser({ isActive: false });
    const { code } = await emailedCode(mailbox, email);
    expect((await problemOf(await verify({ email, code }), 403)).code).toBe("account_disabled");
  });
});

describe("magic codes: what cannot be used", () => {
  it("dies after five wrong codes, even for the right one afterwards", async () => {
    const mailbox = watchMailbox();
    const email = newAddress("guesser");
    const { code, token } = await emailedCode(mailbox, email);
    const wrong = String((Number(code) + 1) % 100_000_000).padStart(8, "0");
    for (let i = 0; i < MAGIC_CODE_MAX_ATTEMPTS; i++) await invalid(await verify({ email, code: wrong }));
    expect((await latestCodeRow(email))?.attempts).toBe(MAGIC_CODE_MAX_ATTEMPTS);
    await invalid(await verify({ email, code }));
    await invalid(await verify({ token }));
    expect(await db.select().from(users).where(eq(users.email, email)).get()).toBeUndefined();
  });

  it("still accepts the right code on the fifth check", async () => {
    const mailbox = watchMailbox();
    const email = newAddress("fifth");
    const { code } = await emailedCode(mailbox, email);
    const wrong = code === "00000000" ? "11111111" : "00000000";
    for (let i = 0; i < MAGIC_CODE_MAX_ATTEMPTS - 1; i++) await invalid(await verify({ email, code: wrong }));
    await jsonOf(await verify({ email, code }), 200);
  });

  it("parallel guesses get no more than five comparisons", async () => {
    const mailbox = watchMailbox();
    const email = newAddress("burst");
    const { code } = await emailedCode(mailbox, email);
    const guesses = Array.from({ length: 12 }, (_, i) =>
      String((Number(code) + i + 1) % 100_000_000).padStart(8, "0"),
    );
    const answers = await Promise.all(guesses.map((guess) => verify({ email, code: guess })));
    expect(answers.every((res) => res.status === 400)).toBe(true);
    expect((await latestCodeRow(email))?.attempts).toBe(MAGIC_CODE_MAX_ATTEMPTS);
  });

  it("refuses an expired code and link (15 minutes) and creates nothing", async () => {
    const mailbox = watchMailbox();
    const email = newAddress("late");
    const { code, token } = await emailedCode(mailbox, email);
    await db
      .update(magicCodes)
      .set({ expiresAt: new Date(Date.now() - 1) })
      .where(eq(magicCodes.email, email));
    await invalid(await verify({ email, code }));
    await invalid(await verify({ token }));
    expect(await db.select().from(users).where(eq(users.email, email)).get()).toBeUndefined();
  });

  it("a new request retires the previous code and link", async () => {
    const mailbox = watchMailbox();
    const email = newAddress("twice");
    const first = await emailedCode(mailbox, email);
    const second = await emailedCode(mailbox, email);
    // Codes are random: the same 8 digits twice (1 in 10^8) would be the live code, not the retired one.
    if (second.code !== first.code) await invalid(await verify({ email, code: first.code }));
    await invalid(await verify({ token: first.token }));
    await jsonOf(await verify({ email, code: second.code }), 200);
  });

  it("someone else's code does not open my account, and theirs keeps working", async () => {
    const mailbox = watchMailbox();
    const mine = newAddress("mine");
    const theirs = newAddress("theirs");
    const myCode = await emailedCode(mailbox, mine);
    const theirCode = await emailedCode(mailbox, theirs);
    if (theirCode.code !== myCode.code) await invalid(await verify({ email: mine, code: theirCode.code }));
    expect(await db.select().from(users).where(eq(users.email, mine)).get()).toBeUndefined();
    expect((await latestCodeRow(theirs))?.attempts).toBe(0);
    const signedIn = await jsonOf<AuthTokensBody>(await verify({ email: theirs, code: theirCode.code }), 200);
    expect(signedIn.user.email).toBe(theirs);
    await jsonOf(await verify({ email: mine, code: myCode.code }), 200);
  });

  it("refuses unknown tokens and malformed bodies, naming the field", async () => {
    await invalid(await verify({ token: "ml_unknown" }));
    await invalid(await verify({ email: newAddress("nobody"), code: "12345678" }));
    const cases: Array<[Record<string, unknown>, string]> = [
      [{}, "/email"],
      [{ email: "a@example.com" }, "/code"],
      [{ code: "12345678" }, "/email"],
      [{ email: "a@example.com", code: "1234" }, "/code"],
      [{ email: "a@example.com", code: "abcdefgh" }, "/code"],
      [{ email: "a@example.com", code: "12345678", token: "ml_x" }, "/token"],
      [{ token: "" }, "/token"],
      [{ token: "x".repeat(600) }, "/token"],
      [{ email: "not-an-email", code: "12345678" }, "/email"],
      [{ token: "ml_x", remember_me: true }, "/remember_me"],
    ];
    for (const [body, pointer] of cases) {
      const problem: Problem = await problemOf(await verify(body), 400);
      expect(problem.code, JSON.stringify(body)).toBe("validation_failed");
      expect(
        problem.errors?.map((error) => error.pointer),
        JSON.stringify(body),
      ).toContain(pointer);
    }
  });
});

describe("POST /auth/magic/request: throttling and validation", () => {
  it("allows 5 a minute per address, from any IP", async () => {
    const email = newAddress("flood");
    for (let i = 0; i < 5; i++) expect((await request(email)).status).toBe(202);
    const refused = await request(email);
    expect((await problemOf(refused, 429)).violated_policies).toEqual(["magic_request"]);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("allows 5 a minute per IP, whatever the address", async () => {
    const ip = "203.0.113.200";
    for (let i = 0; i < 5; i++) expect((await request(newAddress("ip"), { ip })).status).toBe(202);
    const refused = await request(newAddress("ip"), { ip });
    expect((await problemOf(refused, 429)).violated_policies).toEqual(["magic_request"]);
  });

  it("counts an address in any letter case as one", async () => {
    const email = newAddress("case");
    for (let i = 0; i < 5; i++) expect((await request(i % 2 ? email.toUpperCase() : email)).status).toBe(202);
    expect((await request(` ${email.toUpperCase()} `)).status).toBe(429);
  });

  it("validates the body", async () => {
    for (const body of [{}, { email: "nope" }, { email: "a@example.com", code: "1" }]) {
      const problem = await problemOf(await api("POST", "/api/v1/auth/magic/request", { body }), 400);
      expect(problem.code).toBe("validation_failed");
    }
  });
});

describe("MAGIC_LINK_* settings", () => {
  /** A request through the whole Worker with other variables. */
  const callWith = (vars: Record<string, string>, email: string) =>
    apiWith(vars, "POST", "/api/v1/auth/magic/request", { body: { email }, ip: "198.51.100.60" });

  it("echoes the emailed code as debug_token when MAGIC_LINK_DEBUG_ECHO_TOKEN=true (outside production)", async () => {
    const mailbox = watchMailbox();
    const email = newAddress("debug");
    const body = await jsonOf<{ debug_token?: string }>(
      await callWith({ MAGIC_LINK_DEBUG_ECHO_TOKEN: "true" }, email),
      202,
    );
    const sent = await deliver(await mailbox.next(email, "magic_code"));
    expect(body.debug_token).toMatch(/^\d{8}$/);
    expect(sent.text).toContain(body.debug_token);
  });

  it("never echoes it by default", async () => {
    const body = await jsonOf<Record<string, unknown>>(await request(newAddress("quiet")), 202);
    expect(body).not.toHaveProperty("debug_token");
  });

  it("refuses MAGIC_LINK_DEBUG_ECHO_TOKEN=true in production", () => {
    const production = {
      ...env,
      ENVIRONMENT: "production",
      EMAIL_PROVIDER: "resend",
      MAGIC_LINK_DEBUG_ECHO_TOKEN: "true",
    } as Bindings;
    expect(() => getConfig(production)).toThrow(
      /MAGIC_LINK_DEBUG_ECHO_TOKEN: `true` is refused in production/,
    );
  });

  it("requires MAGIC_LINK_VERIFY_URL outside tests: 500 configuration_error naming it, nothing stored or sent", async () => {
    const mailbox = watchMailbox();
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const email = newAddress("unconfigured");
    const res = await callWith({ ENVIRONMENT: "development", MAGIC_LINK_VERIFY_URL: "" }, email);
    expect((await problemOf(res, 500)).code).toBe("configuration_error");
    const logged = errors.mock.calls.map(([line]) => JSON.parse(String(line)) as { issues?: string[] });
    expect(
      logged.some((line) =>
        line.issues?.some((issue) => issue.startsWith("MAGIC_LINK_VERIFY_URL: required")),
      ),
    ).toBe(true);
    expect(await latestCodeRow(email)).toBeUndefined();
    expect(mailbox.queued).toHaveLength(0);

    // The service says the same to any caller (a job, a script).
    const ctx = createServiceContext({
      env: { ...env, ENVIRONMENT: "staging", MAGIC_LINK_VERIFY_URL: "" } as Bindings,
      principal: systemPrincipal("test"),
      requestId: "req-magic-config",
    });
    await expect(requestMagicCode(ctx, email)).rejects.toBeInstanceOf(ConfigError);
  });

  it("builds the link on MAGIC_LINK_VERIFY_URL, keeping its own query", async () => {
    const mailbox = watchMailbox();
    const email = newAddress("link");
    await jsonOf(
      await callWith({ MAGIC_LINK_VERIFY_URL: "https://app.example.com/auth/magic-verify?lang=en" }, email),
      202,
    );
    const message = await mailbox.next(email, "magic_code");
    const url = new URL(String((message.data as { magic_url: string }).magic_url));
    expect(`${url.origin}${url.pathname}`).toBe("https://app.example.com/auth/magic-verify");
    expect(url.searchParams.get("lang")).toBe("en");
    expect(url.searchParams.get("token")).toMatch(/^ml_/);
  });
});

describe("magic sign-in and new-device alerts", () => {
  it("a magic sign-in from a new device is alerted like a password sign-in", async () => {
    const mailbox = watchMailbox();
    const { user, email } = await createUser();
    await db.update(users).set({ emailVerifiedAt: new Date() }).where(eq(users.id, user.id));
    // First sign-in sets the baseline, the second from another browser is new.
    for (const userAgent of [
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    ]) {
      const { code } = await emailedCode(mailbox, email);
      await jsonOf(
        await api("POST", "/api/v1/auth/magic/verify", {
          body: { email, code },
          headers: { "user-agent": userAgent },
        }),
        200,
      );
    }
    const alerts = mailbox.for(email, "new_device");
    expect(alerts).toHaveLength(1);
    expect(alerts[0]?.data).toMatchObject({ device: "Firefox on Windows" });
    expect(
      await db.select().from(newDeviceSessions).where(eq(newDeviceSessions.userId, user.id)).all(),
    ).toHaveLength(1);
  });
});
