/**
 * POST /api/v1/oauth/token: RFC 6749 §4.4 client credentials with an API key as
 * the client. Form and JSON bodies, HTTP Basic, scope narrowing, RFC 6749 error
 * bodies, and the token's life: bound to the key, refused once the key is revoked.
 */
import { env } from "cloudflare:workers";
import type { z } from "@hono/zod-openapi";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createApp } from "../src/app";
import type { Organization } from "../src/db/schema";
import { getKeyRing, InvalidTokenError, verifyAccessToken, verifyClientAccessToken } from "../src/lib/jwt";
import { generateApiKey } from "../src/modules/api-keys/key-format";
import { looksLikeClientToken } from "../src/modules/oauth/client-token-resolver";
import type { OAuthErrorSchema, TokenResponse } from "../src/modules/oauth/oauth.schemas";
import type { OrgDto } from "../src/modules/orgs/orgs.schemas";
import { createUser, signIn, type TestUser } from "./support/factories";
import { api, as, jsonOf, problemOf } from "./support/http";
import { createApiKey, createOrg, type TestApiKey } from "./support/orgs";
import { decodeSegment, signCustom, tokenSettings } from "./support/tokens";

vi.setConfig({ testTimeout: 30_000 });

/** RFC 6749 §5.2 error body (application/json, not problem+json). */
type OAuthErrorBody = z.infer<typeof OAuthErrorSchema>;

let owner: TestUser;
let org: Organization;
let key: TestApiKey;
beforeAll(async () => {
  owner = await createUser();
  org = await createOrg(owner.user);
  key = await createApiKey(org, { scopes: ["org:read", "tasks:read"] });
});
afterEach(() => {
  vi.useRealTimers();
});

const form = (params: Record<string, string>, headers: Record<string, string> = {}) =>
  api("POST", "/api/v1/oauth/token", {
    rawBody: new URLSearchParams(params).toString(),
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
  });
const json = (body: unknown, headers: Record<string, string> = {}) =>
  api("POST", "/api/v1/oauth/token", { body, headers });
