/**
 * Sign-in with Google, GitHub and an OIDC provider (a Keycloak realm), and the linking
 * rules: sign-up, sign-in again, link while signed in, unlink (never the last way in), a
 * verified provider address signing into (and claiming) the account with that address,
 * an unverified one never linking, strict verification, disabled accounts, new-device
 * alerts and erasure. The providers are faked at the fetch boundary
 * (test/support/identity-providers.ts); everything of ours runs for real.
 */
import { env } from "cloudflare:workers";
import { decodeBase32IgnorePadding } from "@oslojs/encoding";
import { and, eq } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import {
  auditLogs,
  providerSignInCodes,
  providerSignInStates,
  userIdentities,
  users,
} from "../src/db/schema";
import { type Bindings, ConfigError, getConfig } from "../src/env";
import type { IdentityDto } from "../src/modules/auth/identity-providers/identity-providers.schemas";
import { purgeProviderSignInsJob } from "../src/modules/auth/identity-providers/provider-sign-in.cron";
import { totpCode, totpStep } from "../src/modules/auth/totp";
import type { OrgDto } from "../src/modules/orgs/orgs.schemas";
import {
  type AuthTokensBody,
  createUser,
  DEFAULT_PASSWORD,
  newAddress,
  serviceContext,
  signIn,
} from "./support/factories";
import { api, as, jsonOf, type Page, problemOf } from "./support/http";
import {
  exchangeCode,
  fakeProvidersPerTest,
  KEYCLOAK,
  OIDC_PROVIDERS,
  pkcePair,
  providerAccount,
  providersApi,
  providersEnv,
  returnToCallback,
  signInUntilRedirect,
  signInWithProvider,
  startSignIn,
} from "./support/identity-providers";
import { mailboxPerTest } from "./support/mailbox";
import { claimsOf } from "./support/tokens";

vi.setConfig({ testTimeout: 30_000 });

const db = getDb(env);
const mailbox = mailboxPerTest();
const idp = fakeProvidersPerTest();
const someone = providerAccount;

/** `as()` bound to the providers' bindings, for a token from a provider sign-in. */
function asProviders(token: string) {
  return {
    get: (path: string) => providersApi("GET", path, { token }),
    delete: (path: string, body?: unknown) => providersApi("DELETE", path, { token, body }),
  };
}

const identitiesOf = async (token: string) =>
  (await jsonOf<{ data: IdentityDto[] }>(await asProviders(token).get("/api/v1/users/me/identities"), 200))
    .data;

const identityRows = (userId: string) =>
  db.select().from(userIdentities).where(eq(userIdentities.userId, userId)).all();

describe("GET /api/v1/auth/providers", () => {
  it("lists exactly the configured providers, built-ins first", async () => {
    const body = await jsonOf<{ data: unknown[] }>(await providersApi("GET", "/api/v1/auth/providers"), 200);
    expect(body.data).toEqual([
      { id: "google", name: "Google", type: "oidc" },
      { id: "github", name: "GitHub", type: "oauth2" },
      { id: "keycloak", name: "Acme SSO", type: "oidc" },
    ]);
  });

  it("is empty without configuration, and lists only what is set", async () => {
    expect(await jsonOf(await api("GET", "/api/v1/auth/providers"), 200)).toEqual({ data: [] });
    const onlyGithub = {
      ...env,
      OAUTH_GITHUB_CLIENT_ID: "Ov23liOnly",
      OAUTH_GITHUB_CLIENT_SECRET: "only-github-secret",
    } as Bindings;
    const body = await jsonOf(
      await providersApi("GET", "/api/v1/auth/providers", { bindings: onlyGithub }),
      200,
    );
    expect(body).toEqual({ data: [{ id: "github", name: "GitHub", type: "oauth2" }] });
  });
});

