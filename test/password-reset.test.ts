/**
 * Password reset end to end (forgot → queue → Resend at the fetch boundary → reset),
 * the no-enumeration guarantee of /password/forgot, the token rules, and a provider
 * outage that ends in the dead-letter queue while the API request still succeeded.
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Database } from "../src/db/client";
import { getDb } from "../src/db/client";
import { passwordResetTokens, users } from "../src/db/schema";
import { MAX_RETRIES } from "../src/jobs/consumer";
import { sha256Hex } from "../src/lib/crypto";
import { verifyPassword } from "../src/lib/password";
import { deliverPasswordReset, requestPasswordReset } from "../src/modules/auth/password-reset.service";
import {
  createUser,
  DEFAULT_PASSWORD,
  loginAs,
  newAddress,
  serviceContext,
  signIn,
} from "./support/factories";
import { api, as, jsonOf, problemOf } from "./support/http";
import {
  consume,
  deliver,
  EMAIL_DLQ,
  EMAIL_QUEUE,
  fakeResend,
  resendAccepted,
  tokenFromLink,
  watchMailbox,
} from "./support/mailbox";

const db = getDb(env);
const NEW_PASSWORD = "a brand new passphrase";

afterEach(() => {
  vi.restoreAllMocks();
});

const forgot = (email: string, options: { ip?: string } = {}) =>
  api("POST", "/api/v1/auth/password/forgot", { body: { email }, ...options });
const reset = (body: Record<string, unknown>) => api("POST", "/api/v1/auth/password/reset", { body });
const resetWith = (token: string, password = NEW_PASSWORD) =>
  reset({ token, password, password_confirm: password });

async function passwordHashOf(userId: string) {
  return (await db.select({ hash: users.passwordHash }).from(users).where(eq(users.id, userId)).get())?.hash;
}

/** Asks for a reset through HTTP and returns the token from the email the consumer sent. */
async function resetToken(email: string): Promise<string> {
  const mailbox = watchMailbox();
  await jsonOf(await forgot(email), 202);
  const sent = await deliver(await mailbox.next(email, "password_reset"));
  return tokenFromLink(sent.text, "/reset-password");
}

describe("password reset: forgot → queue → Resend → reset", () => {
  it("emails a single-use link through Resend; using it sets the password and signs every device out", async () => {
    const mailbox = watchMailbox();
    const { user, email } = await createUser({ firstName: "Ada" });
    const laptop = await signIn(user);
    const phone = await signIn(user);

    const accepted = await forgot(email);
    expect(await jsonOf(accepted, 202)).toEqual({
      message: "If an account exists for this address, a reset link is on its way. It works for 1 hour.",
    });
    const message = await mailbox.next(email, "password_reset");
    expect(message.data).toMatchObject({ name: "Ada", expires_in_minutes: 60 });

    const { requests } = fakeResend(resendAccepted("5b0e2f8a-7c1d-4e3f-9a2b-6c8d0e1f2a3b"));
    const outcome = await consume(message, {
      env: { ...env, EMAIL_PROVIDER: "resend", RESEND_API_KEY: "re_test_reset" },
    });
    expect(outcome.acked).toBe(true);
    const request = requests[0] as Request;
    expect(request.url).toBe("https://api.resend.com/emails");
    const sent = (await request.json()) as { to: string; subject: string; text: string; html: string };
    expect(sent).toMatchObject({ to: email, subject: "Reset your Edge API Platform password" });
    const token = tokenFromLink(sent.text, "/reset-password");
    expect(token).toMatch(/^pr_/);
    const [row] = await db.select().from(passwordResetTokens).where(eq(passwordResetTokens.userId, user.id));
    expect(row?.tokenHash).toBe(await sha256Hex(token));
    expect(row && row.expiresAt.getTime() - row.createdAt.getTime()).toBe(60 * 60 * 1000);

    const done = await resetWith(token);
    expect(done.status).toBe(204);

    // Every session is revoked: access tokens at once, refresh tokens too.
    for (const session of [laptop, phone]) {
      expect((await as(session.accessToken).get("/api/v1/users/me")).status).toBe(401);
      const refreshed = await api("POST", "/api/v1/auth/refresh", {
        body: { refresh_token: session.refreshToken },
      });
      expect(refreshed.status).toBe(401);
    }
    expect((await verifyPassword(NEW_PASSWORD, (await passwordHashOf(user.id)) ?? null)).valid).toBe(true);
    await loginAs({ email, password: NEW_PASSWORD });
    const oldPassword = await api("POST", "/api/v1/auth/login", {
      body: { email, password: DEFAULT_PASSWORD },
    });
    expect((await problemOf(oldPassword, 401)).code).toBe("invalid_credentials");

    // Single use.
    expect((await problemOf(await resetWith(token, "yet another passphrase"), 400)).code).toBe(
      "invalid_or_expired",
    );
    expect((await verifyPassword(NEW_PASSWORD, (await passwordHashOf(user.id)) ?? null)).valid).toBe(true);
  });
});