const basic = (id: string, secret: string) => ({
  authorization: `Basic ${btoa(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`)}`,
});

/** An RFC 6749 error: JSON (not problem+json), never cached, with the code asked for. */
async function oauthError(res: Response, status: number, code: string): Promise<OAuthErrorBody> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  expect(res.headers.get("cache-control")).toBe("no-store");
  const body = JSON.parse(text) as OAuthErrorBody;
  expect(Object.keys(body).sort()).toEqual(["error", "error_description"]);
  expect(body.error).toBe(code);
  return body;
}

const credentials = () => ({
  grant_type: "client_credentials",
  client_id: key.key.id,
  client_secret: key.secret,
});

describe("issuing tokens", () => {
  it("takes a form body and answers a Bearer token for the key's organization with all its scopes", async () => {
    const res = await form(credentials());
    const body = await jsonOf<TokenResponse>(res, 200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("pragma")).toBe("no-cache");
    expect(body).toMatchObject({ token_type: "Bearer", expires_in: 900, scope: "org:read tasks:read" });

    const [header, payload] = body.access_token.split(".") as [string, string];
    expect(decodeSegment(header)).toMatchObject({ alg: "ES256", typ: "at+jwt" });
    const claims = decodeSegment(payload);
    expect(claims).toMatchObject({
      sub: key.key.id,
      client_id: key.key.id,
      org_id: org.id,
      scope: "org:read tasks:read",
      iss: tokenSettings().issuer,
      aud: tokenSettings().audience,
    });
    expect(claims.sid).toBeUndefined();

    const used = await api("GET", `/api/v1/orgs/${org.id}`, { token: body.access_token });
    expect((await jsonOf<OrgDto>(used, 200)).role).toBeNull();
  });

  it("takes a JSON body, and HTTP Basic client credentials", async () => {
    expect((await json(credentials())).status).toBe(200);
    const viaBasic = await form({ grant_type: "client_credentials" }, basic(key.key.id, key.secret));
    expect((await jsonOf<TokenResponse>(viaBasic, 200)).scope).toBe("org:read tasks:read");
  });

  it("narrows to the scopes asked for; the token cannot do what they leave out", async () => {
    const narrowed = await jsonOf<TokenResponse>(await form({ ...credentials(), scope: "tasks:read" }), 200);
    expect(narrowed.scope).toBe("tasks:read");
    const refused = await api("GET", `/api/v1/orgs/${org.id}`, { token: narrowed.access_token });
    expect((await problemOf(refused, 403)).code).toBe("insufficient_scope");
  });

  it("ignores parameters it does not know, and treats empty ones as omitted (RFC 6749 §3.1, §3.2)", async () => {
    const res = await form({ ...credentials(), scope: "", audience: "something", resource: "x" });
    expect((await jsonOf<TokenResponse>(res, 200)).scope).toBe("org:read tasks:read");
  });

  it("never outlives the key, nor an old secret in its rotation grace period", async () => {
    const expiring = await createApiKey(org, { expiresAt: new Date(Date.now() + 120_000) });
    const body = await jsonOf<TokenResponse>(
      await form({
        grant_type: "client_credentials",
        client_id: expiring.key.id,
        client_secret: expiring.secret,
      }),
      200,
    );
    expect(body.expires_in).toBeGreaterThan(100);
    expect(body.expires_in).toBeLessThanOrEqual(120);

    const rotating = await createApiKey(org);
    const ownerToken = (await signIn(owner.user)).accessToken;
    await as(ownerToken).post(`/api/v1/orgs/${org.id}/api-keys/${rotating.key.id}/rotate`, {
      body: { grace_period_seconds: 300 },
    });
    const graced = await jsonOf<TokenResponse>(
      await form({
        grant_type: "client_credentials",
        client_id: rotating.key.id,
        client_secret: rotating.secret,
      }),
      200,
    );
    expect(graced.expires_in).toBeLessThanOrEqual(300);
  });
});

describe("the token's life follows the key", () => {
  it("is refused at once when the key is revoked, and when it expires", async () => {
    const short = await createApiKey(org);
    const token = (
      await jsonOf<TokenResponse>(
        await form({
          grant_type: "client_credentials",
          client_id: short.key.id,
          client_secret: short.secret,
        }),
        200,
      )
    ).access_token;
    expect((await api("GET", `/api/v1/orgs/${org.id}`, { token })).status).toBe(200);
    const ownerToken = (await signIn(owner.user)).accessToken;
    expect((await as(ownerToken).delete(`/api/v1/orgs/${org.id}/api-keys/${short.key.id}`)).status).toBe(204);
    const refused = await api("GET", `/api/v1/orgs/${org.id}`, { token });
    expect(await problemOf(refused, 401)).toMatchObject({
      code: "invalid_token",
      detail: "The API key has been revoked.",
    });

    const other = await createApiKey(org);
    const token2 = (
      await jsonOf<TokenResponse>(
        await form({
          grant_type: "client_credentials",
          client_id: other.key.id,
          client_secret: other.secret,
        }),
        200,
      )
    ).access_token;
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 16 * 60_000);
    expect((await problemOf(await api("GET", `/api/v1/orgs/${org.id}`, { token: token2 }), 401)).detail).toBe(
      "The access token has expired.",
    );
  });

  it("loses a scope the key loses", async () => {
    const changing = await createApiKey(org, { scopes: ["org:read", "tasks:read"] });
    const token = (
      await jsonOf<TokenResponse>(
        await form({
          grant_type: "client_credentials",
          client_id: changing.key.id,
          client_secret: changing.secret,
        }),
        200,
      )
    ).access_token;
    const ownerToken = (await signIn(owner.user)).accessToken;
    await as(ownerToken).patch(`/api/v1/orgs/${org.id}/api-keys/${changing.key.id}`, {
      body: { scopes: ["tasks:read"] },
    });
    expect((await problemOf(await api("GET", `/api/v1/orgs/${org.id}`, { token }), 403)).code).toBe(
      "insufficient_scope",
    );
  });

  it("is not a person's token, and a person's token is not a client token", async () => {
    const body = await jsonOf<TokenResponse>(await form(credentials()), 200);
    const verify = await api("POST", "/api/v1/auth/token/verify", { body: { token: body.access_token } });
    expect(verify.status).toBe(401);
    expect((await api("GET", "/api/v1/users/me", { token: body.access_token })).status).toBe(403);

    const ring = await getKeyRing(env.JWT_PRIVATE_KEYS);
    await expect(verifyAccessToken(ring, tokenSettings(), body.access_token)).rejects.toBeInstanceOf(
      InvalidTokenError,
    );
    const personal = await signIn(owner.user);
    await expect(verifyClientAccessToken(ring, tokenSettings(), personal.accessToken)).rejects.toBeInstanceOf(
      InvalidTokenError,
    );
    // A client token that also carries a session id is neither.
    const hybrid = await signCustom(
      { userId: key.key.id, sessionId: crypto.randomUUID() },
      { extra: { client_id: key.key.id, org_id: org.id, scope: "org:read" } },
    );
    await expect(verifyClientAccessToken(ring, tokenSettings(), hybrid)).rejects.toBeInstanceOf(
      InvalidTokenError,
    );
    expect((await api("GET", `/api/v1/orgs/${org.id}`, { token: hybrid })).status).toBe(401);
  });
});

describe("which resolver a bearer token goes to (looksLikeClientToken)", () => {
  const segment = (value: unknown) =>
    btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(value))))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "");
  const withPayload = (payload: unknown) => `${segment({ alg: "ES256" })}.${segment(payload)}.c2ln`;

  it("tells the tokens we issue apart: a client token yes, a person's token no", async () => {
    const issued = await jsonOf<TokenResponse>(await form(credentials()), 200);
    expect(looksLikeClientToken(issued.access_token)).toBe(true);
    expect(looksLikeClientToken((await signIn(owner.user)).accessToken)).toBe(false);
  });

  it("finds the member whatever the payload's length (each of base64's three alignments)", () => {
    for (const pad of ["", "x", "xx", "xxx"])
      expect(looksLikeClientToken(withPayload({ p: pad, client_id: "k" })), pad).toBe(true);
  });

  it("is not fooled by the name inside a string value, nor by garbage, nor by a huge token", () => {
    expect(looksLikeClientToken(withPayload({ sub: "u", note: '"client_id"' }))).toBe(false);
    expect(looksLikeClientToken(withPayload({ sub: "client_id" }))).toBe(false);
    expect(looksLikeClientToken(withPayload({ sub: "client_id", note: 'x"client_id":1' }))).toBe(false);
    expect(looksLikeClientToken(withPayload(["client_id", "client_id"]))).toBe(false);
    expect(looksLikeClientToken(withPayload({ sub: "ü€😀", name: "Zoë" }))).toBe(false);
    for (const garbage of ["", ".", "..", "a.b", "a.!!!.c", "a.%%%.c", "no dots at all"])
      expect(looksLikeClientToken(garbage), garbage).toBe(false);
    expect(looksLikeClientToken(withPayload({ client_id: "k", pad: "x".repeat(5000) }))).toBe(false);
  });
});

describe("RFC 6749 errors", () => {
  it("invalid_client (401 with WWW-Authenticate) for a wrong secret, unknown client, or a bad client id", async () => {
    const cases: Array<Record<string, string>> = [
      { ...credentials(), client_secret: generateApiKey("test") },
      { ...credentials(), client_secret: "not-a-key" },
      { ...credentials(), client_id: crypto.randomUUID() },
      { ...credentials(), client_id: "not-a-uuid" },
      { grant_type: "client_credentials" },
      { grant_type: "client_credentials", client_id: key.key.id },
    ];
    for (const params of cases) {
      const res = await form(params);
      expect(res.headers.get("www-authenticate"), JSON.stringify(params)).toMatch(/^Basic realm="oauth"/);
      await oauthError(res, 401, "invalid_client");
    }
    await oauthError(
      await form({ grant_type: "client_credentials" }, basic(key.key.id, "wrong")),
      401,
      "invalid_client",
    );
  });

  it("invalid_client for revoked and expired keys, with the same description as a wrong secret", async () => {
    const revoked = await createApiKey(org, { revokedAt: new Date() });
    const expired = await createApiKey(org, { expiresAt: new Date(Date.now() - 1000) });
    const wrong = await oauthError(
      await form({ ...credentials(), client_secret: generateApiKey("test") }),
      401,
      "invalid_client",
    );
    for (const k of [revoked, expired]) {
      const body = await oauthError(
        await form({ grant_type: "client_credentials", client_id: k.key.id, client_secret: k.secret }),
        401,
        "invalid_client",
      );
      expect(body.error_description).toBe(wrong.error_description);
    }
  });

  it("unsupported_grant_type for any other grant", async () => {
    for (const grant of ["password", "authorization_code", "refresh_token", "CLIENT_CREDENTIALS"]) {
      await oauthError(await form({ ...credentials(), grant_type: grant }), 400, "unsupported_grant_type");
    }
  });

  it("invalid_scope for a scope the key lacks or that does not exist", async () => {
    const lacking = await oauthError(
      await form({ ...credentials(), scope: "org:read billing:read" }),
      400,
      "invalid_scope",
    );
    expect(lacking.error_description).toContain("billing:read");
    await oauthError(await form({ ...credentials(), scope: "everything" }), 400, "invalid_scope");
  });

  it("invalid_request for missing grant_type, repeated parameters, two client authentications, bad bodies", async () => {
    await oauthError(
      await form({ client_id: key.key.id, client_secret: key.secret }),
      400,
      "invalid_request",
    );
    const repeated = await api("POST", "/api/v1/oauth/token", {
      rawBody: `grant_type=client_credentials&client_id=${key.key.id}&client_id=${key.key.id}&client_secret=${key.secret}`,
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    await oauthError(repeated, 400, "invalid_request");
    await oauthError(await form(credentials(), basic(key.key.id, key.secret)), 400, "invalid_request");
    await oauthError(await json({ ...credentials(), client_id: 42 }), 400, "invalid_request");
    await oauthError(await json(["grant_type", "client_credentials"]), 400, "invalid_request");
    await oauthError(
      await api("POST", "/api/v1/oauth/token", {
        rawBody: "{oops",
        headers: { "content-type": "application/json" },
      }),
      400,
      "invalid_request",
    );
    await oauthError(
      await api("POST", "/api/v1/oauth/token", {
        rawBody: "grant_type=client_credentials",
        headers: { "content-type": "text/plain" },
      }),
      400,
      "invalid_request",
    );
    await oauthError(await json({ ...credentials(), scope: "x".repeat(1001) }), 400, "invalid_request");
    await oauthError(await api("POST", "/api/v1/oauth/token"), 400, "invalid_request");
  });

  it("keeps the API's 413 for an oversized body", async () => {
    const res = await api("POST", "/api/v1/oauth/token", {
      rawBody: `grant_type=client_credentials&pad=${"x".repeat(20_000)}`,
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect((await problemOf(res, 413)).code).toBe("payload_too_large");
  });

  it("refuses a test key in production as invalid_client", async () => {
    const production = {
      ...env,
      ENVIRONMENT: "production",
      EMAIL_PROVIDER: "resend",
      RESEND_API_KEY: "re_placeholder",
    };
    const res = await createApp().request(
      "/api/v1/oauth/token",
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(credentials()).toString(),
      },
      production,
    );
    await oauthError(res, 401, "invalid_client");
  });

  it("is documented in the OpenAPI document with both body types and RFC 6749 errors", async () => {
    const doc = (await (await api("GET", "/api/openapi.json")).json()) as {
      paths: Record<
        string,
        Record<
          string,
          {
            requestBody: { content: Record<string, unknown> };
            responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }>;
          }
        >
      >;
    };
    const operation = doc.paths["/api/v1/oauth/token"]?.post;
    expect(Object.keys(operation?.requestBody.content ?? {}).sort()).toEqual([
      "application/json",
      "application/x-www-form-urlencoded",
    ]);
    expect(operation?.responses["401"]?.content?.["application/json"]?.schema.$ref).toBe(
      "#/components/schemas/OAuthError",
    );
  });
});
