/**
 * Google, GitHub and a Keycloak realm, faked only where the Worker meets them: `fetch`
 * (vi.spyOn(globalThis, "fetch")). Each answers the requests the Worker sends with the
 * payloads the real service sends (discovery, JWKS, token, userinfo, GitHub's /user and
 * /user/emails), and checks them as the real service would: client authentication,
 * redirect_uri, single-use codes, the PKCE verifier against the challenge of the
 * authorization request. ID tokens are signed with keys made here (RS256 for Google,
 * ES256 for Keycloak), and can be made defective one way at a time.
 *
 * A test drives a sign-in as a browser would: `startSignIn()` (GET /authorize, keeping
 * the binding cookie), `idp.signIn(providerUrl, person)` (the person signs in at the
 * provider, which redirects back), `returnToCallback()` (GET /callback with the cookie),
 * then `exchangeCode()` (POST /oauth/exchange, as the client app).
 *
 * Provider sign-in needs configuration the test run does not have (vitest.config.ts
 * blanks every secret), so requests go to the Worker with `providersEnv`.
 */
import { env } from "cloudflare:workers";
import type { z } from "@hono/zod-openapi";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterEach, beforeEach, vi } from "vitest";
import type { Bindings } from "../../src/env";
import { base64urlEncode } from "../../src/lib/crypto";
import type { ProviderTokensSchema } from "../../src/modules/auth/identity-providers/identity-providers.schemas";
import { forgetProviderMetadata } from "../../src/modules/auth/identity-providers/provider-metadata";
import { GITHUB_API, GITHUB_TOKEN_URL } from "../../src/modules/auth/identity-providers/providers/github";
import { GOOGLE_JWKS_URI } from "../../src/modules/auth/identity-providers/providers/google";
import { apiWith, type RequestOptions } from "./http";

// Test fixtures, not real credentials: no Google, GitHub or Keycloak client has them.
export const API_URL = "https://api.example.test";
export const REDIRECT_URI = "https://app.example.test/auth/callback";
export const MOBILE_REDIRECT_URI = "com.example.app://auth/callback";
export const GOOGLE = {
  clientId: "1234567890-fixture.apps.googleusercontent.com",
  secret: "GOCSPX-fixture-not-a-secret",
};
export const GITHUB = {
  clientId: "Ov23liFixture0GitHub0",
  secret: "fixture0github0secret0000000000000000000",
};
export const KEYCLOAK = {
  issuer: "https://sso.example.test/realms/acme",
  clientId: "edge-api",
  secret: "fixture-keycloak-client-secret",
};
const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";

export const OIDC_PROVIDERS = [
  {
    id: "keycloak",
    name: "Acme SSO",
    issuer: KEYCLOAK.issuer,
    client_id: KEYCLOAK.clientId,
    client_secret: KEYCLOAK.secret,
  },
];

/** The test bindings with the three providers configured. One object, so its configuration is parsed once. */
export const providersEnv: Bindings = {
  ...env,
  APP_URL: API_URL,
  AUTH_REDIRECT_URLS: `${REDIRECT_URI},${MOBILE_REDIRECT_URI}`,
  OAUTH_GOOGLE_CLIENT_ID: GOOGLE.clientId,
  OAUTH_GOOGLE_CLIENT_SECRET: GOOGLE.secret,
  OAUTH_GITHUB_CLIENT_ID: GITHUB.clientId,
  OAUTH_GITHUB_CLIENT_SECRET: GITHUB.secret,
  OIDC_PROVIDERS: JSON.stringify(OIDC_PROVIDERS),
};

export const callbackUrlOf = (provider: string) => `${API_URL}/api/v1/auth/oauth/${provider}/callback`;

/** A request to the Worker with `bindings` (providersEnv unless given). */
export function providersApi(
  method: string,
  path: string,
  options: RequestOptions & { bindings?: Bindings } = {},
): Promise<Response> {
  const { bindings = providersEnv, ...request } = options;
  return apiWith(bindings, method, path, request);
}

export type ProviderName = "google" | "github" | "keycloak";

