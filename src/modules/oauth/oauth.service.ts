/**
 * OAuth 2.0 client credentials (RFC 6749 §4.4): an integrator exchanges an API
 * key (client_id = key id, client_secret = key secret) for a short-lived ES256
 * access token for the key's organization, optionally with fewer scopes. The
 * token then works wherever the key does, and stops working when the key is
 * revoked or expires (the auth middleware checks the key on every request).
 */
import { z } from "zod";
import type { ServiceContext } from "../../lib/context";
import { getKeyRing, signClientAccessToken } from "../../lib/jwt";
import { recordKeyUse, verifyClientSecret } from "../api-keys/api-key-auth";
import { holdsScope, isApiKeyScope } from "../orgs/permissions";
import { OAuthError } from "./oauth.errors";
import {
  CLIENT_CREDENTIALS,
  type TokenRequest,
  TokenRequestSchema,
  type TokenResponse,
} from "./oauth.schemas";

export type ClientCredentials = { clientId: string; clientSecret: string };

const KNOWN_PARAMETERS = ["grant_type", "client_id", "client_secret", "scope"] as const;

/**
 * The request's parameters from a form or JSON body. RFC 6749 §3.1: a parameter
 * sent without a value is treated as omitted, none may be sent twice, and unknown
 * ones are ignored.
 */
export function parseTokenParameters(raw: unknown): TokenRequest {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new OAuthError("invalid_request", "The body must be a form or a JSON object of parameters.");
  }
  const params: Record<string, string> = {};
  for (const name of KNOWN_PARAMETERS) {
    const value = (raw as Record<string, unknown>)[name];
    if (value === undefined || value === "") continue;
    if (Array.isArray(value)) throw new OAuthError("invalid_request", `\`${name}\` was sent more than once.`);
    if (typeof value !== "string") throw new OAuthError("invalid_request", `\`${name}\` must be a string.`);
    params[name] = value;
  }
  if (params.grant_type === undefined) throw new OAuthError("invalid_request", "`grant_type` is required.");
  const parsed = TokenRequestSchema.safeParse(params);
  if (!parsed.success) {
    const name = String(parsed.error.issues[0]?.path[0] ?? "body");
    throw new OAuthError("invalid_request", `\`${name}\` is not valid: ${parsed.error.issues[0]?.message}`);
  }
  return parsed.data;
}

/** `application/x-www-form-urlencoded` decoding of one Basic credential part (RFC 6749 §2.3.1). */
function formDecode(text: string): string {
  return decodeURIComponent(text.replaceAll("+", " "));
}

/** HTTP Basic client credentials, null when none were sent. */
export function basicCredentials(authorization: string | undefined): ClientCredentials | null {
  if (authorization === undefined) return null;
  const match = /^Basic[ ]+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(authorization);
  if (!match?.[1]) return null;
  try {
    const decoded = atob(match[1]);
    const colon = decoded.indexOf(":");
    if (colon < 0) throw new Error("no colon");
    return {
      clientId: formDecode(decoded.slice(0, colon)),
      clientSecret: formDecode(decoded.slice(colon + 1)),
    };
  } catch {
    throw new OAuthError("invalid_request", "The Basic credentials are malformed.");
  }
}

const clientIdSchema = z.uuid();

/** The scopes asked for, each known and held by the key; all of the key's when none were asked for. */
function grantedScopes(requested: string | undefined, keyScopes: readonly string[]): string[] {
  if (requested === undefined) return [...keyScopes];
  const asked = [...new Set(requested.split(" ").filter((scope) => scope.length > 0))];
  if (asked.length === 0) return [...keyScopes];
  const refused = asked.filter((scope) => !isApiKeyScope(scope) || !holdsScope(keyScopes, scope));
  if (refused.length > 0) {
    throw new OAuthError(
      "invalid_scope",
      `Not scopes of this key: ${refused.map((scope) => scope.slice(0, 40)).join(" ")}. It has: ${keyScopes.join(" ")}.`,
    );
  }
  return asked;
}

const authenticationFailed = () => new OAuthError("invalid_client", "Client authentication failed.");

/** POST /oauth/token with grant_type=client_credentials. */
export async function issueClientCredentialsToken(
  ctx: ServiceContext,
  params: TokenRequest,
  basic: ClientCredentials | null,
): Promise<TokenResponse> {
  if (params.grant_type !== CLIENT_CREDENTIALS) {
    throw new OAuthError("unsupported_grant_type", `Only \`${CLIENT_CREDENTIALS}\` is supported.`);
  }
  const inBody = params.client_id !== undefined || params.client_secret !== undefined;
  if (basic && inBody) {
    throw new OAuthError(
      "invalid_request",
      "Send the client credentials either as HTTP Basic or in the body, not both.",
    );
  }
  const credentials: ClientCredentials | null =
    basic ??
    (params.client_id !== undefined && params.client_secret !== undefined
      ? { clientId: params.client_id, clientSecret: params.client_secret }
      : null);
  if (!credentials) {
    throw new OAuthError(
      "invalid_client",
      "Send `client_id` and `client_secret` (or HTTP Basic credentials).",
    );
  }
  if (!clientIdSchema.safeParse(credentials.clientId).success) throw authenticationFailed();

  const now = Date.now();
  const verified = await verifyClientSecret(ctx, credentials.clientId, credentials.clientSecret, now);
  if (!verified) throw authenticationFailed();
  const { state, secretExpiresAt } = verified;
  const scopes = grantedScopes(params.scope, state.scopes);

  // Never outlive the key, nor the secret when it is in its rotation grace period.
  const ends = [state.expiresAt, secretExpiresAt].filter((end): end is number => end !== null);
  const lifetime = Math.min(
    ctx.config.ACCESS_TOKEN_TTL,
    ...ends.map((end) => Math.floor((end - now) / 1000)),
  );
  const ring = await getKeyRing(ctx.config.JWT_PRIVATE_KEYS);
  const signed = await signClientAccessToken(
    ring,
    { issuer: ctx.config.JWT_ISSUER, audience: ctx.config.JWT_AUDIENCE, ttlSeconds: Math.max(1, lifetime) },
    { clientId: state.id, organizationId: state.organizationId, scopes },
    now,
  );
  recordKeyUse(ctx, state, now);
  ctx.logger.info("client credentials token issued", { key_id: state.id, scopes });
  return {
    access_token: signed.token,
    token_type: "Bearer",
    expires_in: signed.claims.exp - signed.claims.iat,
    scope: signed.claims.scope,
  };
}
