/**
 * Pre-account takeover (Sudhodanan & Paverd, 2022), and the account claim that stops it.
 *
 * The attack: register the victim's address with a password of the attacker's choosing,
 * open sessions (a socket, an API key), and wait. When the real owner later proves the
 * address some other way (a magic code or link, a password reset), the account becomes
 * theirs, and the attacker is still inside.
 *
 * The defence: a proof of the mailbox that does not start from the account's own
 * password claims a never-verified account. The password set before the proof is
 * cleared, every session is revoked (sockets close), the API keys it created are
 * revoked, then the prover is signed in. A verified account is never claimed, and the
 * honest flow (register, click the verification link) keeps its password and session.
 * The verification email also carries a "this was not me" link that erases a
 * never-verified account and frees the address.
 */
import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { auditLogs, users } from "../src/db/schema";
import type { OrgDto } from "../src/modules/orgs/orgs.schemas";
import type { UserDto } from "../src/modules/users/users.schemas";
import { type AuthTokensBody, createUser, newAddress, signIn } from "./support/factories";
import { api, as, jsonOf, type Page, problemOf } from "./support/http";
import { mailboxPerTest, tokenOfUrl } from "./support/mailbox";
import type { ApiKeyWithSecretDto } from "./support/orgs";
import { openSocket } from "./support/sockets";

vi.setConfig({ testTimeout: 30_000 });

const db = getDb(env);
const mailbox = mailboxPerTest();
afterEach(() => {
  vi.restoreAllMocks();
});

const ATTACKER_PASSWORD = "attacker chose this one";

/** The attacker registers the victim's address, opens a socket and makes an API key in "their" organization. */
async function attackerPreRegisters(email: string) {
  const registered = await jsonOf<AuthTokensBody>(
    await api("POST", "/api/v1/auth/register", {
      body: { email, password: ATTACKER_PASSWORD, password_confirm: ATTACKER_PASSWORD },
    }),
    201,
  );
  const attacker = as(registered.access_token);
  const socket = await openSocket("", { token: registered.access_token });
  await socket.next("hello");
  const orgs = await jsonOf<Page<OrgDto>>(await attacker.get("/api/v1/orgs"), 200);
  const personal = orgs.data.find((org) => org.is_personal);
  if (!personal) throw new Error("no personal organization");
  const key = await jsonOf<ApiKeyWithSecretDto>(
    await attacker.post(`/api/v1/orgs/${personal.id}/api-keys`, {
      body: { name: "backdoor", scopes: ["org:read"] },
    }),
    201,
  );
  return { registered, attacker, socket, apiKey: key.key, orgId: personal.id };
}

/** Everything the attacker held has stopped working. */
async function expectAttackerLockedOut(
  email: string,
  held: Awaited<ReturnType<typeof attackerPreRegisters>>,
): Promise<void> {
  expect((await problemOf(await held.attacker.get("/api/v1/users/me"), 401)).code).toBe("invalid_token");
  const refreshed = await api("POST", "/api/v1/auth/refresh", {
    body: { refresh_token: held.registered.refresh_token },
  });
  expect(refreshed.status).toBe(401);
  const password = await api("POST", "/api/v1/auth/login", { body: { email, password: ATTACKER_PASSWORD } });
  expect((await problemOf(password, 401)).code).toBe("invalid_credentials");
  const closed = await held.socket.closed;
  expect(closed.code).toBe(4001);
  const withKey = await api("GET", `/api/v1/orgs/${held.orgId}`, { headers: { "x-api-key": held.apiKey } });
  expect(withKey.status).toBe(401);
}

async function auditRows(action: "auth.account_claimed" | "auth.account_disowned", userId: string) {
  return db
    .select()
    .from(auditLogs)
    .where(and(eq(auditLogs.action, action), eq(auditLogs.targetId, userId)));
}

describe("the owner proves the address by a magic code: the pre-registered account is claimed", () => {
  it("by the typed code: the attacker's password, sessions, socket and API key stop; the owner is in", async () => {
    const email = newAddress("victim-code");
    const held = await attackerPreRegisters(email);

    expect((await api("POST", "/api/v1/auth/magic/request", { body: { email } })).status).toBe(202);
    const code = (await mailbox.next(email, "magic_code")).data.code;
    const owner = await jsonOf<AuthTokensBody>(
      await api("POST", "/api/v1/auth/magic/verify", { body: { email, code } }),
      200,
    );
    expect(owner.user.id).toBe(held.registered.user.id);
    expect(owner.user.email_verified).toBe(true);

    await expectAttackerLockedOut(email, held);
    expect((await as(owner.access_token).get("/api/v1/users/me")).status).toBe(200);
    const [claimed] = await auditRows("auth.account_claimed", owner.user.id);
    expect(claimed?.before).toMatchObject({ email_verified: false, sign_in_methods: ["pwd"] });
    expect(claimed?.after).toMatchObject({
      email_verified: true,
      sign_in_methods: [],
      sessions_revoked: true,
    });
    const row = await db.select().from(users).where(eq(users.id, owner.user.id)).get();
    expect(row?.passwordHash).toBeNull();
  });

  it("by the emailed link: the same", async () => {
    const email = newAddress("victim-link");
    const held = await attackerPreRegisters(email);
    await api("POST", "/api/v1/auth/magic/request", { body: { email } });
    const token = tokenOfUrl((await mailbox.next(email, "magic_code")).data.magic_url);
    const owner = await jsonOf<AuthTokensBody>(
      await api("POST", "/api/v1/auth/magic/verify", { body: { token } }),
      200,
    );
    expect(owner.user.email_verified).toBe(true);
    await expectAttackerLockedOut(email, held);
  });
});