/** Someone with an account at a provider. */
export type Person = {
  sub: string;
  email?: string | null;
  emailVerified?: boolean;
  givenName?: string;
  familyName?: string;
  /** Keycloak with a client scope mapping `email` to userinfo only: the ID token carries no address. */
  emailOnlyInUserinfo?: boolean;
};

/** One thing wrong with an ID token. */
export type IdTokenDefect =
  | { nonce: string }
  | { audience: string }
  | { issuer: string }
  | { expired: true }
  | { badSignature: true }
  | { algNone: true }
  | { hs256WithClientSecret: true };

/** How a provider endpoint fails: no answer, a 500, or a 200 that is not JSON. */
export type Outage = "throw" | 500 | "garbage";
export type Endpoint =
  | "google.token"
  | "google.jwks"
  | "github.token"
  | "github.user"
  | "github.emails"
  | "keycloak.discovery"
  | "keycloak.token"
  | "keycloak.jwks"
  | "keycloak.userinfo";

type SigningKey = { kid: string; alg: "RS256" | "ES256"; privateKey: CryptoKey; publicJwk: JWK };

async function newSigningKey(alg: "RS256" | "ES256", kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

type Grant = {
  provider: ProviderName;
  person: Person;
  nonce: string | null;
  challenge: string | null;
  redirectUri: string;
  defect?: IdTokenDefect;
};

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });

const s256 = async (verifier: string) =>
  base64urlEncode(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));

const randomId = (bytes = 24) => base64urlEncode(crypto.getRandomValues(new Uint8Array(bytes)));

export type FakeProviders = Awaited<ReturnType<typeof fakeProviders>>;

