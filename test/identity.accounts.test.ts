/**
 * Accounts over time: who may hold one before proving the address, how the address
 * changes hands, and how long a session may last.
 *
 * - Strict verification (AUTH_EMAIL_VERIFICATION=required): registration says the same
 *   thing for a new and an existing address (no enumeration, no tokens), the owner of an
 *   existing account is told by email, and an unverified account cannot use its password.
 * - Changing the address: re-authenticated, confirmed from the new mailbox, noticed at the
 *   old one, and a claim kills a change an attacker left pending.
 * - SESSION_MAX_AGE: refresh rotation cannot keep a session alive past 90 days.
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { users } from "../src/db/schema";
import type { UserDto } from "../src/modules/users/users.schemas";
import { type AuthTokensBody, createUser, newAddress, signIn } from "./support/factories";
import { api, apiWith, as, jsonOf, problemOf } from "./support/http";
import { mailboxPerTest, tokenOfUrl } from "./support/mailbox";

vi.setConfig({ testTimeout: 30_000 });

const db = getDb(env);
const mailbox = mailboxPerTest();
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** A request to the Worker with AUTH_EMAIL_VERIFICATION=required, waiting for its after-response work. */
const strict = (method: string, path: string, body: unknown) =>
  apiWith({ AUTH_EMAIL_VERIFICATION: "required" }, method, path, { body });

const registration = (email: string, password = "a strict new passphrase") => ({
  email,
  password,
  password_confirm: password,
});

describe("strict verification: registration tells nobody whether an address has an account", () => {
  it("answers a new address 202 verification_sent, with no tokens, and sends the verification email", async () => {
    const email = newAddress("strict-new");
    const res = await strict("POST", "/api/v1/auth/register", registration(email));
    expect(await jsonOf(res, 202)).toEqual({ status: "verification_sent" });
    expect(res.headers.get("location")).toBeNull();
    const sent = await mailbox.next(email, "verify_email");
    expect(sent.data.disown_url).toBeDefined();
    const row = await db.select().from(users).where(eq(users.email, email)).get();
    expect(row?.emailVerifiedAt).toBeNull();
  });

  it("answers an existing address exactly the same, emails its owner account_exists, and changes nothing", async () => {
    const owner = await createUser({ email: newAddress("strict-owner"), emailVerifiedAt: new Date() });
    const before = await db.select().from(users).where(eq(users.id, owner.user.id)).get();
    const fresh = newAddress("strict-compare");
    const [existing, brandNew] = [
      await strict("POST", "/api/v1/auth/register", registration(owner.email, "an intruder's passphrase")),
      await strict("POST", "/api/v1/auth/register", registration(fresh)),
    ];
    expect(existing.status).toBe(brandNew.status);
    expect(await existing.text()).toBe(await brandNew.text());
    expect(existing.headers.get("content-type")).toBe(brandNew.headers.get("content-type"));

    const told = await mailbox.next(owner.email, "account_exists");
    expect(told.data.reset_url).toMatch(/\/forgot-password$/);
    expect(mailbox.for(owner.email, "verify_email")).toHaveLength(0);
    expect(await db.select().from(users).where(eq(users.id, owner.user.id)).get()).toEqual(before);
    // The owner's password still works; the intruder's never did.
    const intruder = await api("POST", "/api/v1/auth/login", {
      body: { email: owner.email, password: "an intruder's passphrase" },
    });
    expect(intruder.status).toBe(401);
  });

  it("emails the owner of an existing UNVERIFIED account account_exists too, never a verification link for someone else's registration", async () => {
    const email = newAddress("strict-pending");
    await strict("POST", "/api/v1/auth/register", registration(email, "the first registrant's phrase"));
    await mailbox.next(email, "verify_email");
    const again = await strict(
      "POST",
      "/api/v1/auth/register",
      registration(email, "a second registrant's phrase"),
    );
    expect(await jsonOf(again, 202)).toEqual({ status: "verification_sent" });
    await mailbox.next(email, "account_exists");
    expect(mailbox.for(email, "verify_email")).toHaveLength(1);
  });

  it("refuses password sign-in of an unverified account with 403 email_not_verified, then lets it in once verified", async () => {
    const email = newAddress("strict-login");
    const password = "a strict new passphrase";
    await strict("POST", "/api/v1/auth/register", registration(email, password));
    const login = () => strict("POST", "/api/v1/auth/login", { email, password });
    expect((await problemOf(await login(), 403)).code).toBe("email_not_verified");
    // A wrong password says nothing about verification.
    const wrong = await strict("POST", "/api/v1/auth/login", { email, password: "wrong wrong wrong" });
    expect((await problemOf(wrong, 401)).code).toBe("invalid_credentials");

    const token = tokenOfUrl((await mailbox.next(email, "verify_email")).data.verify_url);
    await jsonOf(await strict("POST", "/api/v1/auth/email/verify", { token }), 200);
    const signedIn = await jsonOf<AuthTokensBody>(await login(), 200);
    expect(signedIn.user.email_verified).toBe(true);
  });

  it("still signs up by magic code (the code is the proof)", async () => {
    const email = newAddress("strict-magic");
    await strict("POST", "/api/v1/auth/magic/request", { email });
    const code = (await mailbox.next(email, "magic_code")).data.code;
    const signedIn = await jsonOf<AuthTokensBody>(
      await strict("POST", "/api/v1/auth/magic/verify", { email, code }),
      200,
    );
    expect(signedIn.user.email_verified).toBe(true);
  });

  it("keeps optional mode's answers by default: 201 with tokens, 409 email_taken", async () => {
    const email = newAddress("optional");
    expect((await api("POST", "/api/v1/auth/register", { body: registration(email) })).status).toBe(201);
    const taken = await api("POST", "/api/v1/auth/register", { body: registration(email) });
    expect((await problemOf(taken, 409)).code).toBe("email_taken");
  });
});