describe("sign-up and sign-in again", () => {
  it("Google: a new, verified account with its personal organization; the token carries amr fed", async () => {
    const person = someone();
    const tokens = await signInWithProvider(idp, "google", person);
    expect(tokens.is_new_user).toBe(true);
    expect(tokens.token_type).toBe("Bearer");
    expect(tokens.user).toMatchObject({
      email: person.email,
      email_verified: true,
      first_name: "Ada",
      last_name: "Lovelace",
    });
    const claims = claimsOf(tokens.access_token);
    expect(claims.amr).toEqual(["fed"]);
    expect(claims.sub).toBe(tokens.user.id);

    const orgs = await jsonOf<Page<OrgDto>>(await as(tokens.access_token).get("/api/v1/orgs"), 200);
    expect(orgs.data.some((org) => org.is_personal)).toBe(true);
    await mailbox.next(person.email, "welcome");
    expect(await identitiesOf(tokens.access_token)).toEqual([
      expect.objectContaining({
        provider: "google",
        provider_user_id: person.sub,
        email: person.email,
        email_verified: true,
      }),
    ]);
    // The refresh token works like any other.
    const refreshed = await api("POST", "/api/v1/auth/refresh", {
      body: { refresh_token: tokens.refresh_token },
    });
    expect(claimsOf((await jsonOf<AuthTokensBody>(refreshed, 200)).access_token).amr).toEqual(["fed"]);
  });

  it("an account with an authenticator app: the exchange answers the MFA step, a code finishes it (amr fed+otp+mfa)", async () => {
    const person = someone();
    const first = await signInWithProvider(idp, "google", person);
    const me = (path: string, body?: unknown) =>
      providersApi("POST", path, { token: first.access_token, ...(body ? { body } : {}) });
    const { secret } = await jsonOf<{ secret: string }>(await me("/api/v1/auth/mfa/totp/enroll"), 200);
    const key = decodeBase32IgnorePadding(secret);
    await jsonOf(
      await me("/api/v1/auth/mfa/totp/confirm", { code: totpCode(key, totpStep(Date.now())) }),
      200,
    );

    const params = await signInUntilRedirect(idp, "google", person);
    const step = await jsonOf<{ mfa_required: boolean; mfa_token: string; methods: string[] }>(
      await exchangeCode(params.get("code") ?? ""),
      200,
    );
    expect(step).toMatchObject({ mfa_required: true, methods: ["totp", "recovery_code"] });
    expect(step).not.toHaveProperty("access_token");
    const done = await jsonOf<AuthTokensBody>(
      await providersApi("POST", "/api/v1/auth/mfa/verify", {
        body: { mfa_token: step.mfa_token, code: totpCode(key, totpStep(Date.now()) + 1) },
      }),
      200,
    );
    expect(claimsOf(done.access_token).amr).toEqual(["fed", "otp", "mfa"]);
    expect(done.user.id).toBe(first.user.id);
  });

  it("Google again: the same account, even after the address changed at Google", async () => {
    const person = someone();
    const first = await signInWithProvider(idp, "google", person);
    const changed = { ...person, email: newAddress("renamed") };
    const again = await signInWithProvider(idp, "google", changed);
    expect(again.is_new_user).toBe(false);
    expect(again.user.id).toBe(first.user.id);
    expect(again.user.email).toBe(person.email);
    const [identity] = await identityRows(first.user.id);
    expect(identity?.email).toBe(changed.email);
    expect(identity?.lastUsedAt.getTime()).toBeGreaterThanOrEqual(identity?.createdAt.getTime() ?? 0);
  });

  it("GitHub: the primary verified address of /user/emails, the numeric id as the subject", async () => {
    const person = someone();
    const tokens = await signInWithProvider(idp, "github", person);
    expect(tokens.is_new_user).toBe(true);
    expect(tokens.user).toMatchObject({ email: person.email, email_verified: true, first_name: "Ada" });
    expect(claimsOf(tokens.access_token).amr).toEqual(["fed"]);
    const again = await signInWithProvider(idp, "github", person);
    expect(again).toMatchObject({ is_new_user: false, user: { id: tokens.user.id } });
    expect(idp.count("https://api.github.com/user/emails")).toBe(2);
  });

  it("Keycloak (discovery, ES256): sign-up and sign-in; the address from userinfo when the ID token has none", async () => {
    const person = someone({ sub: crypto.randomUUID() });
    const tokens = await signInWithProvider(idp, "keycloak", person);
    expect(tokens).toMatchObject({ is_new_user: true, user: { email: person.email, email_verified: true } });
    expect((await signInWithProvider(idp, "keycloak", person)).user.id).toBe(tokens.user.id);

    const quiet = someone({ sub: crypto.randomUUID(), emailOnlyInUserinfo: true });
    const viaUserinfo = await signInWithProvider(idp, "keycloak", quiet);
    expect(viaUserinfo.user).toMatchObject({ email: quiet.email, email_verified: true });
    expect(idp.count(`${KEYCLOAK.issuer}/protocol/openid-connect/userinfo`)).toBe(1);
  });

  it("a mobile app: custom-scheme redirect, its own PKCE, the JSON form of /authorize", async () => {
    const { verifier, challenge } = await pkcePair();
    const tokens = await signInWithProvider(idp, "google", someone(), {
      redirectUri: "com.example.app://auth/callback",
      codeChallenge: challenge,
      codeVerifier: verifier,
      json: true,
    });
    expect(tokens.is_new_user).toBe(true);
  });
});