/** Installs the fake providers on `fetch`; vi.restoreAllMocks() removes them. */
export async function fakeProviders() {
  const keys: Record<"google" | "keycloak", SigningKey[]> = {
    google: [await newSigningKey("RS256", "f2e11986282de93f27b264fd2a4de192993dcb8c")],
    keycloak: [await newSigningKey("ES256", "q5mHk0yW4gL1aXf9VhB2cJ7uT3nR8sDe")],
  };
  const grants = new Map<string, Grant>();
  const outages = new Map<Endpoint, Outage>();
  const requests: Array<{ method: string; url: string }> = [];
  const accessTokens = new Map<string, Person>();

  const outage = (endpoint: Endpoint): Response | null => {
    const kind = outages.get(endpoint);
    if (kind === undefined) return null;
    if (kind === "throw") throw new TypeError("fetch failed: connect ECONNREFUSED");
    if (kind === 500) return new Response("<html><body>Internal Server Error</body></html>", { status: 500 });
    return new Response("<html><body>We'll be right back</body></html>", {
      status: 200,
      headers: { "content-type": "application/json" },
    });
  };

  async function idToken(grant: Grant, provider: "google" | "keycloak"): Promise<string> {
    const [key] = keys[provider] as [SigningKey];
    const clientId = provider === "google" ? GOOGLE.clientId : KEYCLOAK.clientId;
    const issuer = provider === "google" ? "https://accounts.google.com" : KEYCLOAK.issuer;
    const now = Math.floor(Date.now() / 1000);
    const { person, defect } = grant;
    const name = [person.givenName, person.familyName].filter(Boolean).join(" ");
    const claims: Record<string, unknown> =
      provider === "google"
        ? {
            iss: issuer,
            azp: clientId,
            aud: clientId,
            sub: person.sub,
            ...(person.email ? { email: person.email, email_verified: person.emailVerified ?? true } : {}),
            at_hash: randomId(16),
            nonce: grant.nonce,
            ...(name ? { name, given_name: person.givenName, family_name: person.familyName } : {}),
            picture: "https://lh3.googleusercontent.com/a/ACg8ocJ-fixture=s96-c",
            iat: now,
            exp: now + 3600,
          }
        : {
            exp: now + 300,
            iat: now,
            auth_time: now - 5,
            jti: crypto.randomUUID(),
            iss: issuer,
            aud: clientId,
            sub: person.sub,
            typ: "ID",
            azp: clientId,
            nonce: grant.nonce,
            sid: crypto.randomUUID(),
            at_hash: randomId(16),
            acr: "1",
            ...(person.email && !person.emailOnlyInUserinfo
              ? { email_verified: person.emailVerified ?? true, email: person.email }
              : {}),
            ...(name ? { name, given_name: person.givenName, family_name: person.familyName } : {}),
            preferred_username: person.email ?? person.sub,
          };
    if (defect && "nonce" in defect) claims.nonce = defect.nonce;
    if (defect && "audience" in defect) claims.aud = defect.audience;
    if (defect && "issuer" in defect) claims.iss = defect.issuer;
    if (defect && "expired" in defect) {
      claims.iat = now - 7200;
      claims.exp = now - 3600;
    }
    const encode = (value: unknown) => base64urlEncode(new TextEncoder().encode(JSON.stringify(value)));
    if (defect && "algNone" in defect) {
      return `${encode({ alg: "none", typ: "JWT" })}.${encode(claims)}.`;
    }
    if (defect && "hs256WithClientSecret" in defect) {
      const secret = provider === "google" ? GOOGLE.secret : KEYCLOAK.secret;
      return new SignJWT(claims)
        .setProtectedHeader({ alg: "HS256", kid: key.kid, typ: "JWT" })
        .sign(new TextEncoder().encode(secret));
    }
    const signer =
      defect && "badSignature" in defect
        ? (await newSigningKey(key.alg, key.kid)).privateKey
        : key.privateKey;
    return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT" }).sign(signer);
  }

  /** The token endpoint's checks, as the provider makes them; the grant when they pass. */
  async function redeem(
    provider: ProviderName,
    request: Request,
    client: { clientId: string; secret: string },
  ): Promise<Grant | null> {
    const form = new URLSearchParams(await request.text());
    const basic = `Basic ${btoa(`${client.clientId}:${client.secret}`)}`;
    const code = form.get("code") ?? "";
    const grant = grants.get(code);
    grants.delete(code);
    if (request.headers.get("authorization") !== basic) return null;
    if (form.get("grant_type") !== "authorization_code" || !grant || grant.provider !== provider) return null;
    if (form.get("redirect_uri") !== grant.redirectUri) return null;
    if (grant.challenge !== null && (await s256(form.get("code_verifier") ?? "")) !== grant.challenge)
      return null;
    return grant;
  }

  const personOf = (request: Request) =>
    accessTokens.get(request.headers.get("authorization")?.replace(/^Bearer /, "") ?? "");

  async function answer(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const at = `${url.origin}${url.pathname}`;
    requests.push({ method: request.method, url: at });

    if (at === GOOGLE_TOKEN_URL) {
      const down = outage("google.token");
      if (down) return down;
      const grant = await redeem("google", request, GOOGLE);
      if (!grant) return json({ error: "invalid_grant", error_description: "Bad Request" }, 400);
      const accessToken = `ya29.a0AfB_${randomId(60)}`;
      accessTokens.set(accessToken, grant.person);
      return json({
        access_token: accessToken,
        expires_in: 3599,
        scope:
          "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile",
        token_type: "Bearer",
        id_token: await idToken(grant, "google"),
      });
    }
    if (at === GOOGLE_JWKS_URI) {
      return (
        outage("google.jwks") ??
        json({ keys: keys.google.map((key) => key.publicJwk) }, 200, {
          "cache-control": "public, max-age=23190",
        })
      );
    }

    if (at === GITHUB_TOKEN_URL) {
      const down = outage("github.token");
      if (down) return down;
      const grant = await redeem("github", request, GITHUB);
      if (!grant) {
        // GitHub answers a refused code with a 200.
        return json({
          error: "bad_verification_code",
          error_description: "The code passed is incorrect or expired.",
          error_uri:
            "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code",
        });
      }
      const accessToken = `gho_${randomId(27)}`;
      accessTokens.set(accessToken, grant.person);
      return json({ access_token: accessToken, token_type: "bearer", scope: "read:user,user:email" });
    }
    if (at === `${GITHUB_API}/user`) {
      const down = outage("github.user");
      if (down) return down;
      const person = personOf(request);
      if (!person)
        return json(
          { message: "Bad credentials", documentation_url: "https://docs.github.com/rest", status: "401" },
          401,
        );
      return json(githubUser(person));
    }
    if (at === `${GITHUB_API}/user/emails`) {
      const down = outage("github.emails");
      if (down) return down;
      const person = personOf(request);
      if (!person) return json({ message: "Bad credentials", status: "401" }, 401);
      return json(
        person.email
          ? [
              {
                email: person.email,
                primary: true,
                verified: person.emailVerified ?? true,
                visibility: "private",
              },
              {
                email: `${person.sub}+octo@users.noreply.github.com`,
                primary: false,
                verified: true,
                visibility: null,
              },
            ]
          : [],
      );
    }

    if (at === `${KEYCLOAK.issuer}/.well-known/openid-configuration`) {
      return outage("keycloak.discovery") ?? json(keycloakDiscovery());
    }
    if (at === `${KEYCLOAK.issuer}/protocol/openid-connect/certs`) {
      return outage("keycloak.jwks") ?? json({ keys: keys.keycloak.map((key) => key.publicJwk) });
    }
    if (at === `${KEYCLOAK.issuer}/protocol/openid-connect/token`) {
      const down = outage("keycloak.token");
      if (down) return down;
      const grant = await redeem("keycloak", request, {
        clientId: KEYCLOAK.clientId,
        secret: KEYCLOAK.secret,
      });
      if (!grant) return json({ error: "invalid_grant", error_description: "Code not valid" }, 400);
      const accessToken = `eyJhbGciOiJSUzI1NiJ9.${randomId(120)}.${randomId(64)}`;
      accessTokens.set(accessToken, grant.person);
      return json({
        access_token: accessToken,
        expires_in: 300,
        refresh_expires_in: 1800,
        refresh_token: `eyJhbGciOiJIUzUxMiJ9.${randomId(90)}.${randomId(43)}`,
        token_type: "Bearer",
        id_token: await idToken(grant, "keycloak"),
        "not-before-policy": 0,
        session_state: crypto.randomUUID(),
        scope: "openid email profile",
      });
    }
    if (at === `${KEYCLOAK.issuer}/protocol/openid-connect/userinfo`) {
      const down = outage("keycloak.userinfo");
      if (down) return down;
      const person = personOf(request);
      if (!person)
        return json({ error: "invalid_token", error_description: "Token verification failed" }, 401);
      return json({
        sub: person.sub,
        ...(person.email ? { email_verified: person.emailVerified ?? true, email: person.email } : {}),
        preferred_username: person.email ?? person.sub,
      });
    }
    throw new Error(`unexpected fetch in a provider test: ${request.method} ${at}`);
  }

  const spy = vi
    .spyOn(globalThis, "fetch")
    .mockImplementation(async (input, init) => answer(new Request(input, init)));

  return {
    spy,
    /** Every request the Worker sent to a provider (origin and path only). */
    requests,
    /** How many requests went to `url` so far. */
    count: (url: string) => requests.filter((request) => request.url === url).length,
    /**
     * The person signs in at the provider the authorization URL points to (and consents);
     * the provider sends the browser back: the callback URL with `code` and `state`.
     */
    signIn(authorizationUrl: string, person: Person, defect?: IdTokenDefect): URL {
      const url = new URL(authorizationUrl);
      const provider = providerOf(url);
      const code =
        provider === "google"
          ? `4/0AeaYSH${randomId(50)}`
          : provider === "github"
            ? randomId(15)
            : `${crypto.randomUUID()}.${crypto.randomUUID()}`;
      grants.set(code, {
        provider,
        person,
        nonce: url.searchParams.get("nonce"),
        challenge: url.searchParams.get("code_challenge"),
        redirectUri: url.searchParams.get("redirect_uri") ?? "",
        defect,
      });
      const back = new URL(url.searchParams.get("redirect_uri") ?? "");
      back.searchParams.set("code", code);
      back.searchParams.set("state", url.searchParams.get("state") ?? "");
      if (provider === "google") {
        back.searchParams.set("scope", "email profile openid https://www.googleapis.com/auth/userinfo.email");
        back.searchParams.set("authuser", "0");
        back.searchParams.set("prompt", "consent");
      }
      if (provider === "keycloak") {
        back.searchParams.set("session_state", crypto.randomUUID());
        back.searchParams.set("iss", KEYCLOAK.issuer);
      }
      return back;
    },
    /** The person declines at the provider: it sends the browser back with `error=access_denied`. */
    decline(authorizationUrl: string): URL {
      const url = new URL(authorizationUrl);
      const back = new URL(url.searchParams.get("redirect_uri") ?? "");
      back.searchParams.set("error", "access_denied");
      back.searchParams.set("error_description", "The user denied the request");
      back.searchParams.set("state", url.searchParams.get("state") ?? "");
      return back;
    },
    /** The provider rotates its signing key: its JWKS now lists only a new key, under a new kid. */
    async rotateKeys(provider: "google" | "keycloak"): Promise<string> {
      const alg = provider === "google" ? "RS256" : "ES256";
      const key = await newSigningKey(alg, `rotated-${randomId(8)}`);
      keys[provider] = [key];
      return key.kid;
    },
    fail(endpoint: Endpoint, how: Outage) {
      outages.set(endpoint, how);
    },
    recover(endpoint: Endpoint) {
      outages.delete(endpoint);
    },
  };
}

