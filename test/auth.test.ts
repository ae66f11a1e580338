/**
 * Identity flows through HTTP: the whole life of a session, refresh rotation with
 * reuse detection and its grace window, logout(s), token verification, password
 * change, login rules and rehash-on-login.
 */
import { env } from "cloudflare:workers";
import { eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { sessions, spentRefreshTokens, users } from "../src/db/schema";
import { hashPassword } from "../src/lib/password";
import { parsePasswordHash } from "../src/lib/password-hashing";
import { purgeSessions } from "../src/modules/auth/sessions.cron";
import {
  forgetLocalRevocations,
  REFRESH_GRACE_MS,
  revokedSessionKey,
} from "../src/modules/auth/sessions.service";
import type { SessionDto, UserDto } from "../src/modules/users/users.schemas";
import {
  type AuthTokensBody,
  createUser,
  DEFAULT_PASSWORD,
  loginAs,
  serviceContext,
  signIn,
} from "./support/factories";
import { api, as, jsonOf, type Page, problemOf } from "./support/http";
import { securitySuite } from "./support/security";
import { claimsOf, decodeSegment, realKid } from "./support/tokens";

// Each sign-in pays one scrypt (~150 ms, more when every test file runs at once).
vi.setConfig({ testTimeout: 30_000 });

const db = getDb(env);
const BROWSER = { "user-agent": "Mozilla/5.0 (TestBrowser 1.0)" };

/** Moves a session's latest rotation (and the token it spent) `ms` into the past. */
async function ageRotation(sessionId: string, ms: number): Promise<void> {
  await db.batch([
    db
      .update(sessions)
      .set({ refreshedAt: sql`${sessions.refreshedAt} - ${ms}` })
      .where(eq(sessions.id, sessionId)),
    db
      .update(spentRefreshTokens)
      .set({ spentAt: sql`${spentRefreshTokens.spentAt} - ${ms}` })
      .where(eq(spentRefreshTokens.sessionId, sessionId)),
  ]);
}

const sidOf = (accessToken: string) => claimsOf(accessToken).sid as string;

const refresh = (refreshToken: string, headers: Record<string, string> = BROWSER) =>
  api("POST", "/api/v1/auth/refresh", { body: { refresh_token: refreshToken }, headers });

describe("the whole life of a session", () => {
  it("register → login → me → refresh → reuse revokes → logout refuses the token at once", async () => {
    // Register: the email is normalised, the answer is a token pair and points at the user.
    const registered = await api("POST", "/api/v1/auth/register", {
      headers: BROWSER,
      body: {
        email: "  Ada.Lovelace@Example.COM ",
        password: "analytical engine 1843",
        password_confirm: "analytical engine 1843",
        username: "Ada_L",
        first_name: "Ada",
        last_name: "Lovelace",
      },
    });
    expect(registered.headers.get("cache-control")).toBe("no-store");
    const signup = await jsonOf<AuthTokensBody>(registered, 201);
    expect(registered.headers.get("location")).toBe(`/api/v1/users/${signup.user.id}`);
    expect(signup).toMatchObject({ token_type: "Bearer", expires_in: 900 });
    expect(signup.user).toMatchObject({
      email: "ada.lovelace@example.com",
      username: "Ada_L",
      first_name: "Ada",
      last_name: "Lovelace",
      email_verified: false,
      is_staff: false,
      avatar_url: null,
    });
    expect(signup.refresh_token).toMatch(/^rt_[A-Za-z0-9_-]{43}$/);

    // The access token is an ES256 JWT with the decided header and claims.
    const [header, payload] = signup.access_token.split(".") as [string, string];
    expect(decodeSegment(header)).toEqual({ alg: "ES256", kid: await realKid(), typ: "at+jwt" });
    const claims = decodeSegment(payload);
    expect(claims).toMatchObject({
      iss: "http://localhost:8787",
      aud: "edge-api-platform",
      sub: signup.user.id,
    });
    expect(Object.keys(claims).sort()).toEqual([
      "amr",
      "aud",
      "auth_time",
      "exp",
      "iat",
      "is_staff",
      "iss",
      "jti",
      "nbf",
      "sid",
      "sub",
    ]);
    expect((claims.exp as number) - (claims.iat as number)).toBe(900);
    // When and how the session authenticated (RFC 8176): registration signs in with the password.
    expect(claims.amr).toEqual(["pwd"]);
    expect(claims.auth_time).toBe(claims.iat);

    // Login by username in another letter case opens a second session.
    const loginRes = await api("POST", "/api/v1/auth/login", {
      headers: BROWSER,
      body: { username: "ada_l", password: "analytical engine 1843" },
    });
    const login = await jsonOf<AuthTokensBody>(loginRes, 200);
    const loginSession = sidOf(login.access_token);
    expect(loginSession).not.toBe(sidOf(signup.access_token));
    expect(login.user.last_login_at).not.toBeNull();

    const me = await jsonOf<UserDto>(await as(login.access_token).get("/api/v1/users/me"), 200);
    expect(me).toMatchObject({ id: signup.user.id, email: "ada.lovelace@example.com" });

    // Refresh rotates: a new pair, the old refresh token is spent.
    const rotated = await jsonOf<AuthTokensBody>(await refresh(login.refresh_token), 200);
    expect(rotated.refresh_token).not.toBe(login.refresh_token);
    expect(sidOf(rotated.access_token)).toBe(loginSession);

    // Within the grace window, from the same client, the spent token is a harmless 409 ...
    const superseded = await problemOf(await refresh(login.refresh_token), 409);
    expect(superseded.code).toBe("refresh_token_superseded");
    expect((await as(rotated.access_token).get("/api/v1/users/me")).status).toBe(200);

    // ... after it, presenting it again is reuse: the whole session is revoked.
    await ageRotation(loginSession, REFRESH_GRACE_MS + 1_000);
    const reused = await problemOf(await refresh(login.refresh_token), 401);
    expect(reused.code).toBe("refresh_token_reused");
    expect((await problemOf(await refresh(rotated.refresh_token), 401)).code).toBe("invalid_refresh_token");
    const refused = await problemOf(await as(rotated.access_token).get("/api/v1/users/me"), 401);
    expect(refused).toMatchObject({ code: "invalid_token", detail: "The access token has been revoked." });

    // The sign-up session is untouched and is now the only device.
    const devices = await jsonOf<Page<SessionDto>>(
      await as(signup.access_token).get("/api/v1/users/me/sessions"),
      200,
    );
    expect(devices.data).toEqual([
      expect.objectContaining({ id: sidOf(signup.access_token), current: true }),
    ]);

    // Logout: 204, and the access token is refused on the very next request.
    expect((await as(signup.access_token).post("/api/v1/auth/logout")).status).toBe(204);
    const afterLogout = await as(signup.access_token).get("/api/v1/users/me");
    expect(afterLogout.status).toBe(401);
    expect(afterLogout.headers.get("www-authenticate")).toMatch(/^Bearer error="invalid_token"/);
    expect((await problemOf(await refresh(signup.refresh_token), 401)).code).toBe("invalid_refresh_token");
  });
});

describe("refresh", () => {
  let member: Awaited<ReturnType<typeof createUser>>;
  beforeAll(async () => {
    member = await createUser();
  });

  it("takes the token from X-Refresh-Token with no body", async () => {
    const tokens = await signIn(member.user);
    const res = await api("POST", "/api/v1/auth/refresh", {
      headers: { "x-refresh-token": tokens.refreshToken },
    });
    const pair = await jsonOf<AuthTokensBody>(res, 200);
    expect(pair.user.id).toBe(member.user.id);
    expect(sidOf(pair.access_token)).toBe(tokens.sessionId);
  });

  it("needs a token, and refuses unknown ones", async () => {
    const missing = await problemOf(await api("POST", "/api/v1/auth/refresh", { body: {} }), 400);
    expect(missing.errors).toEqual([expect.objectContaining({ pointer: "/refresh_token" })]);
    const unknown = await problemOf(await refresh("rt_never-issued"), 401);
    expect(unknown.code).toBe("invalid_refresh_token");
    expect(await problemOf(await refresh(""), 400)).toMatchObject({ code: "validation_failed" });
  });

  it("lets exactly one of two concurrent refreshes win, and keeps the session", async () => {
    const tokens = await signIn(member.user, { userAgent: BROWSER["user-agent"] });
    const results = await Promise.all([refresh(tokens.refreshToken), refresh(tokens.refreshToken)]);
    expect(results.map((res) => res.status).sort()).toEqual([200, 409]);
    const winner = results.find((res) => res.status === 200) as Response;
    const pair = await jsonOf<AuthTokensBody>(winner, 200);
    expect((await as(pair.access_token).get("/api/v1/users/me")).status).toBe(200);
    expect((await refresh(pair.refresh_token)).status).toBe(200);
  });

  it("treats a spent token from another client as reuse, even inside the grace window", async () => {
    const tokens = await signIn(member.user, { userAgent: BROWSER["user-agent"] });
    const pair = await jsonOf<AuthTokensBody>(await refresh(tokens.refreshToken), 200);
    const stolen = await problemOf(await refresh(tokens.refreshToken, { "user-agent": "curl/8.0" }), 401);
    expect(stolen.code).toBe("refresh_token_reused");
    expect((await problemOf(await refresh(pair.refresh_token), 401)).code).toBe("invalid_refresh_token");
    const [row] = await db.select().from(sessions).where(eq(sessions.id, tokens.sessionId));
    expect(row?.revokedReason).toBe("refresh_token_reused");
  });

  it("treats a token two rotations old as reuse, even inside the grace window", async () => {
    const tokens = await signIn(member.user, { userAgent: BROWSER["user-agent"] });
    const second = await jsonOf<AuthTokensBody>(await refresh(tokens.refreshToken), 200);
    await jsonOf<AuthTokensBody>(await refresh(second.refresh_token), 200);
    expect((await problemOf(await refresh(tokens.refreshToken), 401)).code).toBe("refresh_token_reused");
  });

  it("refuses the refresh token of an expired session or a disabled account", async () => {
    const expired = await signIn(member.user);
    await db
      .update(sessions)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(sessions.id, expired.sessionId));
    expect((await problemOf(await refresh(expired.refreshToken), 401)).code).toBe("invalid_refresh_token");

    const disabled = await createUser();
    const tokens = await signIn(disabled.user);
    await db.update(users).set({ isActive: false }).where(eq(users.id, disabled.user.id));
    expect((await problemOf(await refresh(tokens.refreshToken), 401)).code).toBe("invalid_refresh_token");
    expect((await as(tokens.accessToken).get("/api/v1/users/me")).status).toBe(401);
  });

  it("carries a staff flag that follows the account", async () => {
    const tokens = await signIn(member.user);
    await db.update(users).set({ isStaff: true }).where(eq(users.id, member.user.id));
    const pair = await jsonOf<AuthTokensBody>(await refresh(tokens.refreshToken), 200);
    expect(claimsOf(pair.access_token).is_staff).toBe(true);
    expect((await as(pair.access_token).get("/api/v1/users")).status).toBe(200);
    await db.update(users).set({ isStaff: false }).where(eq(users.id, member.user.id));
  });
});

