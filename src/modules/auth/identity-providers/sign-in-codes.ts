/**
 * The one-time code the callback puts on the client's redirect_uri instead of tokens
 * (tokens never travel in a URL: URLs end up in browser history, logs and Referer
 * headers). 60 seconds, single use, stored hashed; POST /oauth/exchange spends it with
 * a conditional DELETE … RETURNING, so of two exchanges of one code only one gets it.
 *
 * A public client (a mobile app, a SPA) may add its own PKCE toward us: a
 * `code_challenge` (S256) at /authorize, carried here, and the matching
 * `code_verifier` at the exchange. A code stolen off the redirect (another app that
 * registered the same custom scheme) is then useless without the verifier that never
 * left the app.
 */
import { and, eq, gt } from "drizzle-orm";
import { type ProviderSignInCode, providerSignInCodes } from "../../../db/schema";
import type { ServiceContext } from "../../../lib/context";
import { base64urlEncode, randomToken, sha256Hex, timingSafeEqual } from "../../../lib/crypto";
import { uuidv7 } from "../../../lib/ids";
import type { ProviderProfile } from "./identity-provider";
import type { SignInIntent } from "./provider-accounts";

export const SIGN_IN_CODE_TTL_MS = 60 * 1000;

const CODE_PREFIX = "pc_";

export type NewSignInCode = {
  provider: string;
  profile: ProviderProfile;
  intent: SignInIntent;
  codeChallenge: string | null;
};

export async function issueSignInCode(
  ctx: ServiceContext,
  input: NewSignInCode,
  now = Date.now(),
): Promise<string> {
  const code = `${CODE_PREFIX}${randomToken(32)}`;
  const { profile, intent } = input;
  await ctx.db.insert(providerSignInCodes).values({
    id: uuidv7(now),
    codeHash: await sha256Hex(code),
    provider: input.provider,
    providerUserId: profile.subject,
    email: profile.email,
    emailVerified: profile.emailVerified,
    firstName: profile.firstName ?? null,
    lastName: profile.lastName ?? null,
    mode: intent.mode,
    linkUserId: intent.linkUserId,
    codeChallenge: input.codeChallenge,
    expiresAt: new Date(now + SIGN_IN_CODE_TTL_MS),
    createdAt: new Date(now),
  });
  return code;
}

/** The person the provider verified, as the callback recorded it. */
export function profileOf(code: ProviderSignInCode): ProviderProfile {
  return {
    subject: code.providerUserId,
    email: code.email,
    emailVerified: code.emailVerified,
    firstName: code.firstName ?? undefined,
    lastName: code.lastName ?? undefined,
  };
}

/** Spends `code`: its row, or null when it is unknown, expired or already spent. */
export async function spendSignInCode(
  ctx: ServiceContext,
  code: string,
  now = Date.now(),
): Promise<ProviderSignInCode | null> {
  const [row] = await ctx.db
    .delete(providerSignInCodes)
    .where(
      and(
        eq(providerSignInCodes.codeHash, await sha256Hex(code)),
        gt(providerSignInCodes.expiresAt, new Date(now)),
      ),
    )
    .returning();
  return row ?? null;
}

/** RFC 7636 S256: BASE64URL(SHA-256(ASCII(code_verifier))). */
export async function s256CodeChallenge(verifier: string): Promise<string> {
  return base64urlEncode(
    new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))),
  );
}

/**
 * Whether the verifier fits the code: a code issued with a challenge needs its verifier;
 * a code issued without one refuses a verifier (OAuth 2.1 §4.1.3: no PKCE downgrade).
 */
export async function verifierFits(code: ProviderSignInCode, verifier: string | undefined): Promise<boolean> {
  if (code.codeChallenge === null) return verifier === undefined;
  if (verifier === undefined) return false;
  return timingSafeEqual(await s256CodeChallenge(verifier), code.codeChallenge);
}
