import { getKeyRing, InvalidTokenError, verifyClientAccessToken } from "../../lib/jwt";
import { problems } from "../../lib/problem";
import { API_KEY_PATTERN, type CredentialResolver } from "../../middleware/authenticate";
import { apiKeyPrincipal, keyRefusal, loadKeyState, recordKeyUse } from "../api-keys/api-key-auth";
import { holdsScope } from "../orgs/permissions";

/**
 * Whether a bearer token claims to be a client-credentials token (its payload has a
 * `client_id` member). Only picks the resolver: nothing is trusted until the signature
 * and claims are verified in `resolve`.
 *
 * Every bearer request asks this, people's tokens included, so it reads the payload's
 * text rather than parsing it. In JSON text, `"client_id":` can only be a member name: a
 * string value is followed by `,`, `}` or `]`, and a quote inside one is escaped (`\"`).
 * The tokens we sign have no whitespace and no nested objects, so that member is a
 * top-level claim. A forged token that fools it fails verification in whichever resolver
 * it reaches.
 */
export function looksLikeClientToken(token: string): boolean {
  if (token.length > 4096) return false;
  const start = token.indexOf(".");
  const end = token.indexOf(".", start + 1);
  if (start < 0 || end < 0) return false;
  try {
    // atob gives one character per byte: non-ASCII text stays undecoded, which cannot
    // make or hide the ASCII sequence looked for.
    const base64 = token
      .slice(start + 1, end)
      .replace(/-/g, "+")
      .replace(/_/g, "/");
    return atob(base64).includes('"client_id":');
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