describe("logout", () => {
  it("signs out with the refresh token alone (an expired access token)", async () => {
    const { user } = await createUser();
    const tokens = await signIn(user);
    const res = await api("POST", "/api/v1/auth/logout", { body: { refresh_token: tokens.refreshToken } });
    expect(res.status).toBe(204);
    expect((await as(tokens.accessToken).get("/api/v1/users/me")).status).toBe(401);
    expect((await refresh(tokens.refreshToken)).status).toBe(401);
  });

  it("needs an access token or a refresh token", async () => {
    const res = await api("POST", "/api/v1/auth/logout");
    expect((await problemOf(res, 401)).code).toBe("unauthorized");
    const stale = await api("POST", "/api/v1/auth/logout", { token: "not.a.token" });
    expect((await problemOf(stale, 401)).code).toBe("invalid_token");
  });

  it("publishes the revocation to AUTH_KV for as long as the access token lives", async () => {
    const { user } = await createUser();
    const tokens = await signIn(user);
    expect((await as(tokens.accessToken).post("/api/v1/auth/logout")).status).toBe(204);
    const stored = await env.AUTH_KV.getWithMetadata(revokedSessionKey(tokens.sessionId));
    expect(stored.value).toBe("logout");
    // Another isolate has no local memory of it: KV alone must refuse the token.
    forgetLocalRevocations();
    const res = await as(tokens.accessToken).get("/api/v1/users/me");
    expect((await problemOf(res, 401)).detail).toBe("The access token has been revoked.");
  });

  it("honours a revocation that only KV knows about", async () => {
    const { user } = await createUser();
    const tokens = await signIn(user);
    expect((await as(tokens.accessToken).get("/api/v1/users/me")).status).toBe(200);
    await env.AUTH_KV.put(revokedSessionKey(tokens.sessionId), "session_revoked", { expirationTtl: 60 });
    // As another isolate sees it: this one keeps its "not revoked" answer for REVOCATION_RECHECK_MS
    // (test/session-revocation.test.ts runs out that window).
    forgetLocalRevocations();
    expect((await as(tokens.accessToken).get("/api/v1/users/me")).status).toBe(401);
  });

  it("logout-all revokes every session of the caller and no one else's", async () => {
    const { user } = await createUser();
    const other = await createUser();
    const [first, second, third] = [await signIn(user), await signIn(user), await signIn(user)];
    const bystander = await signIn(other.user);
    expect((await as(first.accessToken).post("/api/v1/auth/logout-all")).status).toBe(204);
    for (const tokens of [first, second, third]) {
      expect((await as(tokens.accessToken).get("/api/v1/users/me")).status).toBe(401);
      expect((await refresh(tokens.refreshToken)).status).toBe(401);
    }
    expect((await as(bystander.accessToken).get("/api/v1/users/me")).status).toBe(200);
  });
});

