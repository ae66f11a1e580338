/**
 * Email verification end to end: the request, the email.send message on the real
 * local EMAIL_QUEUE, the consumer driven on it, the email the provider "sent"
 * (console line, and once the Resend call at the fetch boundary), and the token
 * in it used. Plus the resend cooldown, the reusable guard, and the cron clean-up.
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { emailVerificationTokens, magicCodes, passwordResetTokens, users } from "../src/db/schema";
import { createRouter } from "../src/lib/create-router";
import { sha256Hex } from "../src/lib/crypto";
import { authenticate } from "../src/middleware/authenticate";
import { handleError } from "../src/middleware/error-handler";
import { requestContext } from "../src/middleware/request-context";
import { requireVerifiedEmail } from "../src/middleware/require";
import { VERIFICATION_RESEND_COOLDOWN_MS } from "../src/modules/auth/email-verification.service";
import type { UserDto } from "../src/modules/users/users.schemas";
import { runCron } from "./support/background";
import {
  type AuthTokensBody,
  createUser,
  DEFAULT_PASSWORD,
  loginAs,
  newAddress,
  signIn,
  type TestUser,
  type Tokens,
} from "./support/factories";
import { api, as, jsonOf, problemOf } from "./support/http";
import { consume, deliver, fakeResend, resendAccepted, tokenFromLink, watchMailbox } from "./support/mailbox";
import { securitySuite } from "./support/security";

const db = getDb(env);

afterEach(() => {
  vi.restoreAllMocks();
});

const verify = (token: unknown) => api("POST", "/api/v1/auth/email/verify", { body: { token } });

async function tokenRows(userId: string) {
  return db.select().from(emailVerificationTokens).where(eq(emailVerificationTokens.userId, userId)).all();
}

async function userRow(userId: string) {
  const row = await db.select().from(users).where(eq(users.id, userId)).get();
  if (!row) throw new Error("user vanished");
  return row;
}

/** Moves every verification token of the user `ms` into the past (no waiting for the cooldown). */
async function ageTokens(userId: string, ms: number) {
  for (const row of await tokenRows(userId)) {
    await db
      .update(emailVerificationTokens)
      .set({ createdAt: new Date(row.createdAt.getTime() - ms) })
      .where(eq(emailVerificationTokens.id, row.id));
  }
}

