/**
 * GitHub (OAuth 2.0, no ID token): the person is read from its REST API, `GET /user`
 * (the numeric `id` is the stable subject; logins can be renamed) and `GET /user/emails`
 * (the primary address and whether GitHub verified it; `/user`'s `email` is only the
 * public one, and may be absent or unverified).
 *
 * arctic's OAuth2Client is used with GitHub's endpoints rather than its `GitHub` class,
 * which sends no PKCE: GitHub accepts S256 PKCE since July 2025. GitHub answers a refused
 * code with a 200 carrying `error`, which tradeAuthorizationCode() reads.
 */
import { CodeChallengeMethod, OAuth2Client } from "arctic";
import { z } from "zod";
import {
  accessTokenOf,
  emailOf,
  type IdentityProvider,
  namePart,
  tradeAuthorizationCode,
} from "../identity-provider";
import { fetchProviderJson, ProviderUnavailableError } from "../provider-fetch";

export const GITHUB_AUTHORIZE_URL = "https://github.com/login/oauth/authorize";
export const GITHUB_TOKEN_URL = "https://github.com/login/oauth/access_token";
export const GITHUB_API = "https://api.github.com";
const SCOPES = ["read:user", "user:email"];

const githubUser = z.object({
  id: z.number().int().positive(),
  login: z.string(),
  name: z.string().nullish(),
});
const githubEmails = z.array(
  z.object({ email: z.string(), primary: z.boolean(), verified: z.boolean() }).loose(),
);

export function githubProvider(settings: {
  clientId: string;
  clientSecret: string;
  callbackUrl: string;
}): IdentityProvider {
  const client = new OAuth2Client(settings.clientId, settings.clientSecret, settings.callbackUrl);
  return {
    id: "github",
    name: "GitHub",
    type: "oauth2",
    async authorizationUrl({ state, codeVerifier }) {
      return client.createAuthorizationURLWithPKCE(
        GITHUB_AUTHORIZE_URL,
        state,
        CodeChallengeMethod.S256,
        codeVerifier,
        SCOPES,
      );
    },
    async profile({ code, codeVerifier }) {
      const tokens = await tradeAuthorizationCode(() =>
        client.validateAuthorizationCode(GITHUB_TOKEN_URL, code, codeVerifier),
      );
      const headers = {
        accept: "application/vnd.github+json",
        authorization: `Bearer ${accessTokenOf(tokens)}`,
        "x-github-api-version": "2022-11-28",
      };
      const user = githubUser.safeParse(await fetchProviderJson(`${GITHUB_API}/user`, headers));
      if (!user.success) throw new ProviderUnavailableError("GET /user answered an unexpected shape");
      const primary = await primaryEmail(headers);
      const [first, ...rest] = (namePart(user.data.name) ?? "").split(" ");
      return {
        subject: String(user.data.id),
        email: emailOf(primary?.email),
        emailVerified: primary?.verified === true && emailOf(primary.email) !== null,
        firstName: first || undefined,
        lastName: rest.join(" ") || undefined,
      };
    },
  };
}

/** The account's primary address from GET /user/emails. */
async function primaryEmail(headers: Record<string, string>) {
  const emails = githubEmails.safeParse(await fetchProviderJson(`${GITHUB_API}/user/emails`, headers));
  if (!emails.success) throw new ProviderUnavailableError("GET /user/emails answered an unexpected shape");
  return emails.data.find((entry) => entry.primary);
}
