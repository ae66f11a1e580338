/**
 * Google (OIDC): arctic's Google client for the authorization URL (PKCE S256) and the
 * code exchange; the ID token verified against Google's published keys. Google's ID
 * tokens carry `iss` as `https://accounts.google.com` or, for older clients,
 * `accounts.google.com`: both are accepted, nothing else.
 */
import { Google } from "arctic";
import {
  type IdentityProvider,
  idTokenOf,
  profileFromClaims,
  tradeAuthorizationCode,
  verifyIdToken,
} from "../identity-provider";
import { signingKeys } from "../provider-metadata";

export const GOOGLE_ISSUERS = ["https://accounts.google.com", "accounts.google.com"];
export const GOOGLE_JWKS_URI = "https://www.googleapis.com/oauth2/v3/certs";
const SCOPES = ["openid", "email", "profile"];

export function googleProvider(settings: {
  clientId: string;
  clientSecret: string;
  callbackUrl: string;
}): IdentityProvider {
  const client = new Google(settings.clientId, settings.clientSecret, settings.callbackUrl);
  return {
    id: "google",
    name: "Google",
    type: "oidc",
    async authorizationUrl({ state, nonce, codeVerifier }) {
      const url = client.createAuthorizationURL(state, codeVerifier, SCOPES);
      url.searchParams.set("nonce", nonce);
      return url;
    },
    async profile({ code, codeVerifier, nonce }) {
      const tokens = await tradeAuthorizationCode(() => client.validateAuthorizationCode(code, codeVerifier));
      const claims = await verifyIdToken(idTokenOf(tokens), {
        keys: signingKeys(GOOGLE_JWKS_URI),
        issuers: GOOGLE_ISSUERS,
        clientId: settings.clientId,
        nonce,
      });
      return profileFromClaims(claims);
    },
  };
}