describe("an existing account with the provider's address", () => {
  it("a verified address signs into it and links the identity; the owner is told", async () => {
    const owner = await createUser({ emailVerifiedAt: new Date() });
    const tokens = await signInWithProvider(idp, "google", someone({ email: owner.email }));
    expect(tokens).toMatchObject({ is_new_user: false, user: { id: owner.user.id } });
    expect(await identityRows(owner.user.id)).toHaveLength(1);
    const notice = await mailbox.next(owner.email, "identity_linked");
    expect(notice.data).toMatchObject({ provider: "Google", provider_email: owner.email });
    // Its password still works: a verified account is never claimed.
    expect(
      (await api("POST", "/api/v1/auth/login", { body: { email: owner.email, password: DEFAULT_PASSWORD } }))
        .status,
    ).toBe(200);
  });

  it("a never-verified account (an attacker registered the address) is claimed: password cleared, sessions revoked", async () => {
    const email = newAddress("victim");
    const attackerPassword = "attacker chose this one";
    const registered = await jsonOf<AuthTokensBody>(
      await api("POST", "/api/v1/auth/register", {
        body: { email, password: attackerPassword, password_confirm: attackerPassword },
      }),
      201,
    );
    const owner = await signInWithProvider(idp, "google", someone({ email }));
    expect(owner).toMatchObject({
      is_new_user: false,
      user: { id: registered.user.id, email_verified: true },
    });

    expect((await problemOf(await as(registered.access_token).get("/api/v1/users/me"), 401)).code).toBe(
      "invalid_token",
    );
    const refresh = await api("POST", "/api/v1/auth/refresh", {
      body: { refresh_token: registered.refresh_token },
    });
    expect(refresh.status).toBe(401);
    const login = await api("POST", "/api/v1/auth/login", { body: { email, password: attackerPassword } });
    expect((await problemOf(login, 401)).code).toBe("invalid_credentials");
    const row = await db.select().from(users).where(eq(users.id, registered.user.id)).get();
    expect(row?.passwordHash).toBeNull();
    const claims = await db
      .select()
      .from(auditLogs)
      .where(and(eq(auditLogs.action, "auth.account_claimed"), eq(auditLogs.targetId, registered.user.id)));
    expect(claims).toHaveLength(1);
    expect((await as(owner.access_token).get("/api/v1/users/me")).status).toBe(200);
  });

  it("an unverified provider address never links: email_not_verified, nothing changes", async () => {
    const owner = await createUser({ emailVerifiedAt: new Date() });
    for (const provider of ["google", "github", "keycloak"] as const) {
      const person = someone({ email: owner.email, emailVerified: false });
      const params = await signInUntilRedirect(idp, provider, person);
      expect(params.get("error")).toBe("email_not_verified");
      expect(params.get("code")).toBeNull();
    }
    expect(await identityRows(owner.user.id)).toHaveLength(0);
    const never = await createUser();
    const params = await signInUntilRedirect(
      idp,
      "google",
      someone({ email: never.email, emailVerified: false }),
    );
    expect(params.get("error")).toBe("email_not_verified");
    const row = await db.select().from(users).where(eq(users.id, never.user.id)).get();
    expect(row?.passwordHash).not.toBeNull();
    expect(row?.emailVerifiedAt).toBeNull();
  });

  it("a disabled account: account_disabled", async () => {
    const disabled = await createUser({ emailVerifiedAt: new Date(), isActive: false });
    const params = await signInUntilRedirect(idp, "google", someone({ email: disabled.email }));
    expect(params.get("error")).toBe("account_disabled");
  });
});

