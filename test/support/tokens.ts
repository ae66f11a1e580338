/**
 * Access tokens an attacker could present: each differs from a valid one in
 * exactly one way, so a test that sees it refused knows which check did it.
 */
import { env } from "cloudflare:workers";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { getConfig } from "../../src/env";
import { base64urlDecode, base64urlEncode } from "../../src/lib/crypto";
import { getKeyRing, signAccessToken, type TokenSettings } from "../../src/lib/jwt";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function tokenSettings(): TokenSettings {
  const config = getConfig(env);
  return { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE, ttlSeconds: config.ACCESS_TOKEN_TTL };
}

export type Subject = { userId: string; sessionId: string; isStaff?: boolean };

const encodeJson = (value: unknown) => base64urlEncode(encoder.encode(JSON.stringify(value)));
export const decodeSegment = (segment: string): Record<string, unknown> =>
  JSON.parse(decoder.decode(base64urlDecode(segment))) as Record<string, unknown>;

/** The claims of a JWT (its decoded payload), read without verifying it: what a test checks it says. */
export const claimsOf = (token: string): Record<string, unknown> => decodeSegment(token.split(".")[1] ?? "");

/** A token signed with the real key, with settings or time changed. */
export async function signWithRealKey(
  subject: Subject,
  overrides: Partial<TokenSettings> = {},
  now = Date.now(),
): Promise<string> {
  const ring = await getKeyRing(env.JWT_PRIVATE_KEYS);
  const signed = await signAccessToken(
    ring,
    { ...tokenSettings(), ...overrides },
    { isStaff: false, authTime: now, amr: ["pwd"], ...subject },
    now,
  );
  return signed.token;
}

function claimsFor(subject: Subject, now = Date.now()) {
  const settings = tokenSettings();
  const iat = Math.floor(now / 1000);
  return {
    iss: settings.issuer,
    aud: settings.audience,
    sub: subject.userId,
    sid: subject.sessionId,
    jti: crypto.randomUUID(),
    iat,
    nbf: iat,
    exp: iat + settings.ttlSeconds,
    is_staff: subject.isStaff ?? false,
  };
}

export async function realKid(): Promise<string> {
  return (await getKeyRing(env.JWT_PRIVATE_KEYS)).signing.kid;
}

/** `alg: none`, no signature. */
export async function unsignedToken(subject: Subject): Promise<string> {
  const header = { alg: "none", typ: "at+jwt", kid: await realKid() };
  return `${encodeJson(header)}.${encodeJson(claimsFor(subject))}.`;
}

/** HS256 with the server's public key as the HMAC secret (the classic key-confusion attack). */
export async function hs256WithPublicKey(subject: Subject): Promise<string> {
  const ring = await getKeyRing(env.JWT_PRIVATE_KEYS);
  const publicJwk = ring.jwks.keys[0];
  const signingInput = `${encodeJson({ alg: "HS256", typ: "at+jwt", kid: ring.signing.kid })}.${encodeJson(claimsFor(subject))}`;
  const secret = encoder.encode(JSON.stringify(publicJwk));
  const key = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const signature = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(signingInput)));
  return `${signingInput}.${base64urlEncode(signature)}`;
}

/** ES256 with a key the server has never seen, under `kid` (a made-up one, or the real one to impersonate it). */
export async function signedWithForeignKey(subject: Subject, kid = "attacker-key"): Promise<string> {
  const { privateKey } = await generateKeyPair("ES256");
  return new SignJWT({ sid: subject.sessionId, is_staff: subject.isStaff ?? false })
    .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid })
    .setIssuer(tokenSettings().issuer)
    .setAudience(tokenSettings().audience)
    .setSubject(subject.userId)
    .setJti(crypto.randomUUID())
    .setIssuedAt()
    .setNotBefore("0s")
    .setExpirationTime("15m")
    .sign(privateKey);
}

/** A valid token whose payload is edited after signing (signature kept). */
export function tamperPayload(token: string, edit: (claims: Record<string, unknown>) => void): string {
  const [header, payload, signature] = token.split(".") as [string, string, string];
  const claims = decodeSegment(payload);
  edit(claims);
  return `${header}.${encodeJson(claims)}.${signature}`;
}

/** Signed with the real key but with a header or claim set changed: wrong typ, a missing claim ... */
export async function signCustom(
  subject: Subject,
  options: { typ?: string | null; omit?: string[]; extra?: Record<string, unknown> } = {},
): Promise<string> {
  const ring = await getKeyRing(env.JWT_PRIVATE_KEYS);
  const claims: Record<string, unknown> = { ...claimsFor(subject), ...options.extra };
  for (const name of options.omit ?? []) delete claims[name];
  const header: Record<string, string> = { alg: "ES256", kid: ring.signing.kid };
  if (options.typ !== null) header.typ = options.typ ?? "at+jwt";
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(ring.signing.key);
}

/** A fresh P-256 private JWK with a kid, as JWT_PRIVATE_KEYS holds them. */
export async function newPrivateJwk(kid: string): Promise<Record<string, unknown>> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  return { ...(await exportJWK(privateKey)), kid };
}
