/** Every identity route is in /api/openapi.json with tags, security, examples and its error answers. */
import { beforeAll, describe, expect, it } from "vitest";
import { api, jsonOf } from "./support/http";

type Operation = {
  tags?: string[];
  summary?: string;
  security?: Array<Record<string, string[]>>;
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { content?: Record<string, { example?: unknown; schema?: { $ref?: string } }> }>;
};
type Document = {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { example?: unknown }> };
};

const ROUTES: Array<[method: string, path: string, secured: boolean, statuses: string[]]> = [
  ["post", "/api/v1/auth/register", false, ["201", "400", "409"]],
  ["post", "/api/v1/auth/login", false, ["200", "400", "401", "429"]],
  ["post", "/api/v1/auth/refresh", false, ["200", "400", "401", "409"]],
  ["post", "/api/v1/auth/logout", true, ["204", "401"]],
  ["post", "/api/v1/auth/logout-all", true, ["204", "401"]],
  ["post", "/api/v1/auth/token/verify", false, ["200", "401"]],
  ["post", "/api/v1/auth/password/change", true, ["204", "400", "401", "429"]],
  ["get", "/.well-known/jwks.json", false, ["200"]],
  ["get", "/api/v1/users/me", true, ["200", "401"]],
  ["patch", "/api/v1/users/me", true, ["200", "400", "401", "409"]],
  ["delete", "/api/v1/users/me", true, ["204", "401"]],
  ["get", "/api/v1/users/me/sessions", true, ["200", "401"]],
  ["delete", "/api/v1/users/me/sessions/{id}", true, ["204", "401", "404"]],
  ["get", "/api/v1/users", true, ["200", "401", "403"]],
  ["get", "/api/v1/users/{id}", true, ["200", "401", "403", "404"]],
  ["get", "/api/v1/auth/providers", false, ["200"]],
  [
    "get",
    "/api/v1/auth/oauth/{provider}/authorize",
    false,
    ["200", "302", "400", "401", "403", "404", "503"],
  ],
  ["get", "/api/v1/auth/oauth/{provider}/callback", false, ["302", "400", "404"]],
  ["post", "/api/v1/auth/oauth/exchange", false, ["200", "400", "403"]],
  ["get", "/api/v1/users/me/identities", true, ["200", "401"]],
  ["delete", "/api/v1/users/me/identities/{id}", true, ["204", "401", "403", "404", "409"]],
];

describe("OpenAPI document for identity", () => {
  let doc: Document;
  beforeAll(async () => {
    doc = await jsonOf<Document>(await api("GET", "/api/openapi.json"), 200);
  });

  it.each(ROUTES)("%s %s is documented", (method, path, secured, statuses) => {
    const operation = doc.paths[path]?.[method];
    expect(operation, `${method} ${path}`).toBeDefined();
    const op = operation as Operation;
    expect(op.tags?.[0]).toMatch(/^(Auth|Users)$/);
    expect(op.summary).toBeTruthy();
    // Logout takes a refresh token alone too: bearer, or no credentials at all.
    if (path === "/api/v1/auth/logout") expect(op.security).toEqual([{ bearerAuth: [] }, {}]);
    else if (secured) expect(op.security).toEqual([{ bearerAuth: [] }]);
    else expect(op.security).toBeUndefined();
    for (const status of statuses) expect(Object.keys(op.responses)).toContain(status);
    for (const [status, response] of Object.entries(op.responses)) {
      if (Number(status) >= 400)
        expect(response.content?.["application/problem+json"]?.example).toBeDefined();
    }
  });

  it("has named schemas with realistic examples", () => {
    for (const name of [
      "User",
      "AuthTokens",
      "RegisterRequest",
      "LoginRequest",
      "Session",
      "JWKS",
      "IdentityProvider",
      "IdentityProviderList",
      "ProviderAuthorizationUrl",
      "ProviderCodeExchangeRequest",
      "ProviderSignInTokens",
      "LinkedIdentity",
      "LinkedIdentityList",
    ]) {
      expect(doc.components.schemas[name]?.example, name).toBeDefined();
    }
    const register = doc.paths["/api/v1/auth/register"]?.post as Operation;
    expect(register.responses["201"]?.content?.["application/json"]?.example).toMatchObject({
      token_type: "Bearer",
    });
  });
});