describe("POST /auth/token/verify", () => {
  it("answers the claims of a valid token and 401 otherwise", async () => {
    const { user } = await createUser();
    const tokens = await signIn(user);
    const ok = await jsonOf<{ valid: boolean; claims: Record<string, unknown> }>(
      await api("POST", "/api/v1/auth/token/verify", { body: { token: tokens.accessToken } }),
      200,
    );
    expect(ok.valid).toBe(true);
    expect(ok.claims).toMatchObject({ sub: user.id, sid: tokens.sessionId, is_staff: false });

    const garbage = await api("POST", "/api/v1/auth/token/verify", { body: { token: "abc" } });
    expect((await problemOf(garbage, 401)).code).toBe("invalid_token");
    const refreshAsAccess = await api("POST", "/api/v1/auth/token/verify", {
      body: { token: tokens.refreshToken },
    });
    expect((await problemOf(refreshAsAccess, 401)).code).toBe("invalid_token");

    await as(tokens.accessToken).post("/api/v1/auth/logout");
    const revoked = await api("POST", "/api/v1/auth/token/verify", { body: { token: tokens.accessToken } });
    expect((await problemOf(revoked, 401)).detail).toBe("The access token has been revoked.");
    expect(
      (await problemOf(await api("POST", "/api/v1/auth/token/verify", { body: {} }), 400)).errors,
    ).toEqual([expect.objectContaining({ pointer: "/token" })]);
  });
});