describe("an unverified provider address and no account", () => {
  it("optional verification: signs up an unverified account and emails a verification link", async () => {
    const person = someone({ emailVerified: false });
    const tokens = await signInWithProvider(idp, "github", person);
    expect(tokens).toMatchObject({ is_new_user: true, user: { email: person.email, email_verified: false } });
    await mailbox.next(person.email, "verify_email");
  });

  it("AUTH_EMAIL_VERIFICATION=required: no account, no tokens; a verified address still signs up", async () => {
    const strict = { ...providersEnv, AUTH_EMAIL_VERIFICATION: "required" } as Bindings;
    const person = someone({ emailVerified: false });
    const params = await signInUntilRedirect(idp, "google", person, { bindings: strict });
    expect(params.get("error")).toBe("email_not_verified");
    expect(await db.select().from(users).where(eq(users.email, person.email)).get()).toBeUndefined();

    const verified = await signInWithProvider(idp, "google", someone(), { bindings: strict });
    expect(verified).toMatchObject({ is_new_user: true, user: { email_verified: true } });
  });
});

describe("nothing changes before the exchange", () => {
  it("an abandoned sign-in (the code never exchanged) creates no account and links nothing", async () => {
    const person = someone();
    const params = await signInUntilRedirect(idp, "google", person);
    expect(params.get("code")).toMatch(/^pc_/);
    expect(await db.select().from(users).where(eq(users.email, person.email)).get()).toBeUndefined();
  });

  it("what changed between the callback and the exchange is checked again", async () => {
    const owner = await createUser({ emailVerifiedAt: new Date() });
    const params = await signInUntilRedirect(idp, "google", someone({ email: owner.email }));
    await db.update(users).set({ isActive: false }).where(eq(users.id, owner.user.id));
    const res = await exchangeCode(params.get("code") ?? "");
    expect((await problemOf(res, 403)).code).toBe("account_disabled");
    expect(await identityRows(owner.user.id)).toHaveLength(0);

    const person = someone();
    const first = await signInUntilRedirect(idp, "github", person);
    const second = await signInUntilRedirect(idp, "github", person);
    expect(
      (await jsonOf<{ is_new_user: boolean }>(await exchangeCode(second.get("code") ?? ""), 200)).is_new_user,
    ).toBe(true);
    // The first code now finds the identity linked (to the account the second made): it signs into it.
    const late = await jsonOf<{ is_new_user: boolean; user: { email: string } }>(
      await exchangeCode(first.get("code") ?? ""),
      200,
    );
    expect(late).toMatchObject({ is_new_user: false, user: { email: person.email } });
  });
});

