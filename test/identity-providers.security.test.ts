/**
 * Provider sign-in as an attacker would try it: forged or defective ID tokens, a key
 * rotation, a tampered, replayed or foreign `state`, a callback opened in another
 * browser (login CSRF), one-time codes replayed, expired or stolen without the client's
 * PKCE verifier, redirect URIs that almost match the allowlist, and providers that are
 * down or answer garbage. Every refusal is an error redirect to the client (or a
 * problem+json when there is nowhere safe to redirect), never a 500, and no token ever
 * appears in a URL.
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { userIdentities, users } from "../src/db/schema";
import type { Bindings } from "../src/env";
import { JWKS_COOLDOWN_MS } from "../src/modules/auth/identity-providers/provider-metadata";
import { GOOGLE_JWKS_URI } from "../src/modules/auth/identity-providers/providers/google";
import { SIGN_IN_CODE_TTL_MS } from "../src/modules/auth/identity-providers/sign-in-codes";
import { createUser, signIn } from "./support/factories";
import { jsonOf, problemOf } from "./support/http";
import {
  bindingCookieOf,
  exchangeCode,
  fakeProvidersPerTest,
  type IdTokenDefect,
  KEYCLOAK,
  landedOn,
  MOBILE_REDIRECT_URI,
  pkcePair,
  providerAccount,
  providersApi,
  providersEnv,
  REDIRECT_URI,
  returnToCallback,
  signInUntilRedirect,
  signInWithProvider,
  startSignIn,
} from "./support/identity-providers";

vi.setConfig({ testTimeout: 30_000 });

const db = getDb(env);
const idp = fakeProvidersPerTest();
const someone = providerAccount;

const accountOf = (email: string) => db.select().from(users).where(eq(users.email, email)).get();

/** Nothing that looks like a token (JWT, refresh token) in a URL. */
function expectNoTokenIn(location: string | null) {
  expect(location).not.toBeNull();
  expect(location).not.toMatch(/eyJ|access_token|refresh_token|id_token|rt_/);
}

describe("ID tokens: every defect is refused (invalid_id_token), nobody is signed in or up", () => {
  const defects: Array<[string, IdTokenDefect]> = [
    ["a wrong nonce", { nonce: "a-nonce-from-another-sign-in-000000000000" }],
    ["another audience", { audience: "someone-elses-client.apps.googleusercontent.com" }],
    ["another issuer", { issuer: "https://accounts.evil.example" }],
    ["an expired token", { expired: true }],
    ["a bad signature (right kid, another key)", { badSignature: true }],
    ["alg: none", { algNone: true }],
    ["HS256 signed with the client secret", { hs256WithClientSecret: true }],
  ];

  for (const provider of ["google", "keycloak"] as const) {
    it.each(defects)(`${provider}: %s`, async (_, defect) => {
      const person = someone({ sub: crypto.randomUUID() });
      const params = await signInUntilRedirect(idp, provider, person, { defect });
      expect(params.get("error")).toBe("invalid_id_token");
      expect(params.get("error_description")).toBeTruthy();
      expect(params.get("code")).toBeNull();
      expect(await accountOf(person.email)).toBeUndefined();
    });
  }

  it("the provider's keys are fetched once and reused across sign-ins (and discovery too)", async () => {
    await signInWithProvider(idp, "google", someone());
    await signInWithProvider(idp, "google", someone());
    expect(idp.count(GOOGLE_JWKS_URI)).toBe(1);
    await signInWithProvider(idp, "keycloak", someone({ sub: crypto.randomUUID() }));
    await signInWithProvider(idp, "keycloak", someone({ sub: crypto.randomUUID() }));
    expect(idp.count(`${KEYCLOAK.issuer}/.well-known/openid-configuration`)).toBe(1);
    expect(idp.count(`${KEYCLOAK.issuer}/protocol/openid-connect/certs`)).toBe(1);
  });

  it("an unknown kid after a key rotation: one JWKS refresh, then the new key verifies", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    await signInWithProvider(idp, "google", someone());
    expect(idp.count(GOOGLE_JWKS_URI)).toBe(1);
    await idp.rotateKeys("google");
    // Within the cooldown an unknown kid does not make us fetch again: made-up kids cannot hammer the provider.
    expect((await signInUntilRedirect(idp, "google", someone())).get("error")).toBe("invalid_id_token");
    expect(idp.count(GOOGLE_JWKS_URI)).toBe(1);

    vi.setSystemTime(Date.now() + JWKS_COOLDOWN_MS + 1_000);
    const tokens = await signInWithProvider(idp, "google", someone());
    expect(tokens.is_new_user).toBe(true);
    expect(idp.count(GOOGLE_JWKS_URI)).toBe(2);
    await signInWithProvider(idp, "google", someone());
    expect(idp.count(GOOGLE_JWKS_URI)).toBe(2);
  });
});