describe("email verification: registration → queue → email → verify", () => {
  it("queues a verification email at sign-up whose link verifies the address, then the welcome email", async () => {
    const mailbox = watchMailbox();
    const address = newAddress("ada");
    const registered = await jsonOf<AuthTokensBody>(
      await api("POST", "/api/v1/auth/register", {
        body: {
          email: address,
          password: DEFAULT_PASSWORD,
          password_confirm: DEFAULT_PASSWORD,
          first_name: "Ada",
        },
      }),
      201,
    );
    expect(registered.user.email_verified).toBe(false);

    // The message on the queue, then the email the consumer sent through the provider.
    const message = await mailbox.next(address, "verify_email");
    expect(message).toMatchObject({
      type: "email.send",
      template: "verify_email",
      to: address,
      data: { name: "Ada", expires_in_minutes: 24 * 60 },
    });
    const email = await deliver(message);
    expect(email).toMatchObject({ to: address, subject: "Confirm your email for Edge API Platform" });
    expect(email.text).toContain("This link expires in 24 hours.");
    const token = tokenFromLink(email.text, "/verify-email");
    expect(token).toMatch(/^ev_[A-Za-z0-9_-]{43}$/);
    expect(email.html).toContain(`/verify-email?token=${token}`);

    // Stored hashed: the row holds the SHA-256, never the token.
    const [row] = await tokenRows(registered.user.id);
    expect(row?.tokenHash).toBe(await sha256Hex(token));
    expect(JSON.stringify(row)).not.toContain(token);
    expect(row && row.expiresAt.getTime() - row.createdAt.getTime()).toBe(24 * 60 * 60 * 1000);

    // Unverified accounts can sign in.
    const signedIn = await loginAs({ email: address, password: DEFAULT_PASSWORD });
    expect(signedIn.user.email_verified).toBe(false);

    const verified = await jsonOf<Record<string, unknown>>(await verify(token), 200);
    expect(verified).toEqual({
      user_id: registered.user.id,
      email: address,
      email_verified: true,
      email_verified_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    });
    const me = await jsonOf<UserDto>(await as(signedIn.access_token).get("/api/v1/users/me"), 200);
    expect(me.email_verified).toBe(true);

    const welcome = await deliver(await mailbox.next(address, "welcome"));
    expect(welcome).toMatchObject({ to: address, subject: "Welcome to Edge API Platform" });
    expect(welcome.text).toContain("Hi Ada,");

    // Single use: the same link again is refused and sends nothing more.
    const reused = await problemOf(await verify(token), 400);
    expect(reused.code).toBe("invalid_or_expired");
    expect(mailbox.for(address, "welcome")).toHaveLength(1);
  });

  it("sends through Resend with the body Resend's API expects, and that email's link verifies", async () => {
    const mailbox = watchMailbox();
    const { user } = await createUser({ firstName: "Grace" });
    const tokens = await signIn(user);
    await jsonOf(await as(tokens.accessToken).post("/api/v1/auth/email/resend"), 202);
    const message = await mailbox.next(user.email, "verify_email");

    const { requests } = fakeResend(resendAccepted("49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"));
    const outcome = await consume(message, {
      env: { ...env, EMAIL_PROVIDER: "resend", RESEND_API_KEY: "re_test_4f9a1c2b3d" },
    });
    expect(outcome.acked).toBe(true);
    expect(requests).toHaveLength(1);
    const request = requests[0] as Request;
    expect(request.method).toBe("POST");
    expect(request.url).toBe("https://api.resend.com/emails");
    expect(request.headers.get("authorization")).toBe("Bearer re_test_4f9a1c2b3d");
    expect(request.headers.get("idempotency-key")).toBe(`email-send/${message.email_id}`);
    const sent = (await request.json()) as {
      from: string;
      to: string;
      subject: string;
      text: string;
      html: string;
    };
    expect(Object.keys(sent).sort()).toEqual(["from", "headers", "html", "subject", "tags", "text", "to"]);
    expect(sent).toMatchObject({
      from: "Edge API Platform <no-reply@example.com>",
      to: user.email,
      subject: "Confirm your email for Edge API Platform",
      tags: [
        { name: "template", value: "verify_email" },
        { name: "email_id", value: message.email_id },
      ],
    });
    const token = tokenFromLink(sent.text, "/verify-email");
    expect(sent.html).toContain(`href="http://localhost:8787/verify-email?token=${token}"`);

    await jsonOf(await verify(token), 200);
    expect((await userRow(user.id)).emailVerifiedAt).not.toBeNull();
  });
});