describe("mode=link", () => {
  it("links the provider account to the signed-in user, whatever its address", async () => {
    const account = await createUser({ emailVerifiedAt: new Date() });
    const { accessToken } = await signIn(account.user);
    const person = someone();
    const tokens = await signInWithProvider(idp, "github", person, {
      mode: "link",
      token: accessToken,
      json: true,
    });
    expect(tokens).toMatchObject({ is_new_user: false, user: { id: account.user.id, email: account.email } });
    expect(await identitiesOf(accessToken)).toEqual([
      expect.objectContaining({ provider: "github", provider_user_id: person.sub, email: person.email }),
    ]);
    await mailbox.next(account.email, "identity_linked");
    // From now on GitHub signs in to this account.
    expect((await signInWithProvider(idp, "github", person)).user.id).toBe(account.user.id);
  });

  it("from a native app: the JSON form with its own PKCE, the cookie never reaching the system browser", async () => {
    const account = await createUser({ emailVerifiedAt: new Date() });
    const { accessToken } = await signIn(account.user);
    const { verifier, challenge } = await pkcePair();
    const tokens = await signInWithProvider(idp, "keycloak", someone({ sub: crypto.randomUUID() }), {
      mode: "link",
      token: accessToken,
      json: true,
      cookieNotKept: true,
      redirectUri: "com.example.app://auth/callback",
      codeChallenge: challenge,
      codeVerifier: verifier,
    });
    expect(tokens.user.id).toBe(account.user.id);
    expect(await identitiesOf(accessToken)).toEqual([expect.objectContaining({ provider: "keycloak" })]);
  });

  it("an identity of another account: identity_already_linked", async () => {
    const person = someone();
    await signInWithProvider(idp, "google", person);
    const other = await createUser({ emailVerifiedAt: new Date() });
    const { accessToken } = await signIn(other.user);
    const params = await signInUntilRedirect(idp, "google", person, {
      mode: "link",
      token: accessToken,
      json: true,
    });
    expect(params.get("error")).toBe("identity_already_linked");
    expect(await identityRows(other.user.id)).toHaveLength(0);
  });

  it("needs a person's access token from a recent sign-in", async () => {
    const noToken = await providersApi(
      "GET",
      `/api/v1/auth/oauth/google/authorize?mode=link&redirect_uri=${encodeURIComponent("https://app.example.test/auth/callback")}`,
    );
    expect(noToken.status).toBe(401);
    const account = await createUser({ emailVerifiedAt: new Date() });
    const stale = await signIn(account.user, {}, { at: Date.now() - 700_000 });
    const res = await providersApi(
      "GET",
      `/api/v1/auth/oauth/google/authorize?mode=link&redirect_uri=${encodeURIComponent("https://app.example.test/auth/callback")}`,
      { token: stale.accessToken, headers: { accept: "application/json" } },
    );
    expect((await problemOf(res, 403)).code).toBe("reauthentication_required");
  });
});

describe("DELETE /api/v1/users/me/identities/{id}", () => {
  it("unlinks while a password remains; the provider then signs up someone new", async () => {
    const account = await createUser({ emailVerifiedAt: new Date() });
    const { accessToken } = await signIn(account.user);
    const person = someone();
    await signInWithProvider(idp, "google", person, { mode: "link", token: accessToken, json: true });
    const [identity] = await identitiesOf(accessToken);
    expect(
      (await asProviders(accessToken).delete(`/api/v1/users/me/identities/${identity?.id}`)).status,
    ).toBe(204);
    expect(await identitiesOf(accessToken)).toEqual([]);
    const audit = await db
      .select()
      .from(auditLogs)
      .where(and(eq(auditLogs.action, "auth.identity_unlinked"), eq(auditLogs.targetId, account.user.id)));
    expect(audit).toHaveLength(1);
    expect((await signInWithProvider(idp, "google", person)).is_new_user).toBe(true);
  });

  it("409 last_sign_in_method for the only way in; with two identities one may go, not both", async () => {
    const tokens = await signInWithProvider(idp, "google", someone());
    const [google] = await identitiesOf(tokens.access_token);
    const only = await asProviders(tokens.access_token).delete(`/api/v1/users/me/identities/${google?.id}`);
    expect((await problemOf(only, 409)).code).toBe("last_sign_in_method");

    await signInWithProvider(idp, "github", someone(), {
      mode: "link",
      token: tokens.access_token,
      json: true,
    });
    const both = await identitiesOf(tokens.access_token);
    expect(both).toHaveLength(2);
    const [first, second] = await Promise.all(
      both.map((identity) =>
        asProviders(tokens.access_token).delete(`/api/v1/users/me/identities/${identity.id}`),
      ),
    );
    expect([first?.status, second?.status].sort()).toEqual([204, 409]);
    expect(await identitiesOf(tokens.access_token)).toHaveLength(1);
  });

  it("another account's identity is a 404; a stale sign-in must re-authenticate", async () => {
    const someoneElse = await signInWithProvider(idp, "google", someone());
    const [theirs] = await identitiesOf(someoneElse.access_token);
    const account = await createUser({ emailVerifiedAt: new Date() });
    const mine = await signIn(account.user);
    const res = await asProviders(mine.accessToken).delete(`/api/v1/users/me/identities/${theirs?.id}`);
    expect((await problemOf(res, 404)).code).toBe("not_found");
    expect(await identitiesOf(someoneElse.access_token)).toHaveLength(1);

    await signInWithProvider(idp, "github", someone(), {
      mode: "link",
      token: mine.accessToken,
      json: true,
    });
    const [linked] = await identitiesOf(mine.accessToken);
    const stale = await signIn(account.user, {}, { at: Date.now() - 700_000 });
    const refused = await asProviders(stale.accessToken).delete(`/api/v1/users/me/identities/${linked?.id}`);
    expect((await problemOf(refused, 403)).code).toBe("reauthentication_required");
    const withPassword = await asProviders(stale.accessToken).delete(
      `/api/v1/users/me/identities/${linked?.id}`,
      {
        current_password: DEFAULT_PASSWORD,
      },
    );
    expect(withPassword.status).toBe(204);
  });
});