/**
 * Fake providers that always are the running test's, as `mailboxPerTest()` does for email:
 * each test gets fresh ones, and this isolate's cached discovery documents and keys are
 * forgotten, so no test sees another's keys.
 */
export function fakeProvidersPerTest(): FakeProviders {
  let current: FakeProviders | undefined;
  beforeEach(async () => {
    forgetProviderMetadata();
    current = await fakeProviders();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });
  return new Proxy({} as FakeProviders, {
    get(_, key) {
      if (!current) throw new Error("fakeProvidersPerTest(): the providers are used outside a test");
      return current[key as keyof FakeProviders];
    },
  });
}

let people = 0;

/** Someone with an account at a provider: a fresh numeric id (GitHub's ids are numbers) and a fresh address. */
export function providerAccount(overrides: Partial<Person> = {}): Person & { sub: string; email: string } {
  people += 1;
  return {
    sub: `${people}${Math.floor(100_000 + Math.random() * 899_999)}`,
    email: `idp-${crypto.randomUUID().slice(0, 8)}@example.com`,
    emailVerified: true,
    givenName: "Ada",
    familyName: "Lovelace",
    ...overrides,
  } as Person & { sub: string; email: string };
}

function providerOf(url: URL): ProviderName {
  if (url.hostname === "accounts.google.com") return "google";
  if (url.hostname === "github.com") return "github";
  if (url.href.startsWith(KEYCLOAK.issuer)) return "keycloak";
  throw new Error(`not a provider's authorization URL: ${url.origin}${url.pathname}`);
}

