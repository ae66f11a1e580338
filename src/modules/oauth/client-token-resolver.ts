import { base64urlDecode } from "../../lib/crypto";
import { getKeyRing, InvalidTokenError, verifyClientAccessToken } from "../../lib/jwt";
import { problems } from "../../lib/problem";
import { API_KEY_PATTERN, type CredentialResolver } from "../../middleware/authenticate";
import { apiKeyPrincipal, keyRefusal, loadKeyState, recordKeyUse } from "../api-keys/api-key-auth";
import { holdsScope } from "../orgs/permissions";

/**
 * Whether a bearer token claims to be a client-credentials token (it carries
 * `client_id`). Only picks the resolver: nothing is trusted until the signature
 * and claims are verified in `resolve`.
 */
export function looksLikeClientToken(token: string): boolean {
  const payload = token.split(".")[1];
  if (token.length > 4096 || payload === undefined) return false;
  try {
    const claims: unknown = JSON.parse(new TextDecoder().decode(base64urlDecode(payload)));
    return typeof claims === "object" && claims !== null && "client_id" in claims;
  } catch {
    return false;
  }
}

const invalid = (detail = "The access token is not valid.") => problems.unauthorized(detail, "invalid_token");

/**
 * Access tokens from POST /oauth/token → the API key's principal, with the
 * token's scopes narrowed to what the key holds now. The key is checked on every
 * request (cached like API-key lookups), so revoking it ends its tokens too.
 */
export const clientTokenResolver: CredentialResolver = {
  name: "client_credentials_token",
  accepts: (credential) =>
    credential.source === "bearer" &&
    !API_KEY_PATTERN.test(credential.value) &&
    looksLikeClientToken(credential.value),
  async resolve(ctx, credential) {
    const now = Date.now();
    let claims: Awaited<ReturnType<typeof verifyClientAccessToken>>;
    try {
      const ring = await getKeyRing(ctx.config.JWT_PRIVATE_KEYS);
      claims = await verifyClientAccessToken(
        ring,
        { issuer: ctx.config.JWT_ISSUER, audience: ctx.config.JWT_AUDIENCE },
        credential.value,
        now,
      );
    } catch (error) {
      if (error instanceof InvalidTokenError) throw invalid(error.detail);
      throw error;
    }
    const state = await loadKeyState(ctx, claims.client_id, now);
    if (!state || state.organizationId !== claims.org_id) throw invalid();
    const refused = keyRefusal(ctx, state, now);
    if (refused) throw refused;
    // Still held by the key now (re-scoping it narrows tokens already issued); `*` holds every scope.
    const scopes = claims.scope.split(" ").filter((scope) => holdsScope(state.scopes, scope));
    recordKeyUse(ctx, state, now);
    return apiKeyPrincipal(state, scopes);
  },
};