describe("POST /auth/password/change", () => {
  it("checks the current password and the policy, then revokes every other session", async () => {
    const account = await createUser();
    const here = await signIn(account.user);
    const elsewhere = await signIn(account.user);
    const change = (body: unknown) => as(here.accessToken).post("/api/v1/auth/password/change", { body });

    const wrong = await problemOf(
      await change({
        current_password: "not it at all",
        password: "brand new phrase",
        password_confirm: "brand new phrase",
      }),
      400,
    );
    expect(wrong.errors).toEqual([expect.objectContaining({ pointer: "/current_password" })]);
    const mismatch = await problemOf(
      await change({
        current_password: DEFAULT_PASSWORD,
        password: "brand new phrase",
        password_confirm: "brand new phrase!",
      }),
      400,
    );
    expect(mismatch.errors).toEqual([expect.objectContaining({ pointer: "/password_confirm" })]);
    const common = await problemOf(
      await change({
        current_password: DEFAULT_PASSWORD,
        password: "password123",
        password_confirm: "password123",
      }),
      400,
    );
    expect(common.errors).toEqual([
      expect.objectContaining({ pointer: "/password", detail: expect.stringMatching(/common/) }),
    ]);

    const ok = await change({
      current_password: DEFAULT_PASSWORD,
      password: "brand new phrase",
      password_confirm: "brand new phrase",
    });
    expect(ok.status).toBe(204);
    expect((await as(here.accessToken).get("/api/v1/users/me")).status).toBe(200);
    expect((await as(elsewhere.accessToken).get("/api/v1/users/me")).status).toBe(401);
    expect((await refresh(elsewhere.refreshToken)).status).toBe(401);

    const old = await api("POST", "/api/v1/auth/login", {
      body: { email: account.email, password: DEFAULT_PASSWORD },
    });
    expect((await problemOf(old, 401)).code).toBe("invalid_credentials");
    await loginAs({ email: account.email, password: "brand new phrase" });
  });
});