/** GET /user as GitHub answers it for an OAuth app token with read:user. */
function githubUser(person: Person) {
  const login = (person.email?.split("@")[0] ?? `octo${person.sub}`).replace(/[^A-Za-z0-9-]/g, "-");
  return {
    login,
    id: Number(person.sub),
    node_id: `MDQ6VXNlcj${person.sub}`,
    avatar_url: `https://avatars.githubusercontent.com/u/${person.sub}?v=4`,
    gravatar_id: "",
    url: `https://api.github.com/users/${login}`,
    html_url: `https://github.com/${login}`,
    type: "User",
    user_view_type: "private",
    site_admin: false,
    name: [person.givenName, person.familyName].filter(Boolean).join(" ") || null,
    company: null,
    blog: "",
    location: "London",
    // The public email only; private addresses come from /user/emails.
    email: null,
    hireable: null,
    bio: null,
    twitter_username: null,
    notification_email: null,
    public_repos: 8,
    public_gists: 0,
    followers: 12,
    following: 3,
    created_at: "2014-02-10T11:12:13Z",
    updated_at: "2026-10-01T09:08:07Z",
  };
}

/** Keycloak 26's discovery document for a realm (the fields a client reads, and some it does not). */
function keycloakDiscovery() {
  const base = `${KEYCLOAK.issuer}/protocol/openid-connect`;
  return {
    issuer: KEYCLOAK.issuer,
    authorization_endpoint: `${base}/auth`,
    token_endpoint: `${base}/token`,
    introspection_endpoint: `${base}/token/introspect`,
    userinfo_endpoint: `${base}/userinfo`,
    end_session_endpoint: `${base}/logout`,
    frontchannel_logout_session_supported: true,
    frontchannel_logout_supported: true,
    jwks_uri: `${base}/certs`,
    check_session_iframe: `${base}/login-status-iframe.html`,
    grant_types_supported: [
      "authorization_code",
      "implicit",
      "refresh_token",
      "password",
      "client_credentials",
    ],
    acr_values_supported: ["0", "1"],
    response_types_supported: ["code", "none", "id_token", "token", "id_token token", "code id_token"],
    subject_types_supported: ["public", "pairwise"],
    id_token_signing_alg_values_supported: [
      "PS384",
      "RS384",
      "EdDSA",
      "ES384",
      "HS256",
      "HS512",
      "ES256",
      "RS256",
      "HS384",
      "ES512",
      "PS256",
      "PS512",
      "RS512",
    ],
    userinfo_signing_alg_values_supported: [
      "PS384",
      "RS384",
      "EdDSA",
      "ES384",
      "HS256",
      "ES256",
      "RS256",
      "none",
    ],
    response_modes_supported: [
      "query",
      "fragment",
      "form_post",
      "query.jwt",
      "fragment.jwt",
      "form_post.jwt",
      "jwt",
    ],
    registration_endpoint: `${KEYCLOAK.issuer}/clients-registrations/openid-connect`,
    token_endpoint_auth_methods_supported: [
      "private_key_jwt",
      "client_secret_basic",
      "client_secret_post",
      "tls_client_auth",
      "client_secret_jwt",
    ],
    claims_supported: [
      "aud",
      "sub",
      "iss",
      "auth_time",
      "name",
      "given_name",
      "family_name",
      "preferred_username",
      "email",
      "acr",
    ],
    claim_types_supported: ["normal"],
    claims_parameter_supported: true,
    scopes_supported: [
      "openid",
      "email",
      "profile",
      "roles",
      "web-origins",
      "acr",
      "basic",
      "offline_access",
    ],
    request_parameter_supported: true,
    request_uri_parameter_supported: true,
    require_request_uri_registration: true,
    code_challenge_methods_supported: ["plain", "S256"],
    tls_client_certificate_bound_access_tokens: true,
    revocation_endpoint: `${base}/revoke`,
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
    authorization_response_iss_parameter_supported: true,
  };
}