describe("email verification: tokens that cannot be used", () => {
  let account: TestUser;
  let tokens: Tokens;
  beforeAll(async () => {
    account = await createUser();
    tokens = await signIn(account.user);
  });

  /** A fresh link for the account, read from the email the consumer sent. */
  async function freshLink(): Promise<string> {
    const mailbox = watchMailbox();
    await ageTokens(account.user.id, VERIFICATION_RESEND_COOLDOWN_MS);
    await jsonOf(await as(tokens.accessToken).post("/api/v1/auth/email/resend"), 202);
    const email = await deliver(await mailbox.next(account.email, "verify_email"));
    vi.restoreAllMocks();
    return tokenFromLink(email.text, "/verify-email");
  }

  it("refuses an expired token and changes nothing", async () => {
    const token = await freshLink();
    await db
      .update(emailVerificationTokens)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(emailVerificationTokens.tokenHash, await sha256Hex(token)));
    expect((await problemOf(await verify(token), 400)).code).toBe("invalid_or_expired");
    expect((await userRow(account.user.id)).emailVerifiedAt).toBeNull();
    const [row] = (await tokenRows(account.user.id)).filter((r) => r.expiresAt.getTime() < Date.now());
    expect(row?.usedAt).toBeNull();
  });

  it("refuses unknown and forged tokens the same way", async () => {
    for (const token of ["ev_not-a-real-token", "x", "ev_".padEnd(46, "A")]) {
      const problem = await problemOf(await verify(token), 400);
      expect(problem.code).toBe("invalid_or_expired");
      expect(problem.detail).toBe(
        "The verification link is not valid: it is unknown, expired or already used.",
      );
    }
  });

  it("refuses a token sent to an address the account no longer has", async () => {
    const token = await freshLink();
    const changed = newAddress("changed");
    await db.update(users).set({ email: changed }).where(eq(users.id, account.user.id));
    try {
      expect((await problemOf(await verify(token), 400)).code).toBe("invalid_or_expired");
      expect((await userRow(account.user.id)).emailVerifiedAt).toBeNull();
    } finally {
      await db.update(users).set({ email: account.email }).where(eq(users.id, account.user.id));
    }
  });

  it("names the field for a missing, empty, oversized or extra body field", async () => {
    const cases: Array<[unknown, string]> = [
      [{}, "/token"],
      [{ token: "" }, "/token"],
      [{ token: "x".repeat(513) }, "/token"],
      [{ token: 42 }, "/token"],
      [{ token: "ev_abc", user_id: account.user.id }, "/user_id"],
    ];
    for (const [body, pointer] of cases) {
      const problem = await problemOf(await api("POST", "/api/v1/auth/email/verify", { body }), 400);
      expect(problem.code, JSON.stringify(body)).toBe("validation_failed");
      expect(problem.errors?.map((error) => error.pointer)).toContain(pointer);
    }
    expect(
      (
        await problemOf(
          await api("POST", "/api/v1/auth/email/verify", {
            rawBody: "{",
            headers: { "content-type": "application/json" },
          }),
          400,
        )
      ).code,
    ).toBe("malformed_json");
  });

  it("a link verifies the account it was sent to, never the caller's: someone else's link leaves my account unverified", async () => {
    const someoneElse = await createUser();
    const theirTokens = await signIn(someoneElse.user);
    const mailbox = watchMailbox();
    await jsonOf(await as(theirTokens.accessToken).post("/api/v1/auth/email/resend"), 202);
    const theirLink = tokenFromLink(
      (await deliver(await mailbox.next(someoneElse.email, "verify_email"))).text,
      "/verify-email",
    );
    // Sent with my access token, their link verifies them (it proves their mailbox), not me.
    const res = await api("POST", "/api/v1/auth/email/verify", {
      body: { token: theirLink },
      token: tokens.accessToken,
    });
    expect((await jsonOf<{ user_id: string }>(res, 200)).user_id).toBe(someoneElse.user.id);
    expect((await userRow(account.user.id)).emailVerifiedAt).toBeNull();
    expect((await tokenRows(account.user.id)).some((row) => row.usedAt !== null)).toBe(false);
  });

  it("verifying with one link spends every other pending link of the account", async () => {
    const first = await freshLink();
    const second = await freshLink();
    await jsonOf(await verify(first), 200);
    expect((await problemOf(await verify(second), 400)).code).toBe("invalid_or_expired");
    expect((await tokenRows(account.user.id)).every((row) => row.usedAt !== null)).toBe(true);
  });
});