describe("POST /auth/password/forgot reveals nothing", () => {
  it("answers an unknown address exactly like a known one, and queues nothing for it", async () => {
    const mailbox = watchMailbox();
    const { email } = await createUser();
    const unknown = newAddress("nobody");
    const known = await forgot(email);
    const missing = await forgot(unknown);
    expect(missing.status).toBe(known.status);
    expect(await missing.text()).toBe(await known.text());
    // Same headers, apart from the per-request id.
    const names = (res: Response) => [...res.headers.keys()].filter((name) => name !== "x-request-id").sort();
    expect(names(missing)).toEqual(names(known));
    await mailbox.next(email, "password_reset");
    // The unknown address's deferred work found no account and sent nothing.
    const ctx = serviceContext();
    expect(
      await deliverPasswordReset(ctx, { email: unknown, token: "pr_x", tokenHash: "h", now: Date.now() }),
    ).toBe("no_account");
    expect(mailbox.for(unknown)).toHaveLength(0);
  });

  it("does the same work before answering for any address: the account lookup runs after the response", async () => {
    const { email } = await createUser();
    // A database whose every query never finishes: if the answer waited on the account lookup,
    // the token insert or the queue, these calls would never resolve.
    const hang: unknown = new Proxy(() => {}, {
      get: (_target, property) => (property === "then" ? () => {} : hang),
      apply: () => hang,
    });
    for (const address of [email, newAddress("nobody")]) {
      const deferred: Promise<unknown>[] = [];
      const ctx = {
        ...serviceContext(),
        db: hang as Database,
        waitUntil: (p: Promise<unknown>) => deferred.push(p),
      };
      await expect(requestPasswordReset(ctx, address)).resolves.toBeUndefined();
      expect(deferred).toHaveLength(1);
    }
  });

  it("sends nothing for a disabled account", async () => {
    const { email } = await createUser({ isActive: false });
    expect(
      await deliverPasswordReset(serviceContext(), {
        email,
        token: "pr_x",
        tokenHash: "h2",
        now: Date.now(),
      }),
    ).toBe("no_account");
  });

  it("is limited per address (password_forgot: 5 a minute), whatever the IP", async () => {
    const address = newAddress("flood");
    for (let i = 0; i < 5; i++) expect((await forgot(address)).status).toBe(202);
    const refused = await forgot(address);
    const problem = await problemOf(refused, 429);
    expect(problem.violated_policies).toEqual(["password_forgot"]);
    expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
  });

  it("validates the body", async () => {
    for (const [body, pointer] of [
      [{}, "/email"],
      [{ email: "not-an-email" }, "/email"],
      [{ email: "a@example.com", admin: true }, "/admin"],
    ] as const) {
      const problem = await problemOf(await api("POST", "/api/v1/auth/password/forgot", { body }), 400);
      expect(problem.errors?.map((error) => error.pointer)).toContain(pointer);
    }
  });
});

