/**
 * Any standards OIDC provider of OIDC_PROVIDERS (Keycloak, Auth0, Okta, Entra ID, a
 * company IdP), by configuration alone: its endpoints and keys come from its discovery
 * document (provider-metadata.ts), the flows go through arctic's OAuth2Client with PKCE
 * S256, and the ID token is verified against the discovered issuer and JWKS. When the ID
 * token carries no email (some providers keep it for the userinfo endpoint), the
 * userinfo answer fills it in, but only when it is about the same `sub`.
 */
import { CodeChallengeMethod, OAuth2Client } from "arctic";
import {
  accessTokenOf,
  type IdentityProvider,
  idTokenOf,
  type ProviderProfile,
  profileFromClaims,
  tradeAuthorizationCode,
  verifyIdToken,
} from "../identity-provider";
import { fetchProviderJson } from "../provider-fetch";
import { discover, signingKeys } from "../provider-metadata";
import type { OidcProviderSettings } from "../provider-settings";
import { SignInRefusal } from "../sign-in-refusal";

export function oidcProvider(settings: OidcProviderSettings & { callbackUrl: string }): IdentityProvider {
  const client = new OAuth2Client(settings.client_id, settings.client_secret, settings.callbackUrl);
  return {
    id: settings.id,
    name: settings.name,
    type: "oidc",
    async authorizationUrl({ state, nonce, codeVerifier }) {
      const document = await discover(settings.issuer);
      const url = client.createAuthorizationURLWithPKCE(
        document.authorization_endpoint,
        state,
        CodeChallengeMethod.S256,
        codeVerifier,
        settings.scopes,
      );
      url.searchParams.set("nonce", nonce);
      return url;
    },
    async profile({ code, codeVerifier, nonce }) {
      const document = await discover(settings.issuer);
      const tokens = await tradeAuthorizationCode(() =>
        client.validateAuthorizationCode(document.token_endpoint, code, codeVerifier),
      );
      const claims = await verifyIdToken(idTokenOf(tokens), {
        keys: signingKeys(document.jwks_uri),
        // The issuer exactly as the discovery document spells it (Auth0's ends with a slash).
        issuers: [document.issuer],
        clientId: settings.client_id,
        nonce,
      });
      const profile = profileFromClaims(claims);
      if (profile.email !== null || !document.userinfo_endpoint) return profile;
      return withUserinfo(profile, document.userinfo_endpoint, accessTokenOf(tokens));
    },
  };
}

/** The profile completed by the userinfo endpoint (OIDC Core §5.3.2: its `sub` must be the ID token's). */
async function withUserinfo(
  profile: ProviderProfile,
  userinfoEndpoint: string,
  accessToken: string,
): Promise<ProviderProfile> {
  const userinfo = await fetchProviderJson(userinfoEndpoint, { authorization: `Bearer ${accessToken}` });
  const claims =
    typeof userinfo === "object" && userinfo !== null ? (userinfo as Record<string, unknown>) : {};
  if (claims.sub !== profile.subject) {
    throw new SignInRefusal("invalid_id_token", "the userinfo answer is about another `sub`");
  }
  const fromUserinfo = profileFromClaims(claims);
  return {
    ...profile,
    email: fromUserinfo.email,
    emailVerified: fromUserinfo.emailVerified,
    firstName: profile.firstName ?? fromUserinfo.firstName,
    lastName: profile.lastName ?? fromUserinfo.lastName,
  };
}