describe("POST /auth/email/resend", () => {
  it("queues a new link, then refuses another within a minute (429 with Retry-After), and allows it after", async () => {
    const mailbox = watchMailbox();
    const { user } = await createUser();
    const me = as((await signIn(user)).accessToken);

    const first = await me.post("/api/v1/auth/email/resend");
    expect(await jsonOf(first, 202)).toEqual({
      message: "A new verification email is on its way.",
      expires_in: 86400,
    });
    expect(first.headers.get("ratelimit-policy")).toContain('"email_resend";q=5;w=60');
    expect(mailbox.for(user.email, "verify_email")).toHaveLength(1);

    const tooSoon = await me.post("/api/v1/auth/email/resend");
    const problem = await problemOf(tooSoon, 429);
    expect(problem.code).toBe("email_resend_too_soon");
    const retryAfter = Number(tooSoon.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(mailbox.for(user.email, "verify_email")).toHaveLength(1);
    expect(await tokenRows(user.id)).toHaveLength(1);

    await ageTokens(user.id, VERIFICATION_RESEND_COOLDOWN_MS + 1000);
    await jsonOf(await me.post("/api/v1/auth/email/resend"), 202);
    expect(mailbox.for(user.email, "verify_email")).toHaveLength(2);
  });

  it("lets only one of two concurrent resends through (the cooldown is one D1 statement)", async () => {
    const mailbox = watchMailbox();
    const { user } = await createUser();
    const me = as((await signIn(user)).accessToken);
    const statuses = (
      await Promise.all([me.post("/api/v1/auth/email/resend"), me.post("/api/v1/auth/email/resend")])
    ).map((res) => res.status);
    expect(statuses.sort()).toEqual([202, 429]);
    expect(await tokenRows(user.id)).toHaveLength(1);
    expect(mailbox.for(user.email, "verify_email")).toHaveLength(1);
  });

  it("still emails an account whose profile name the templates would refuse (too long, control characters)", async () => {
    const mailbox = watchMailbox();
    const { user } = await createUser({ firstName: `Ada\u0007${"x".repeat(96)}` });
    await jsonOf(await as((await signIn(user)).accessToken).post("/api/v1/auth/email/resend"), 202);
    const message = await mailbox.next(user.email, "verify_email");
    const name = (message.data as { name?: string }).name ?? "";
    expect(name.startsWith("Ada x")).toBe(true);
    expect(name.length).toBeLessThanOrEqual(80);
    expect((await deliver(message)).text).toContain(`Hi ${name},`);
  });

  it("answers 409 when the address is already verified, and queues nothing", async () => {
    const mailbox = watchMailbox();
    const { user } = await createUser({ emailVerifiedAt: new Date() });
    const problem = await problemOf(
      await as((await signIn(user)).accessToken).post("/api/v1/auth/email/resend"),
      409,
    );
    expect(problem.code).toBe("email_already_verified");
    expect(mailbox.queued).toHaveLength(0);
  });
});

securitySuite("POST /api/v1/auth/email/resend", { method: "POST", path: "/api/v1/auth/email/resend" });

describe("requireVerifiedEmail()", () => {
  // A stand-in route: the guard is what is under test, through the real authentication.
  const app = createRouter();
  app.use(requestContext());
  app.use(authenticate());
  app.get("/needs-verified", requireVerifiedEmail(), (c) => c.json({ ok: true }));
  app.onError(handleError);
  const call = (headers: Record<string, string> = {}) => app.request("/needs-verified", { headers }, env);

  it("answers 403 email_not_verified to an unverified account, and lets it through once verified", async () => {
    const { user } = await createUser();
    const { accessToken } = await signIn(user);
    const refused = await problemOf(await call({ authorization: `Bearer ${accessToken}` }), 403);
    expect(refused.code).toBe("email_not_verified");
    await db.update(users).set({ emailVerifiedAt: new Date() }).where(eq(users.id, user.id));
    expect(await jsonOf(await call({ authorization: `Bearer ${accessToken}` }), 200)).toEqual({ ok: true });
  });

  it("answers 401 without credentials", async () => {
    expect((await problemOf(await call(), 401)).code).toBe("unauthorized");
  });
});

describe("cron: expired tokens are deleted", () => {
  it("deletes expired verification, reset and magic tokens and keeps live ones", async () => {
    const { user } = await createUser();
    const now = Date.now();
    const past = new Date(now - 1000);
    const future = new Date(now + 60 * 60 * 1000);
    const row = (tag: string, expiresAt: Date) => ({ tokenHash: `${tag}-${crypto.randomUUID()}`, expiresAt });
    await db.insert(emailVerificationTokens).values([
      { userId: user.id, email: user.email, ...row("ev-old", past) },
      { userId: user.id, email: user.email, ...row("ev-live", future) },
    ]);
    await db.insert(passwordResetTokens).values([
      { userId: user.id, ...row("pr-old", past), usedAt: past },
      { userId: user.id, ...row("pr-live", future) },
    ]);
    await db.insert(magicCodes).values([
      { email: user.email, codeHash: "x", ...row("ml-old", past) },
      { email: user.email, codeHash: "y", ...row("ml-live", future) },
    ]);

    // The job is hourly: run the cron at the top of an hour after "now".
    const topOfHour = Math.ceil((now + 1) / 3_600_000) * 3_600_000;
    const outcomes = await runCron(topOfHour);
    const outcome = outcomes.find((entry) => entry.job === "auth.purge_expired_tokens");
    expect(outcome?.ok).toBe(true);

    const left = async (
      table: typeof emailVerificationTokens | typeof passwordResetTokens | typeof magicCodes,
    ) =>
      (await db.select({ hash: table.tokenHash }).from(table).all()).map((r) =>
        r.hash.split("-").slice(0, 2).join("-"),
      );
    // Everything expired before the run is gone (including rows from other tests); the live rows stay.
    for (const table of [emailVerificationTokens, passwordResetTokens, magicCodes]) {
      const rows = await db.select().from(table).all();
      expect(rows.every((r) => r.expiresAt.getTime() >= topOfHour)).toBe(true);
    }
    expect(await left(emailVerificationTokens)).toContain("ev-live");
    expect(await left(passwordResetTokens)).toContain("pr-live");
    expect(await left(magicCodes)).toContain("ml-live");
  });
});