describe("POST /auth/password/reset: the token rules", () => {
  it("refuses an expired token (1 h) and leaves the password alone", async () => {
    const { user, email } = await createUser();
    const token = await resetToken(email);
    await db
      .update(passwordResetTokens)
      .set({ expiresAt: new Date(Date.now() - 1) })
      .where(eq(passwordResetTokens.tokenHash, await sha256Hex(token)));
    const before = await passwordHashOf(user.id);
    expect((await problemOf(await resetWith(token), 400)).code).toBe("invalid_or_expired");
    expect(await passwordHashOf(user.id)).toBe(before);
  });

  it("keeps the token usable when the password is refused by the policy or the confirmation differs", async () => {
    const { user, email } = await createUser();
    const { accessToken } = await signIn(user);
    const token = await resetToken(email);

    const common = await problemOf(await resetWith(token, "password123"), 400);
    expect(common.code).toBe("validation_failed");
    expect(common.errors?.map((error) => error.pointer)).toEqual(["/password"]);
    const own = await problemOf(await resetWith(token, email), 400);
    expect(own.errors?.map((error) => error.pointer)).toEqual(["/password"]);
    const mismatch = await problemOf(
      await reset({ token, password: NEW_PASSWORD, password_confirm: "something else" }),
      400,
    );
    expect(mismatch.errors?.map((error) => error.pointer)).toEqual(["/password_confirm"]);
    // Nothing happened: still signed in, token still good.
    expect((await as(accessToken).get("/api/v1/users/me")).status).toBe(200);
    expect((await resetWith(token)).status).toBe(204);
  });

  it("kills the account's other reset links once one is used", async () => {
    const { email } = await createUser();
    const first = await resetToken(email);
    const second = await resetToken(email);
    expect((await resetWith(second)).status).toBe(204);
    expect((await problemOf(await resetWith(first, "another long passphrase"), 400)).code).toBe(
      "invalid_or_expired",
    );
  });

  it("lets only one of two concurrent resets with the same token win", async () => {
    const { email } = await createUser();
    const token = await resetToken(email);
    const statuses = (await Promise.all([resetWith(token), resetWith(token, "a second passphrase")])).map(
      (res) => res.status,
    );
    expect(statuses.sort()).toEqual([204, 400]);
  });

  it("lifts the sign-in lockout and marks the address verified", async () => {
    const { user, email } = await createUser();
    const ip = "203.0.113.77";
    for (let i = 0; i < 5; i++) {
      await api("POST", "/api/v1/auth/login", { body: { email, password: "wrong password!" }, ip });
    }
    const locked = await api("POST", "/api/v1/auth/login", {
      body: { email, password: DEFAULT_PASSWORD },
      ip,
    });
    expect((await problemOf(locked, 429)).code).toBe("too_many_attempts");

    expect((await resetWith(await resetToken(email))).status).toBe(204);
    await loginAs({ email, password: NEW_PASSWORD });
    const row = await db.select().from(users).where(eq(users.id, user.id)).get();
    expect(row?.emailVerifiedAt).not.toBeNull();
  });

  it("refuses unknown tokens and malformed bodies with a clear 400", async () => {
    expect((await problemOf(await resetWith("pr_unknown"), 400)).code).toBe("invalid_or_expired");
    for (const [body, pointer] of [
      [{ password: NEW_PASSWORD, password_confirm: NEW_PASSWORD }, "/token"],
      [{ token: "pr_x", password: "short", password_confirm: "short" }, "/password"],
      [{ token: "pr_x", password: "x".repeat(600), password_confirm: "x" }, "/password"],
      [{ token: "pr_x", password: NEW_PASSWORD, password_confirm: NEW_PASSWORD, user_id: "me" }, "/user_id"],
    ] as const) {
      const problem = await problemOf(await reset(body), 400);
      expect(problem.code).toBe("validation_failed");
      expect(problem.errors?.map((error) => error.pointer)).toContain(pointer);
    }
  });
});

describe("provider outage", () => {
  it("retries the reset email with backoff, then dead-letters it; the API request had already succeeded", async () => {
    const mailbox = watchMailbox();
    const { user, email } = await createUser();
    const accepted = await forgot(email);
    expect(accepted.status).toBe(202);
    const message = await mailbox.next(email, "password_reset");

    vi.spyOn(globalThis, "fetch").mockImplementation(async () =>
      Response.json(
        { statusCode: 500, name: "internal_server_error", message: "An unexpected error occurred." },
        { status: 500 },
      ),
    );
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const resendEnv = { ...env, EMAIL_PROVIDER: "resend", RESEND_API_KEY: "re_test_outage" };
    const maxAttempts = (MAX_RETRIES[EMAIL_QUEUE] ?? 0) + 1;
    const delays: unknown[] = [];
    for (let attempts = 1; attempts <= maxAttempts; attempts++) {
      const outcome = await consume(message, { env: resendEnv, attempts });
      expect(outcome.acked).toBe(false);
      expect(outcome.retried).toBe(true);
      delays.push(...outcome.retryDelays);
    }
    expect(delays).toEqual([2, 4, 8, 16, 32, 64]);
    const lines = () =>
      errors.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);
    expect(
      lines().filter((line) => line.msg === "queue message failed on its last attempt; dead-lettering"),
    ).toEqual([expect.objectContaining({ type: "email.send", attempts: maxAttempts })]);

    // Not acked on the last attempt, the queue moves it to the DLQ, whose consumer logs it with the link masked.
    const dead = await consume(message, { queue: EMAIL_DLQ });
    expect(dead.acked).toBe(true);
    const deadLine = lines().find((line) => line.msg === "dead letter");
    expect(deadLine).toMatchObject({
      body: { email_id: message.email_id, template: "password_reset", data: "[redacted]" },
    });
    expect(JSON.stringify(lines())).not.toContain("/reset-password?token=");

    // The token stays valid (a later email or a new request still works) and nothing else changed.
    const [row] = await db.select().from(passwordResetTokens).where(eq(passwordResetTokens.userId, user.id));
    expect(row?.usedAt).toBeNull();
  });
});
