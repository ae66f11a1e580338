/**
 * What every provider (Google, GitHub, an OIDC_PROVIDERS entry) does for a sign-in, and
 * the pieces they share: trading the authorization code through arctic, verifying an ID
 * token with jose, and reading a person out of its claims.
 */
import {
  ArcticFetchError,
  OAuth2RequestError,
  type OAuth2Tokens,
  UnexpectedErrorResponseBodyError,
  UnexpectedResponseError,
} from "arctic";
import { type JWTPayload, type JWTVerifyGetKey, errors as joseErrors, jwtVerify } from "jose";
import { z } from "zod";
import { timingSafeEqual } from "../../../lib/crypto";
import { ProviderUnavailableError, withProviderTimeout } from "./provider-fetch";
import { SignInRefusal } from "./sign-in-refusal";

/** `oidc`: an ID token is verified; `oauth2`: the person is read from the provider's API (GitHub). */
export type ProviderType = "oidc" | "oauth2";

/** Who the provider says signed in. */
export type ProviderProfile = {
  /** The provider's stable id of the person (OIDC `sub`, GitHub's numeric id). */
  subject: string;
  /** Lower-cased; null when the provider gave none (or nothing that is an address). */
  email: string | null;
  /** The provider says it verified `email` (OIDC `email_verified`, GitHub's `verified`). */
  emailVerified: boolean;
  firstName?: string;
  lastName?: string;
};

/** The secrets of one flow toward the provider, made by /authorize and kept in its state row. */
export type ProviderFlow = { state: string; nonce: string; codeVerifier: string };

export type IdentityProvider = {
  id: string;
  name: string;
  type: ProviderType;
  /** Where the browser goes to sign in: state, nonce and the S256 challenge of `codeVerifier` included. */
  authorizationUrl(flow: ProviderFlow): Promise<URL>;
  /** Trades the provider's code (with our PKCE verifier) for the person, checking everything it says. */
  profile(input: { code: string; codeVerifier: string; nonce: string }): Promise<ProviderProfile>;
};

/** Signature algorithms an ID token may use: asymmetric only (`none` and HS*, keyed by a shared secret, never). */
export const ID_TOKEN_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
];

/** How far the provider's clock may be from ours when `exp`, `iat` and `nbf` are checked. */
const CLOCK_TOLERANCE_SECONDS = 60;

/**
 * Runs arctic's code-for-tokens request. The provider answering an OAuth error (say
 * `invalid_grant`) is `provider_error`; no answer, a 5xx or garbage is a
 * ProviderUnavailableError (`provider_unavailable`).
 */
export async function tradeAuthorizationCode(work: () => Promise<OAuth2Tokens>): Promise<OAuth2Tokens> {
  let tokens: OAuth2Tokens;
  try {
    tokens = await withProviderTimeout(work(), "the token request");
  } catch (error) {
    if (error instanceof OAuth2RequestError) {
      throw new SignInRefusal("provider_error", `the token endpoint answered ${error.code}`);
    }
    if (
      error instanceof ArcticFetchError ||
      error instanceof UnexpectedResponseError ||
      error instanceof UnexpectedErrorResponseBodyError
    ) {
      throw new ProviderUnavailableError(`the token request failed: ${error.message}`, { cause: error });
    }
    throw error;
  }
  // Some providers (GitHub) answer an OAuth error with a 200.
  const { error } = tokens.data as { error?: unknown };
  if (typeof error === "string") {
    throw new SignInRefusal("provider_error", `the token endpoint answered ${error.slice(0, 100)}`);
  }
  return tokens;
}

/** The token response's access token, or a ProviderUnavailableError when it has none. */
export function accessTokenOf(tokens: OAuth2Tokens): string {
  try {
    return tokens.accessToken();
  } catch (error) {
    throw new ProviderUnavailableError("the token response has no access_token", { cause: error });
  }
}

/** The token response's ID token, or a ProviderUnavailableError when it has none. */
export function idTokenOf(tokens: OAuth2Tokens): string {
  try {
    return tokens.idToken();
  } catch (error) {
    throw new ProviderUnavailableError("the token response has no id_token", { cause: error });
  }
}

/** jose errors that say the key set could not be fetched, rather than that the token is bad. */
const KEY_SET_FAILURES = new Set(["ERR_JWKS_TIMEOUT", "ERR_JWKS_INVALID", "ERR_JOSE_GENERIC"]);

/**
 * Verifies an ID token (OIDC Core §3.1.3.7): signature by a key of the provider's JWKS
 * with an allowed algorithm, `iss` one of `issuers`, `aud` containing our client id (and
 * `azp` ours when there are several audiences), `exp`/`iat` present and current, and
 * `nonce` the one this flow sent. Any defect is `invalid_id_token`; a key set that cannot
 * be fetched is a ProviderUnavailableError.
 */
export async function verifyIdToken(
  idToken: string,
  expected: { keys: JWTVerifyGetKey; issuers: string[]; clientId: string; nonce: string },
): Promise<JWTPayload> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(idToken, expected.keys, {
      algorithms: ID_TOKEN_ALGORITHMS,
      issuer: expected.issuers,
      audience: expected.clientId,
      requiredClaims: ["sub", "exp", "iat"],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
    }));
  } catch (error) {
    if (error instanceof ProviderUnavailableError) throw error;
    if (error instanceof joseErrors.JOSEError && KEY_SET_FAILURES.has(error.code)) {
      throw new ProviderUnavailableError(
        `the provider's signing keys could not be fetched: ${error.message}`,
        {
          cause: error,
        },
      );
    }
    const reason = error instanceof joseErrors.JOSEError ? `${error.code}: ${error.message}` : String(error);
    throw new SignInRefusal("invalid_id_token", reason.slice(0, 300));
  }
  if (typeof payload.nonce !== "string" || !timingSafeEqual(payload.nonce, expected.nonce)) {
    throw new SignInRefusal("invalid_id_token", "the nonce is not the one this sign-in sent");
  }
  if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== expected.clientId) {
    throw new SignInRefusal("invalid_id_token", "several audiences and `azp` is not our client id");
  }
  return payload;
}

const emailSchema = z.string().trim().toLowerCase().max(254).pipe(z.email());

/** A lower-cased address, or null for anything that is not one. */
export function emailOf(value: unknown): string | null {
  const parsed = emailSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

/** A name part for the profile: plain text, one line, at most 100 characters (like PATCH /users/me). */
export function namePart(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const clean = value
    .replace(/[\p{Cc}\p{Cf}]+/gu, " ")
    .replace(/\s+/g, " ")
    .trim();
  return clean ? clean.slice(0, 100) : undefined;
}

/**
 * The person in standard OIDC claims (an ID token, or a userinfo answer). Only `true`
 * (or the string "true" some providers send) counts as verified: a provider that does not
 * say so (Entra ID's `email`, for one) has not verified the address as far as we know.
 */
export function profileFromClaims(claims: Record<string, unknown>): ProviderProfile {
  const subject = typeof claims.sub === "string" ? claims.sub : "";
  if (!subject || subject.length > 255) {
    throw new SignInRefusal("invalid_id_token", "the `sub` claim is missing or too long");
  }
  const email = emailOf(claims.email);
  return {
    subject,
    email,
    emailVerified: email !== null && (claims.email_verified === true || claims.email_verified === "true"),
    firstName: namePart(claims.given_name) ?? (claims.family_name ? undefined : namePart(claims.name)),
    lastName: namePart(claims.family_name),
  };
}