describe("state: single use, bound to the provider and to the browser that started the sign-in", () => {
  it("a tampered state: 400 invalid_state, no redirect, the provider's code never traded", async () => {
    const { providerUrl, cookie } = await startSignIn("google");
    const back = idp.signIn(providerUrl, someone());
    back.searchParams.set("state", `${back.searchParams.get("state")?.slice(0, -2)}xx`);
    const res = await returnToCallback(back, { cookie });
    const problem = await problemOf(res, 400);
    expect(problem.code).toBe("invalid_state");
    expect(res.headers.get("location")).toBeNull();
    expect(idp.count("https://oauth2.googleapis.com/token")).toBe(0);
  });

  it("no state at all: 400 invalid_state", async () => {
    const res = await providersApi("GET", "/api/v1/auth/oauth/google/callback?code=4%2F0Aea");
    expect((await problemOf(res, 400)).code).toBe("invalid_state");
  });

  it("a replayed callback: the second is refused", async () => {
    const { providerUrl, cookie } = await startSignIn("google");
    const back = idp.signIn(providerUrl, someone());
    const first = await returnToCallback(back, { cookie });
    expect(landedOn(first).get("code")).toMatch(/^pc_/);
    const again = await returnToCallback(back, { cookie });
    expect((await problemOf(again, 400)).code).toBe("invalid_state");
  });

  it("a state of another provider's flow is refused at this provider's callback", async () => {
    const { providerUrl, cookie } = await startSignIn("google");
    const back = idp.signIn(providerUrl, someone());
    const elsewhere = new URL(`/api/v1/auth/oauth/github/callback${back.search}`, back);
    expect((await problemOf(await returnToCallback(elsewhere, { cookie }), 400)).code).toBe("invalid_state");
  });

  it("the callback opened without the browser's cookie (login CSRF) is refused, and so is another browser's", async () => {
    const attacker = await startSignIn("google");
    const attackersCallback = idp.signIn(attacker.providerUrl, someone());
    // The victim's browser never started that sign-in: no cookie …
    const noCookie = landedOn(await returnToCallback(attackersCallback));
    expect(noCookie.get("error")).toBe("invalid_state");
    expect(noCookie.get("code")).toBeNull();

    // … or its own cookie, from a sign-in of its own.
    const attackerAgain = await startSignIn("google");
    const victim = await startSignIn("google");
    expect(victim.cookie).not.toBe(attackerAgain.cookie);
    const otherBrowser = landedOn(
      await returnToCallback(idp.signIn(attackerAgain.providerUrl, someone()), { cookie: victim.cookie }),
    );
    expect(otherBrowser.get("error")).toBe("invalid_state");
    expect(idp.count("https://oauth2.googleapis.com/token")).toBe(0);
  });

  it("the binding cookie: __Host- prefixed, HttpOnly, Secure, SameSite=Lax, reused by a second tab", async () => {
    const first = await startSignIn("google");
    const header = first.res.headers.get("set-cookie") ?? "";
    expect(header).toMatch(/^__Host-idp_binding=[A-Za-z0-9_-]{43};/);
    expect(header).toMatch(/HttpOnly/i);
    expect(header).toMatch(/Secure/i);
    expect(header).toMatch(/SameSite=Lax/i);
    expect(header).toMatch(/Path=\//);
    const second = await startSignIn("github", { cookie: first.cookie });
    expect(bindingCookieOf(second.res)).toBe(first.cookie);
    // Both sign-ins complete in the same browser.
    const a = landedOn(
      await returnToCallback(idp.signIn(first.providerUrl, someone()), { cookie: first.cookie }),
    );
    const b = landedOn(
      await returnToCallback(idp.signIn(second.providerUrl, someone()), { cookie: first.cookie }),
    );
    expect(a.get("code")).toMatch(/^pc_/);
    expect(b.get("code")).toMatch(/^pc_/);
  });

  it("the person declines at the provider: access_denied on the client's redirect", async () => {
    const { providerUrl, cookie } = await startSignIn("github");
    const params = landedOn(await returnToCallback(idp.decline(providerUrl), { cookie }));
    expect(params.get("error")).toBe("access_denied");
    expect(params.get("error_description")).toBeTruthy();
  });

  it("a callback with a state but no code: invalid_request", async () => {
    const { providerUrl, cookie } = await startSignIn("google");
    const back = idp.signIn(providerUrl, someone());
    back.searchParams.delete("code");
    expect(landedOn(await returnToCallback(back, { cookie })).get("error")).toBe("invalid_request");
  });
});

describe("a flow bound by the client's own PKCE instead of the browser cookie", () => {
  it("a client whose requests do not keep the cookie (cross-origin SPA, native app) signs in with its verifier", async () => {
    const { verifier, challenge } = await pkcePair();
    const tokens = await signInWithProvider(idp, "google", someone(), {
      json: true,
      cookieNotKept: true,
      codeChallenge: challenge,
      codeVerifier: verifier,
    });
    expect(tokens.is_new_user).toBe(true);
  });

  it("login CSRF: the attacker's callback, opened in the victim's browser, gives a code the victim's app cannot use, and writes nothing", async () => {
    const attacker = await pkcePair();
    const { providerUrl } = await startSignIn("google", { json: true, codeChallenge: attacker.challenge });
    const attackerAtGoogle = someone();
    const params = landedOn(await returnToCallback(idp.signIn(providerUrl, attackerAtGoogle)));
    const code = params.get("code") ?? "";
    expect(code).toMatch(/^pc_/);
    // Nothing exists until the exchange.
    expect(await accountOf(attackerAtGoogle.email)).toBeUndefined();
    const victimsApp = await pkcePair();
    expect((await problemOf(await exchangeCode(code, { codeVerifier: victimsApp.verifier }), 400)).code).toBe(
      "invalid_or_expired",
    );
    expect(await accountOf(attackerAtGoogle.email)).toBeUndefined();
  });

  it("mode=link started by an attacker and completed by a victim links nothing without the attacker's code", async () => {
    const attackerAccount = await createUser({ emailVerifiedAt: new Date() });
    const { accessToken } = await signIn(attackerAccount.user);
    const attacker = await pkcePair();
    const { providerUrl } = await startSignIn("github", {
      mode: "link",
      token: accessToken,
      json: true,
      codeChallenge: attacker.challenge,
    });
    // The victim is lured to the provider URL and signs in there; the code lands in the victim's browser.
    const params = landedOn(await returnToCallback(idp.signIn(providerUrl, someone())));
    expect(params.get("code")).toMatch(/^pc_/);
    expect(
      await db.select().from(userIdentities).where(eq(userIdentities.userId, attackerAccount.user.id)).all(),
    ).toEqual([]);
  });
});

describe("the one-time code", () => {
  it("works once", async () => {
    const code = (await signInUntilRedirect(idp, "google", someone())).get("code") ?? "";
    expect((await exchangeCode(code)).status).toBe(200);
    expect((await problemOf(await exchangeCode(code), 400)).code).toBe("invalid_or_expired");
  });

  it("lives 60 seconds", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const code = (await signInUntilRedirect(idp, "google", someone())).get("code") ?? "";
    vi.setSystemTime(Date.now() + SIGN_IN_CODE_TTL_MS + 1_000);
    expect((await problemOf(await exchangeCode(code), 400)).code).toBe("invalid_or_expired");
  });

  it("a public client's PKCE: the verifier is required, must match, and a wrong one spends the code", async () => {
    const { verifier, challenge } = await pkcePair();
    const options = { codeChallenge: challenge, redirectUri: MOBILE_REDIRECT_URI };
    const missing = (await signInUntilRedirect(idp, "google", someone(), options)).get("code") ?? "";
    expect((await problemOf(await exchangeCode(missing), 400)).code).toBe("invalid_or_expired");

    const wrong = (await signInUntilRedirect(idp, "google", someone(), options)).get("code") ?? "";
    const other = await pkcePair();
    const refused = await problemOf(await exchangeCode(wrong, { codeVerifier: other.verifier }), 400);
    expect(refused).toMatchObject({ code: "invalid_or_expired", errors: [{ pointer: "/code_verifier" }] });
    expect((await problemOf(await exchangeCode(wrong, { codeVerifier: verifier }), 400)).code).toBe(
      "invalid_or_expired",
    );

    const right = (await signInUntilRedirect(idp, "google", someone(), options)).get("code") ?? "";
    expect((await exchangeCode(right, { codeVerifier: verifier })).status).toBe(200);
  });

  it("a verifier for a code issued without a challenge is refused (no PKCE downgrade)", async () => {
    const code = (await signInUntilRedirect(idp, "google", someone())).get("code") ?? "";
    const { verifier } = await pkcePair();
    expect((await problemOf(await exchangeCode(code, { codeVerifier: verifier }), 400)).code).toBe(
      "invalid_or_expired",
    );
  });

  it("a malformed body names the field", async () => {
    const res = await providersApi("POST", "/api/v1/auth/oauth/exchange", {
      body: { code: "", verifier: 1 },
    });
    const problem = await problemOf(res, 400);
    expect(problem.code).toBe("validation_failed");
  });

  it("no token in any Location: the authorize redirect, the callback redirect", async () => {
    const { res, providerUrl, cookie } = await startSignIn("google");
    expectNoTokenIn(res.headers.get("location"));
    expect(res.headers.get("cache-control")).toBe("no-store");
    const callback = await returnToCallback(idp.signIn(providerUrl, someone()), { cookie });
    expectNoTokenIn(callback.headers.get("location"));
    expect(callback.headers.get("referrer-policy")).toBe("no-referrer");
    expect([...landedOn(callback).keys()]).toEqual(["code"]);
  });
});

