/**
 * The OAuth 2.0 access token FCM HTTP v1 wants, minted from FCM_SERVICE_ACCOUNT the
 * way Google's libraries do (RFC 7523): an RS256 JWT assertion signed with the
 * account's key (`iss` the account, `aud` the token endpoint, `scope` firebase.messaging,
 * one hour), exchanged at https://oauth2.googleapis.com/token. Tokens live an hour and
 * are kept per isolate until five minutes before they expire; concurrent sends share one
 * exchange.
 */
import { importPKCS8, SignJWT } from "jose";
import type { FcmServiceAccount } from "./fcm-service-account";
import { answerExcerpt, callPushService, type PushOutcome, retryAfterSeconds } from "./push-outcome";

export const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";
export const FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging";

const ASSERTION_TTL_SECONDS = 3600;
const REFRESH_MARGIN_MS = 5 * 60_000;

type CachedToken = { token: string; expiresAt: number };
const tokens = new Map<string, Promise<CachedToken>>();

const cacheKey = (account: FcmServiceAccount) => `${account.client_email}|${account.private_key_id ?? ""}`;

/** Minting failed: `outcome` is what each send that needed the token comes to. */
export class FcmTokenError extends Error {
  constructor(readonly outcome: Exclude<PushOutcome, { result: "delivered" | "gone" }>) {
    super(`could not mint an FCM access token: ${outcome.reason}`);
    this.name = "FcmTokenError";
  }
}

export async function fcmAccessToken(account: FcmServiceAccount, now = Date.now()): Promise<string> {
  const key = cacheKey(account);
  const cached = tokens.get(key);
  if (cached) {
    const token = await cached.catch(() => undefined);
    if (token && token.expiresAt - REFRESH_MARGIN_MS > now) return token.token;
  }
  const minting = mint(account, now);
  tokens.set(key, minting);
  minting.catch(() => {
    if (tokens.get(key) === minting) tokens.delete(key);
  });
  return (await minting).token;
}

/** FCM refused the token (401): the next send mints a new one. */
export function forgetFcmAccessToken(account: FcmServiceAccount): void {
  tokens.delete(cacheKey(account));
}

async function mint(account: FcmServiceAccount, now: number): Promise<CachedToken> {
  const issuedAt = Math.floor(now / 1000);
  let assertion: string;
  try {
    assertion = await new SignJWT({ scope: FCM_SCOPE })
      .setProtectedHeader({
        alg: "RS256",
        typ: "JWT",
        ...(account.private_key_id ? { kid: account.private_key_id } : {}),
      })
      .setIssuer(account.client_email)
      .setAudience(GOOGLE_TOKEN_URL)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ASSERTION_TTL_SECONDS)
      .sign(await importPKCS8(account.private_key, "RS256"));
  } catch {
    throw new FcmTokenError({
      result: "failed",
      status: null,
      reason: "FCM_SERVICE_ACCOUNT: its private_key is not an RSA key in PKCS#8 PEM",
    });
  }
  const answer = await callPushService(GOOGLE_TOKEN_URL, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }),
  });
  if (!(answer instanceof Response))
    throw new FcmTokenError(answer as Extract<PushOutcome, { result: "retry" }>);
  if (!answer.ok) {
    // 400 invalid_grant (a deleted key, a wrong clock) will not mend by retrying; 429/5xx may.
    const reason = `token endpoint: ${await answerExcerpt(answer)}`;
    throw new FcmTokenError(
      answer.status === 429 || answer.status >= 500
        ? { result: "retry", status: answer.status, reason, retryAfterSeconds: retryAfterSeconds(answer) }
        : { result: "failed", status: answer.status, reason },
    );
  }
  const granted = (await answer.json()) as { access_token?: string; expires_in?: number };
  if (!granted.access_token) {
    throw new FcmTokenError({
      result: "retry",
      status: answer.status,
      reason: "token endpoint: no access_token",
    });
  }
  return { token: granted.access_token, expiresAt: now + (granted.expires_in ?? 3600) * 1000 };
}