describe("POST /auth/login", () => {
  let account: Awaited<ReturnType<typeof createUser>>;
  beforeAll(async () => {
    account = await createUser({ email: "grace@example.test", username: "Grace_H" });
  });

  it("accepts the email in any case and with spaces, or the username in any case", async () => {
    const byEmail = await loginAs({ email: "  GRACE@example.TEST ", password: DEFAULT_PASSWORD });
    expect(byEmail.user.id).toBe(account.user.id);
    const byUsername = await jsonOf<AuthTokensBody>(
      await api("POST", "/api/v1/auth/login", { body: { username: "grace_h", password: DEFAULT_PASSWORD } }),
      200,
    );
    expect(byUsername.user.id).toBe(account.user.id);
  });

  it("answers an unknown account exactly like a wrong password", async () => {
    const unknown = await problemOf(
      await api("POST", "/api/v1/auth/login", {
        body: { email: "nobody@example.test", password: DEFAULT_PASSWORD },
      }),
      401,
    );
    const wrong = await problemOf(
      await api("POST", "/api/v1/auth/login", {
        body: { email: account.email, password: "not the password" },
      }),
      401,
    );
    const strip = ({ request_id: _a, instance: _b, ...rest }: Record<string, unknown>) => rest;
    expect(strip(unknown)).toEqual(strip(wrong));
    expect(unknown.code).toBe("invalid_credentials");
  });

  it("wants exactly one of email and username", async () => {
    const both = await api("POST", "/api/v1/auth/login", {
      body: { email: account.email, username: "Grace_H", password: DEFAULT_PASSWORD },
    });
    expect((await problemOf(both, 400)).errors?.[0]?.pointer).toBe("/username");
    const neither = await api("POST", "/api/v1/auth/login", { body: { password: DEFAULT_PASSWORD } });
    expect((await problemOf(neither, 400)).errors?.[0]?.pointer).toBe("/email");
  });

  it("tells a disabled account so only to someone who knows its password", async () => {
    const disabled = await createUser({ isActive: false });
    const right = await api("POST", "/api/v1/auth/login", {
      body: { email: disabled.email, password: DEFAULT_PASSWORD },
    });
    expect((await problemOf(right, 403)).code).toBe("account_disabled");
    const wrong = await api("POST", "/api/v1/auth/login", {
      body: { email: disabled.email, password: "nope nope nope" },
    });
    expect((await problemOf(wrong, 401)).code).toBe("invalid_credentials");
  });

  it("upgrades a hash made with older scrypt parameters", async () => {
    const legacy = await createUser({ password: "legacy pass phrase" });
    const weakHash = await hashPassword("legacy pass phrase", { N: 2 ** 12, r: 8, p: 1, keyLength: 32 });
    await db.update(users).set({ passwordHash: weakHash }).where(eq(users.id, legacy.user.id));

    await loginAs({ email: legacy.email, password: "legacy pass phrase" });
    const [row] = await db.select().from(users).where(eq(users.id, legacy.user.id));
    expect(row?.passwordHash).not.toBe(weakHash);
    expect(parsePasswordHash(row?.passwordHash ?? "")?.params).toEqual({ N: 2 ** 14, r: 8, p: 5 });
    // The upgraded hash still verifies the same password.
    await loginAs({ email: legacy.email, password: "legacy pass phrase" });
  });
});

describe("session clean-up job", () => {
  it("deletes expired sessions and long-revoked ones, and keeps live ones", async () => {
    const { user } = await createUser();
    const [live, expired, revokedLongAgo, revokedNow] = [
      await signIn(user),
      await signIn(user),
      await signIn(user),
      await signIn(user),
    ];
    // A spent token of the session about to expire, which must go with it.
    expect((await refresh(expired.refreshToken)).status).toBe(200);
    const now = Date.now();
    await db
      .update(sessions)
      .set({ expiresAt: new Date(now - 1) })
      .where(eq(sessions.id, expired.sessionId));
    await db
      .update(sessions)
      .set({ revokedAt: new Date(now - 25 * 60 * 60 * 1000), revokedReason: "logout" })
      .where(eq(sessions.id, revokedLongAgo.sessionId));
    await db
      .update(sessions)
      .set({ revokedAt: new Date(now), revokedReason: "logout" })
      .where(eq(sessions.id, revokedNow.sessionId));
    const result = await purgeSessions(serviceContext(), now);
    expect(result.deleted).toBeGreaterThanOrEqual(2);
    const left = (
      await db.select({ id: sessions.id }).from(sessions).where(eq(sessions.userId, user.id))
    ).map((row) => row.id);
    expect(left.sort()).toEqual([live.sessionId, revokedNow.sessionId].sort());
    const spent = await db
      .select()
      .from(spentRefreshTokens)
      .where(eq(spentRefreshTokens.sessionId, expired.sessionId));
    expect(spent).toEqual([]);
  });
});

securitySuite("POST /api/v1/auth/logout-all", { method: "POST", path: "/api/v1/auth/logout-all" });
securitySuite("POST /api/v1/auth/password/change", {
  method: "POST",
  path: "/api/v1/auth/password/change",
  body: {
    current_password: DEFAULT_PASSWORD,
    password: "brand new phrase",
    password_confirm: "brand new phrase",
  },
});