describe("redirect_uri: exact match against AUTH_REDIRECT_URLS, never redirected to otherwise", () => {
  it.each([
    ["a longer path", `${REDIRECT_URI}/extra`],
    ["a prefix", "https://app.example.test/auth/call"],
    ["a trailing slash", `${REDIRECT_URI}/`],
    ["another port", "https://app.example.test:8443/auth/callback"],
    ["http instead of https", "http://app.example.test/auth/callback"],
    ["a look-alike host", "https://app.example.test.evil.example/auth/callback"],
    ["an added query", `${REDIRECT_URI}?next=/admin`],
    ["a fragment", `${REDIRECT_URI}#x`],
    ["another scheme", "com.evil.app://auth/callback"],
    ["javascript:", "javascript:alert(document.cookie)"],
    ["upper-case host", "https://APP.example.test/auth/callback"],
  ])("refuses %s with 400 naming redirect_uri", async (_, redirectUri) => {
    const res = await providersApi(
      "GET",
      `/api/v1/auth/oauth/google/authorize?redirect_uri=${encodeURIComponent(redirectUri)}`,
    );
    const problem = await problemOf(res, 400);
    expect(problem.code).toBe("redirect_uri_not_allowed");
    expect(problem.errors).toEqual([expect.objectContaining({ parameter: "redirect_uri" })]);
    expect(res.headers.get("location")).toBeNull();
  });

  it("a missing redirect_uri, a challenge without its method: validation_failed naming the parameter", async () => {
    const missing = await problemOf(await providersApi("GET", "/api/v1/auth/oauth/google/authorize"), 400);
    expect(missing.errors?.[0]).toMatchObject({ parameter: "redirect_uri" });
    const { challenge } = await pkcePair();
    const res = await providersApi(
      "GET",
      `/api/v1/auth/oauth/google/authorize?redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_challenge=${challenge}`,
    );
    expect((await problemOf(res, 400)).errors?.[0]).toMatchObject({ parameter: "code_challenge_method" });
    const plain = await providersApi(
      "GET",
      `/api/v1/auth/oauth/google/authorize?redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_challenge=${challenge}&code_challenge_method=plain`,
    );
    expect((await problemOf(plain, 400)).code).toBe("validation_failed");
  });

  it("an empty AUTH_REDIRECT_URLS refuses everything", async () => {
    const res = await providersApi(
      "GET",
      `/api/v1/auth/oauth/google/authorize?redirect_uri=${encodeURIComponent(REDIRECT_URI)}`,
      { bindings: { ...providersEnv, AUTH_REDIRECT_URLS: "" } as Bindings },
    );
    expect((await problemOf(res, 400)).detail).toMatch(/AUTH_REDIRECT_URLS is empty/);
  });

  it("an unknown provider is a 404 problem on every route", async () => {
    const authorize = await providersApi(
      "GET",
      `/api/v1/auth/oauth/facebook/authorize?redirect_uri=${encodeURIComponent(REDIRECT_URI)}`,
    );
    expect((await problemOf(authorize, 404)).code).toBe("not_found");
    const callback = await providersApi("GET", "/api/v1/auth/oauth/facebook/callback?code=x&state=y");
    expect((await problemOf(callback, 404)).code).toBe("not_found");
  });
});