// ---------------------------------------------------------------------------
// Driving a sign-in as a browser and a client app would

export type ProviderTokens = z.infer<typeof ProviderTokensSchema>;

/** `name=value` of the binding cookie a response set, for the browser's next request. */
export function bindingCookieOf(res: Response): string {
  const header = res.headers.get("set-cookie") ?? "";
  const cookie = header.split(";")[0] ?? "";
  if (!/idp_binding=/.test(cookie)) throw new Error(`no binding cookie set: ${header}`);
  return cookie;
}

export type StartOptions = {
  redirectUri?: string;
  mode?: "signin" | "link";
  /** A person's access token (mode=link). */
  token?: string;
  codeChallenge?: string;
  /** The browser's cookie from an earlier sign-in. */
  cookie?: string;
  json?: boolean;
  bindings?: Bindings;
  ip?: string;
  userAgent?: string;
};

/** GET /authorize as the browser (or, `json`, the client app) sends it: the provider URL and the binding cookie. */
export async function startSignIn(provider: string, options: StartOptions = {}) {
  const query = new URLSearchParams({ redirect_uri: options.redirectUri ?? REDIRECT_URI });
  if (options.mode) query.set("mode", options.mode);
  if (options.codeChallenge) {
    query.set("code_challenge", options.codeChallenge);
    query.set("code_challenge_method", "S256");
  }
  const headers: Record<string, string> = {};
  if (options.cookie) headers.cookie = options.cookie;
  if (options.json) headers.accept = "application/json";
  if (options.userAgent) headers["user-agent"] = options.userAgent;
  const res = await providersApi("GET", `/api/v1/auth/oauth/${provider}/authorize?${query}`, {
    headers,
    token: options.token,
    bindings: options.bindings,
    ip: options.ip,
  });
  if (options.json) {
    const text = await res.text();
    if (res.status !== 200)
      throw new Error(`authorize: expected 200, got ${res.status}: ${text.slice(0, 300)}`);
    return { res, providerUrl: (JSON.parse(text) as { url: string }).url, cookie: bindingCookieOf(res) };
  }
  if (res.status !== 302)
    throw new Error(`authorize: expected 302, got ${res.status}: ${(await res.text()).slice(0, 300)}`);
  return { res, providerUrl: res.headers.get("location") ?? "", cookie: bindingCookieOf(res) };
}