describe("the owner resets the password: the pre-registered account is claimed", () => {
  it("the attacker's password, sessions, socket and API key stop; the new password works", async () => {
    const email = newAddress("victim-reset");
    const held = await attackerPreRegisters(email);

    expect((await api("POST", "/api/v1/auth/password/forgot", { body: { email } })).status).toBe(202);
    const token = tokenOfUrl((await mailbox.next(email, "password_reset")).data.reset_url);
    const fresh = "the owner's own passphrase";
    const reset = await api("POST", "/api/v1/auth/password/reset", {
      body: { token, password: fresh, password_confirm: fresh },
    });
    expect(reset.status).toBe(204);

    await expectAttackerLockedOut(email, held);
    const owner = await jsonOf<AuthTokensBody>(
      await api("POST", "/api/v1/auth/login", { body: { email, password: fresh } }),
      200,
    );
    expect(owner.user.email_verified).toBe(true);
    expect(await auditRows("auth.account_claimed", owner.user.id)).toHaveLength(1);
  });
});

describe("what the claim never touches", () => {
  it("a verified account: a magic-code sign-in keeps its password and other sessions", async () => {
    const account = await createUser({ emailVerifiedAt: new Date() });
    const earlier = await signIn(account.user);
    await api("POST", "/api/v1/auth/magic/request", { body: { email: account.email } });
    const code = (await mailbox.next(account.email, "magic_code")).data.code;
    await jsonOf(
      await api("POST", "/api/v1/auth/magic/verify", { body: { email: account.email, code } }),
      200,
    );

    expect((await as(earlier.accessToken).get("/api/v1/users/me")).status).toBe(200);
    const password = await api("POST", "/api/v1/auth/login", {
      body: { email: account.email, password: account.password },
    });
    expect(password.status).toBe(200);
    expect(await auditRows("auth.account_claimed", account.user.id)).toHaveLength(0);
  });

  it("the honest flow: register, verify by the link, keep the password and the session", async () => {
    const email = newAddress("honest");
    const password = "my own honest passphrase";
    const registered = await jsonOf<AuthTokensBody>(
      await api("POST", "/api/v1/auth/register", { body: { email, password, password_confirm: password } }),
      201,
    );
    const token = tokenOfUrl((await mailbox.next(email, "verify_email")).data.verify_url);
    await jsonOf(await api("POST", "/api/v1/auth/email/verify", { body: { token } }), 200);

    const me = await jsonOf<UserDto>(await as(registered.access_token).get("/api/v1/users/me"), 200);
    expect(me.email_verified).toBe(true);
    expect((await api("POST", "/api/v1/auth/login", { body: { email, password } })).status).toBe(200);
  });
});

describe('"this was not me": the disown link of the verification email', () => {
  it("erases a never-verified account (sessions, socket, data) and frees the address", async () => {
    const email = newAddress("victim-disown");
    const held = await attackerPreRegisters(email);
    const sent = await mailbox.next(email, "verify_email");
    const disownUrl = sent.data.disown_url as string;
    expect(disownUrl).toMatch(/\/disown-account\?token=/);

    const res = await api("POST", "/api/v1/auth/email/disown", { body: { token: tokenOfUrl(disownUrl) } });
    expect(res.status).toBe(204);

    expect((await problemOf(await held.attacker.get("/api/v1/users/me"), 401)).code).toBe("invalid_token");
    expect((await held.socket.closed).code).toBe(4003);
    expect(await db.select().from(users).where(eq(users.email, email)).get()).toBeUndefined();
    expect(await auditRows("auth.account_disowned", held.registered.user.id)).toHaveLength(1);
    // The owner can now register the address themselves.
    const mine = "the rightful owner's passphrase";
    const registered = await api("POST", "/api/v1/auth/register", {
      body: { email, password: mine, password_confirm: mine },
    });
    expect(registered.status).toBe(201);
    // The link worked once.
    const again = await api("POST", "/api/v1/auth/email/disown", { body: { token: tokenOfUrl(disownUrl) } });
    expect((await problemOf(again, 400)).code).toBe("invalid_or_expired");
  });

  it("cannot touch an account that has been verified since", async () => {
    const email = newAddress("verified-since");
    const password = "a verified owner's phrase";
    await api("POST", "/api/v1/auth/register", { body: { email, password, password_confirm: password } });
    const sent = await mailbox.next(email, "verify_email");
    await jsonOf(
      await api("POST", "/api/v1/auth/email/verify", { body: { token: tokenOfUrl(sent.data.verify_url) } }),
      200,
    );
    const res = await api("POST", "/api/v1/auth/email/disown", {
      body: { token: tokenOfUrl(sent.data.disown_url as string) },
    });
    expect((await problemOf(res, 400)).code).toBe("invalid_or_expired");
    expect(await db.select().from(users).where(eq(users.email, email)).get()).toBeDefined();
    expect((await api("POST", "/api/v1/auth/login", { body: { email, password } })).status).toBe(200);
  });

  it("refuses unknown and malformed tokens the same way, never a 500", async () => {
    for (const token of ["do_unknown", "x".repeat(512), "'; DROP TABLE users; --"]) {
      const res = await api("POST", "/api/v1/auth/email/disown", { body: { token } });
      expect((await problemOf(res, 400)).code).toBe("invalid_or_expired");
    }
    const tooLong = await api("POST", "/api/v1/auth/email/disown", { body: { token: "x".repeat(513) } });
    expect((await problemOf(tooLong, 400)).code).toBe("validation_failed");
  });
});