describe("a provider that is down or answers garbage: error=provider_unavailable, never a 500", () => {
  it.each([
    ["google.token", "throw"],
    ["google.token", 500],
    ["google.token", "garbage"],
    ["google.jwks", 500],
    ["google.jwks", "garbage"],
    ["github.token", "throw"],
    ["github.user", 500],
    ["github.emails", "garbage"],
    ["keycloak.token", "garbage"],
    ["keycloak.jwks", "throw"],
  ] as const)("%s: %s", async (endpoint, how) => {
    idp.fail(endpoint, how);
    const provider = endpoint.split(".")[0] as "google" | "github" | "keycloak";
    const person = someone();
    const params = await signInUntilRedirect(idp, provider, person);
    expect(params.get("error")).toBe("provider_unavailable");
    expect(await accountOf(person.email)).toBeUndefined();
  });

  it("the provider refuses its own code: provider_error", async () => {
    const { providerUrl, cookie } = await startSignIn("github");
    const back = idp.signIn(providerUrl, someone());
    back.searchParams.set("code", "not-a-code-github-issued");
    expect(landedOn(await returnToCallback(back, { cookie })).get("error")).toBe("provider_error");
  });

  it("discovery down at /authorize: a redirect with the error, or 503 for a JSON client", async () => {
    idp.fail("keycloak.discovery", 500);
    const res = await providersApi(
      "GET",
      `/api/v1/auth/oauth/keycloak/authorize?redirect_uri=${encodeURIComponent(REDIRECT_URI)}`,
    );
    expect(landedOn(res).get("error")).toBe("provider_unavailable");
    const json = await providersApi(
      "GET",
      `/api/v1/auth/oauth/keycloak/authorize?redirect_uri=${encodeURIComponent(REDIRECT_URI)}`,
      { headers: { accept: "application/json" } },
    );
    expect((await problemOf(json, 503)).code).toBe("provider_unavailable");
    idp.recover("keycloak.discovery");
    const { url } = await jsonOf<{ url: string }>(
      await providersApi(
        "GET",
        `/api/v1/auth/oauth/keycloak/authorize?redirect_uri=${encodeURIComponent(REDIRECT_URI)}`,
        { headers: { accept: "application/json" } },
      ),
      200,
    );
    expect(url.startsWith(`${KEYCLOAK.issuer}/protocol/openid-connect/auth?`)).toBe(true);
  });

  it("every refusal is logged with the request id", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const bindings = { ...providersEnv, LOG_LEVEL: "warn" } as Bindings;
    const { providerUrl } = await startSignIn("google", { bindings });
    // The callback arrives without the browser's cookie.
    const back = idp.signIn(providerUrl, someone());
    const res = await providersApi("GET", `${back.pathname}${back.search}`, {
      bindings,
      headers: { "x-request-id": "req-provider-refusal-1" },
    });
    expect(landedOn(res).get("error")).toBe("invalid_state");
    const lines = warn.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);
    expect(lines).toContainEqual(
      expect.objectContaining({
        msg: "provider sign-in refused: invalid_state",
        request_id: "req-provider-refusal-1",
        provider: "google",
      }),
    );
  });
});

describe("the authorization request sent to each provider", () => {
  it.each(["google", "github", "keycloak"])(
    "%s: state, PKCE S256, our callback, and a nonce for OIDC",
    async (provider) => {
      const { providerUrl } = await startSignIn(provider);
      const url = new URL(providerUrl);
      expect(url.searchParams.get("state")).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(url.searchParams.get("code_challenge_method")).toBe("S256");
      expect(url.searchParams.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(url.searchParams.get("redirect_uri")).toBe(
        `https://api.example.test/api/v1/auth/oauth/${provider}/callback`,
      );
      if (provider !== "github") expect(url.searchParams.get("nonce")).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(url.searchParams.get("response_type")).toBe("code");
    },
  );
});