describe("changing the email address", () => {
  it("sends a link to the new address and a notice to the old; the address changes only when the link is used", async () => {
    const account = await createUser({ email: newAddress("mover"), emailVerifiedAt: new Date() });
    const me = as((await signIn(account.user)).accessToken);
    const target = newAddress("moved");
    const accepted = await jsonOf<{ status: string; expires_in: number }>(
      await me.post("/api/v1/users/me/email", { body: { email: target } }),
      202,
    );
    expect(accepted).toEqual({ status: "confirmation_sent", expires_in: 86_400 });
    const notice = await mailbox.next(account.email, "email_change_notice");
    expect(notice.data.new_email_hint).toBe(`${target[0]}***@example.com`);
    const confirm = await mailbox.next(target, "email_change_confirm");
    expect((await jsonOf<UserDto>(await me.get("/api/v1/users/me"), 200)).email).toBe(account.email);

    const token = tokenOfUrl(confirm.data.confirm_url);
    const changed = await jsonOf<UserDto>(
      await api("POST", "/api/v1/auth/email/change/confirm", { body: { token } }),
      200,
    );
    expect(changed).toMatchObject({ email: target, email_verified: true });
    expect(
      (await api("POST", "/api/v1/auth/login", { body: { email: target, password: account.password } }))
        .status,
    ).toBe(200);
    expect(
      (
        await api("POST", "/api/v1/auth/login", {
          body: { email: account.email, password: account.password },
        })
      ).status,
    ).toBe(401);
    const replay = await api("POST", "/api/v1/auth/email/change/confirm", { body: { token } });
    expect((await problemOf(replay, 400)).code).toBe("invalid_or_expired");
  });

  it("answers the same when the new address has an account, but sends it no link", async () => {
    const account = await createUser({ email: newAddress("mover2"), emailVerifiedAt: new Date() });
    const other = await createUser({ email: newAddress("taken"), emailVerifiedAt: new Date() });
    const me = as((await signIn(account.user)).accessToken);
    await jsonOf(await me.post("/api/v1/users/me/email", { body: { email: other.email } }), 202);
    await mailbox.next(account.email, "email_change_notice");
    expect(mailbox.for(other.email, "email_change_confirm")).toHaveLength(0);
  });

  it("refuses the current address, and a second request within a minute", async () => {
    const account = await createUser({ email: newAddress("mover3"), emailVerifiedAt: new Date() });
    const me = as((await signIn(account.user)).accessToken);
    const same = await problemOf(
      await me.post("/api/v1/users/me/email", { body: { email: account.email.toUpperCase() } }),
      400,
    );
    expect(same.errors?.[0]?.pointer).toBe("/email");
    await jsonOf(await me.post("/api/v1/users/me/email", { body: { email: newAddress("a") } }), 202);
    const soon = await me.post("/api/v1/users/me/email", { body: { email: newAddress("b") } });
    expect((await problemOf(soon, 429)).code).toBe("email_change_too_soon");
    expect(soon.headers.get("retry-after")).not.toBeNull();
  });

  it("an attacker's pending change dies when the owner claims the pre-registered account", async () => {
    const email = newAddress("victim-change");
    const password = "the attacker's passphrase";
    const attacker = await jsonOf<AuthTokensBody>(
      await api("POST", "/api/v1/auth/register", { body: registration(email, password) }),
      201,
    );
    const evil = newAddress("attacker-mailbox");
    await jsonOf(
      await as(attacker.access_token).post("/api/v1/users/me/email", { body: { email: evil } }),
      202,
    );
    const link = tokenOfUrl((await mailbox.next(evil, "email_change_confirm")).data.confirm_url);

    await api("POST", "/api/v1/auth/magic/request", { body: { email } });
    const code = (await mailbox.next(email, "magic_code")).data.code;
    await jsonOf(await api("POST", "/api/v1/auth/magic/verify", { body: { email, code } }), 200);

    const late = await api("POST", "/api/v1/auth/email/change/confirm", { body: { token: link } });
    expect((await problemOf(late, 400)).code).toBe("invalid_or_expired");
    expect((await db.select().from(users).where(eq(users.id, attacker.user.id)).get())?.email).toBe(email);
  });
});

describe("SESSION_MAX_AGE: a session ends 90 days after its sign-in, however often it is refreshed", () => {
  it("refreshes every 29 days until day 90, then refuses; tokens never outlive the session", async () => {
    const account = await createUser();
    const start = Date.now();
    let refreshToken = (await signIn(account.user, {}, { at: start })).refreshToken;
    vi.useFakeTimers({ toFake: ["Date"] });
    const DAY = 24 * 60 * 60 * 1000;
    for (const day of [29, 58, 87]) {
      vi.setSystemTime(start + day * DAY);
      const pair = await jsonOf<AuthTokensBody>(
        await api("POST", "/api/v1/auth/refresh", { body: { refresh_token: refreshToken } }),
        200,
      );
      refreshToken = pair.refresh_token;
    }
    // Minutes before the end: the access token is cut to the session's end.
    vi.setSystemTime(start + 90 * DAY - 5 * 60_000);
    const last = await jsonOf<AuthTokensBody>(
      await api("POST", "/api/v1/auth/refresh", { body: { refresh_token: refreshToken } }),
      200,
    );
    expect(last.expires_in).toBeLessThanOrEqual(5 * 60);
    vi.setSystemTime(start + 90 * DAY + 1_000);
    const over = await api("POST", "/api/v1/auth/refresh", { body: { refresh_token: last.refresh_token } });
    expect((await problemOf(over, 401)).code).toBe("invalid_refresh_token");
  });
});