describe("sessions and devices", () => {
  const FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
  const ANDROID =
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";

  it("a provider sign-in from a new device sends the new-device alert, as a password sign-in does", async () => {
    const person = someone();
    await signInWithProvider(idp, "google", person, { userAgent: FIREFOX });
    await signInWithProvider(idp, "google", person, { userAgent: FIREFOX });
    expect(mailbox.for(person.email, "new_device")).toHaveLength(0);
    const phone = await signInWithProvider(idp, "google", person, { userAgent: ANDROID });
    const alert = await mailbox.next(person.email, "new_device");
    expect(alert.data.device).toBe("Chrome on Android");
    expect(alert.data.revoke_url).toContain(String(claimsOf(phone.access_token).sid));
  });

  it("a native app: its system browser signs in, the app exchanges; the app is the first device, not the browser", async () => {
    const SAFARI =
      "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
    const APP = "okhttp/4.12.0";
    const person = someone();
    const { verifier, challenge } = await pkcePair();
    const options = {
      redirectUri: "com.example.app://auth/callback",
      codeChallenge: challenge,
      codeVerifier: verifier,
    };
    await signInWithProvider(idp, "google", person, { ...options, browserUserAgent: SAFARI, userAgent: APP });
    const again = await pkcePair();
    await signInWithProvider(idp, "google", person, {
      ...options,
      codeChallenge: again.challenge,
      codeVerifier: again.verifier,
      browserUserAgent: SAFARI,
      userAgent: APP,
    });
    expect(mailbox.for(person.email, "new_device")).toHaveLength(0);
  });

  it("the session is the client's that exchanged the code", async () => {
    const tokens = await signInWithProvider(idp, "google", someone(), { userAgent: ANDROID });
    const sessions = await jsonOf<Page<{ user_agent: string; current: boolean }>>(
      await as(tokens.access_token).get("/api/v1/users/me/sessions"),
      200,
    );
    expect(sessions.data).toEqual([expect.objectContaining({ user_agent: ANDROID, current: true })]);
  });
});

describe("erasure and clean-up", () => {
  it("erasing the account removes its identities; the provider account can sign up again", async () => {
    const person = someone();
    const tokens = await signInWithProvider(idp, "google", person);
    expect((await as(tokens.access_token).delete("/api/v1/users/me")).status).toBe(204);
    expect(await identityRows(tokens.user.id)).toHaveLength(0);
    expect((await signInWithProvider(idp, "google", person)).is_new_user).toBe(true);
  });

  it("the hourly job deletes flows and codes that expired unused", async () => {
    const { providerUrl, cookie } = await startSignIn("google");
    const res = await returnToCallback(idp.signIn(providerUrl, someone()), { cookie });
    expect(res.status).toBe(302);
    await startSignIn("google");
    const later = new Date(Date.now() + 11 * 60_000);
    const result = await purgeProviderSignInsJob.run(serviceContext(), later);
    expect(result).toMatchObject({
      provider_sign_in_states: expect.any(Number),
      provider_sign_in_codes: expect.any(Number),
    });
    expect(await db.select().from(providerSignInStates).all()).toHaveLength(0);
    expect(await db.select().from(providerSignInCodes).all()).toHaveLength(0);
    const code = new URL(res.headers.get("location") ?? "").searchParams.get("code") ?? "";
    expect((await problemOf(await exchangeCode(code), 400)).code).toBe("invalid_or_expired");
  });
});