/** The browser follows the provider's redirect to our callback (with its cookie, unless `cookie` says otherwise). */
export function returnToCallback(
  callbackUrl: URL,
  options: { cookie?: string; bindings?: Bindings; ip?: string; userAgent?: string } = {},
): Promise<Response> {
  const headers: Record<string, string> = {};
  if (options.cookie) headers.cookie = options.cookie;
  if (options.userAgent) headers["user-agent"] = options.userAgent;
  return providersApi("GET", `${callbackUrl.pathname}${callbackUrl.search}`, {
    headers,
    bindings: options.bindings,
    ip: options.ip,
  });
}

/** Where the callback sent the browser: asserts a 302 to `redirectUri`, and returns its query. */
export function landedOn(res: Response, redirectUri = REDIRECT_URI): URLSearchParams {
  const location = res.headers.get("location");
  if (res.status !== 302 || !location) throw new Error(`expected a 302, got ${res.status}`);
  const url = new URL(location);
  const without = `${url.protocol}//${url.host}${url.pathname}`;
  if (without !== redirectUri) throw new Error(`redirected to ${without}, not ${redirectUri}`);
  return url.searchParams;
}

/** POST /oauth/exchange as the client app. */
export function exchangeCode(
  code: string,
  options: { codeVerifier?: string; bindings?: Bindings; ip?: string; userAgent?: string } = {},
): Promise<Response> {
  return providersApi("POST", "/api/v1/auth/oauth/exchange", {
    body: { code, ...(options.codeVerifier ? { code_verifier: options.codeVerifier } : {}) },
    bindings: options.bindings,
    ip: options.ip,
    headers: options.userAgent ? { "user-agent": options.userAgent } : {},
  });
}

export type SignInOptions = StartOptions & {
  defect?: IdTokenDefect;
  codeVerifier?: string;
  /** The client's requests do not share the browser's cookies (a cross-origin SPA, a native app): the callback arrives without it. */
  cookieNotKept?: boolean;
  /** The browser's User-Agent at /authorize and the callback, when it is not the client's (a native app's system browser). */
  browserUserAgent?: string;
};

/** The whole sign-in up to the client's redirect: the query the client's page receives (`code`, or `error`). */
export async function signInUntilRedirect(
  idp: FakeProviders,
  provider: string,
  person: Person,
  options: SignInOptions = {},
): Promise<URLSearchParams> {
  const userAgent = options.browserUserAgent ?? options.userAgent;
  const { providerUrl, cookie } = await startSignIn(provider, { ...options, userAgent });
  const res = await returnToCallback(idp.signIn(providerUrl, person, options.defect), {
    cookie: options.cookieNotKept ? undefined : cookie,
    bindings: options.bindings,
    ip: options.ip,
    userAgent,
  });
  return landedOn(res, options.redirectUri);
}

/** The whole sign-in, exchange included, asserting it succeeds: the token pair. */
export async function signInWithProvider(
  idp: FakeProviders,
  provider: string,
  person: Person,
  options: SignInOptions = {},
): Promise<ProviderTokens> {
  const params = await signInUntilRedirect(idp, provider, person, options);
  const code = params.get("code");
  if (!code)
    throw new Error(`the sign-in failed: ${params.get("error")}: ${params.get("error_description")}`);
  const res = await exchangeCode(code, options);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`exchange: expected 200, got ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as ProviderTokens;
}

/** A PKCE pair as a public client makes one (RFC 7636 S256). */
export async function pkcePair(): Promise<{ verifier: string; challenge: string }> {
  const verifier = randomId(32);
  return { verifier, challenge: await s256(verifier) };
}