describe("configuration", () => {
  const withVars = (vars: Record<string, string>) => ({ ...env, ...vars }) as Bindings;
  const keycloak = OIDC_PROVIDERS[0] as (typeof OIDC_PROVIDERS)[number];

  it.each([
    ["not JSON", "keycloak", "OIDC_PROVIDERS: must be a JSON array"],
    ["an object", JSON.stringify(keycloak), "OIDC_PROVIDERS: must be a JSON array"],
    ["no issuer", JSON.stringify([{ ...keycloak, issuer: undefined }]), "OIDC_PROVIDERS.0.issuer"],
    ["a built-in id", JSON.stringify([{ ...keycloak, id: "google" }]), "is a built-in provider"],
    ["a bad id", JSON.stringify([{ ...keycloak, id: "Key Cloak" }]), "OIDC_PROVIDERS.0.id"],
    ["twice the same id", JSON.stringify([keycloak, keycloak]), "provider ids must be unique: keycloak"],
    ["an unknown field", JSON.stringify([{ ...keycloak, secret: "x" }]), "OIDC_PROVIDERS.0"],
    [
      "an http issuer off loopback",
      JSON.stringify([{ ...keycloak, issuer: "http://sso.example.test/realms/acme" }]),
      "issuer must be https",
    ],
  ])("refuses OIDC_PROVIDERS with %s, naming it", (_, value, message) => {
    expect(() => getConfig(withVars({ OIDC_PROVIDERS: value }))).toThrow(ConfigError);
    expect(() => getConfig(withVars({ OIDC_PROVIDERS: value }))).toThrow(message);
  });

  it("accepts a local http issuer outside production only", () => {
    const local = JSON.stringify([{ ...keycloak, issuer: "http://localhost:9400" }]);
    expect(getConfig(withVars({ OIDC_PROVIDERS: local })).OIDC_PROVIDERS[0]).toMatchObject({
      issuer: "http://localhost:9400",
      scopes: ["openid", "email", "profile"],
    });
    const production = { ENVIRONMENT: "production", EMAIL_PROVIDER: "resend", OIDC_PROVIDERS: local };
    expect(() => getConfig(withVars(production))).toThrow('"keycloak" issuer must be https in production');
  });

  it("refuses a client id without its secret, and redirect URLs that are not absolute or carry a fragment", () => {
    expect(() => getConfig(withVars({ OAUTH_GOOGLE_CLIENT_ID: "x.apps.googleusercontent.com" }))).toThrow(
      "OAUTH_GOOGLE_CLIENT_SECRET: set OAUTH_GOOGLE_CLIENT_ID and OAUTH_GOOGLE_CLIENT_SECRET together",
    );
    expect(() => getConfig(withVars({ AUTH_REDIRECT_URLS: "/auth/callback" }))).toThrow("AUTH_REDIRECT_URLS");
    expect(() => getConfig(withVars({ AUTH_REDIRECT_URLS: "https://app.example.test/cb#x" }))).toThrow(
      "fragment",
    );
    expect(() => getConfig(withVars({ AUTH_REDIRECT_URLS: "javascript:alert(1)" }))).toThrow("refused");
  });

  it("a broken OIDC_PROVIDERS answers 500 configuration_error, never a half-working sign-in", async () => {
    const res = await providersApi("GET", "/api/v1/auth/providers", {
      bindings: { ...providersEnv, OIDC_PROVIDERS: "[{" } as Bindings,
    });
    expect((await problemOf(res, 500)).code).toBe("configuration_error");
  });
});
