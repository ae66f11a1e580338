/**
 * Access tokens: ES256 JWTs (jose) with a `kid` header and `typ: at+jwt`, for
 * people (a session) and for API-key clients (OAuth client credentials).
 *
 * Keys come from JWT_PRIVATE_KEYS, a JSON array of private EC P-256 JWKs, each
 * with a `kid`. The first key signs; every key verifies, so a rotation is "put
 * the new key first, keep the old one until ACCESS_TOKEN_TTL has passed, drop
 * it". Imported keys are cached per isolate (keyed by the secret's text), so a
 * request never pays for JWK import.
 *
 * Verification pins the algorithm, the issuer, the audience, the `typ` header
 * and the required claims: jose's defaults would accept any algorithm that fits
 * the key and a token without `exp`.
 */
import { errors, importJWK, type JWTPayload, jwtVerify, SignJWT } from "jose";
import { z } from "zod";
import { ConfigError } from "../env";
import { ExpiringMap } from "./expiring-set";
import { uuidv7 } from "./ids";

export const ACCESS_TOKEN_ALGORITHM = "ES256";
export const ACCESS_TOKEN_TYPE = "at+jwt";
/** Seconds of clock skew accepted on exp/nbf/iat between this Worker and whoever minted the token. */
export const CLOCK_TOLERANCE_SECONDS = 5;
/** Longer than any token we mint; refuses absurd inputs before any parsing. */
const MAX_TOKEN_LENGTH = 4096;

const REQUIRED_CLAIMS = ["iss", "aud", "sub", "sid", "jti", "iat", "nbf", "exp"];

const privateJwkSchema = z.object({
  kty: z.literal("EC"),
  crv: z.literal("P-256"),
  kid: z.string().min(1).max(128),
  x: z.string().min(1),
  y: z.string().min(1),
  d: z.string().min(1),
  alg: z.literal(ACCESS_TOKEN_ALGORITHM).optional(),
});

const keysSchema = z
  .array(privateJwkSchema)
  .min(1)
  .refine((keys) => new Set(keys.map((key) => key.kid)).size === keys.length, "every kid must be unique");

export type PublicJwk = {
  kty: "EC";
  crv: "P-256";
  kid: string;
  x: string;
  y: string;
  alg: "ES256";
  use: "sig";
};

export type KeyRing = {
  /** The key new tokens are signed with (the first of JWT_PRIVATE_KEYS). */
  signing: { kid: string; key: CryptoKey };
  /** Public keys by kid: every configured key verifies. */
  verifying: Map<string, CryptoKey>;
  jwks: { keys: PublicJwk[] };
  /**
   * Each key's private scalar `d` (base64url) by kid, signing key first: the input of the
   * per-purpose keys src/lib/derived-keys.ts derives with HKDF. Never leaves the isolate.
   */
  material: Array<{ kid: string; d: string }>;
};

const rings = new Map<string, Promise<KeyRing>>();

async function buildKeyRing(raw: string): Promise<KeyRing> {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ConfigError(["JWT_PRIVATE_KEYS: not valid JSON (expected an array of private JWKs)"]);
  }
  const parsed = keysSchema.safeParse(json);
  if (!parsed.success) {
    // Only paths and messages: the issues never echo key material.
    throw new ConfigError(
      parsed.error.issues.map(
        (issue) => `JWT_PRIVATE_KEYS${issue.path.map((p) => `[${String(p)}]`).join("")}: ${issue.message}`,
      ),
    );
  }
  const keys = parsed.data;
  const verifying = new Map<string, CryptoKey>();
  const publicKeys: PublicJwk[] = [];
  let signing: KeyRing["signing"] | undefined;
  for (const [index, jwk] of keys.entries()) {
    const publicJwk: PublicJwk = {
      kty: "EC",
      crv: "P-256",
      kid: jwk.kid,
      x: jwk.x,
      y: jwk.y,
      alg: "ES256",
      use: "sig",
    };
    try {
      verifying.set(jwk.kid, (await importJWK(publicJwk, ACCESS_TOKEN_ALGORITHM)) as CryptoKey);
      if (index === 0) {
        const { kid, kty, crv, x, y, d } = jwk;
        signing = { kid, key: (await importJWK({ kty, crv, x, y, d }, ACCESS_TOKEN_ALGORITHM)) as CryptoKey };
      }
    } catch {
      throw new ConfigError([`JWT_PRIVATE_KEYS[${index}]: not a usable P-256 key (kid ${jwk.kid})`]);
    }
    publicKeys.push(publicJwk);
  }
  if (!signing) throw new ConfigError(["JWT_PRIVATE_KEYS: no signing key"]);
  const material = keys.map(({ kid, d }) => ({ kid, d }));
  return { signing, verifying, jwks: { keys: publicKeys }, material };
}

/** The key ring for this secret, imported once per isolate. */
export function getKeyRing(raw: string | undefined): Promise<KeyRing> {
  const text = raw?.trim();
  if (!text)
    return Promise.reject(
      new ConfigError(["JWT_PRIVATE_KEYS: not set (npm run dev writes one into .dev.vars)"]),
    );
  let ring = rings.get(text);
  if (!ring) {
    ring = buildKeyRing(text);
    // A bad secret is not cached: fixing it must not need a new isolate.
    ring.then(
      (built) => loadedRings.set(text, built),
      () => rings.delete(text),
    );
    rings.set(text, ring);
  }
  return ring;
}

/** The key rings getKeyRing() has finished importing, by secret: what a caller may use without waiting. */
const loadedRings = new Map<string, KeyRing>();

/** The key ring for this secret if this isolate has already imported it; otherwise undefined (use getKeyRing). */
export function loadedKeyRing(raw: string | undefined): KeyRing | undefined {
  const text = raw?.trim();
  return text ? loadedRings.get(text) : undefined;
}

export type TokenSettings = { issuer: string; audience: string; ttlSeconds: number };

export type AccessTokenClaims = {
  iss: string;
  aud: string;
  sub: string;
  /** Session id: revoking the session revokes every access token that carries it. */
  sid: string;
  jti: string;
  iat: number;
  nbf: number;
  exp: number;
  is_staff: boolean;
  /** When the person last authenticated on this session (seconds; OIDC Core §2): refresh keeps it. */
  auth_time: number;
  /** How they authenticated (RFC 8176 values: `pwd`, `email`, `otp`, `mfa`, `fed`, `hwk`, `swk`). */
  amr: string[];
};

/** The registered claims both kinds of access token carry (RFC 7519 §4.1). */
type RegisteredClaims = {
  iss: string;
  aud: string;
  sub: string;
  jti: string;
  iat: number;
  nbf: number;
  exp: number;
};

/** Signs `privateClaims` plus the registered claims with the ring's signing key, as an `at+jwt`. */
function signWithRegisteredClaims(
  ring: KeyRing,
  registered: RegisteredClaims,
  privateClaims: JWTPayload,
): Promise<string> {
  return new SignJWT(privateClaims)
    .setProtectedHeader({ alg: ACCESS_TOKEN_ALGORITHM, kid: ring.signing.kid, typ: ACCESS_TOKEN_TYPE })
    .setIssuer(registered.iss)
    .setAudience(registered.aud)
    .setSubject(registered.sub)
    .setJti(registered.jti)
    .setIssuedAt(registered.iat)
    .setNotBefore(registered.nbf)
    .setExpirationTime(registered.exp)
    .sign(ring.signing.key);
}

export type SignedAccessToken = { token: string; jti: string; expiresAt: number; claims: AccessTokenClaims };

/** Signs an access token for one session; `now` (ms) is injectable so callers can agree on `exp`. */
export async function signAccessToken(
  ring: KeyRing,
  settings: TokenSettings,
  subject: { userId: string; sessionId: string; isStaff: boolean; authTime: number; amr: readonly string[] },
  now: number = Date.now(),
): Promise<SignedAccessToken> {
  const iat = Math.floor(now / 1000);
  const claims: AccessTokenClaims = {
    iss: settings.issuer,
    aud: settings.audience,
    sub: subject.userId,
    sid: subject.sessionId,
    jti: uuidv7(now),
    iat,
    nbf: iat,
    exp: iat + settings.ttlSeconds,
    is_staff: subject.isStaff,
    auth_time: Math.floor(subject.authTime / 1000),
    amr: [...subject.amr],
  };
  const token = await signWithRegisteredClaims(ring, claims, {
    sid: claims.sid,
    is_staff: claims.is_staff,
    auth_time: claims.auth_time,
    amr: claims.amr,
  });
  return { token, jti: claims.jti, expiresAt: claims.exp * 1000, claims };
}

/** Why a token was refused; `detail` is safe to show the caller. */
export class InvalidTokenError extends Error {
  constructor(
    readonly reason: "malformed" | "expired" | "unknown_key" | "invalid" | "revoked",
    readonly detail: string,
  ) {
    super(detail);
    this.name = "InvalidTokenError";
  }
}

const claimsSchema = z.object({
  iss: z.string(),
  aud: z.string(),
  sub: z.string().min(1).max(64),
  sid: z.string().min(1).max(64),
  jti: z.string().min(1).max(64),
  iat: z.number(),
  nbf: z.number(),
  exp: z.number(),
  is_staff: z.boolean().default(false),
  // Tokens signed before these claims existed read as an authentication long ago (re-authentication
  // asks for proof) by no known method; they expire within ACCESS_TOKEN_TTL anyway.
  auth_time: z.number().default(0),
  amr: z.array(z.string().max(16)).max(8).default([]),
});

/**
 * Signature, algorithm, `typ`, issuer, audience, time claims and the presence of
 * `requiredClaims`: the checks every token kind shares. Returns the raw payload.
 */
async function verifySignedToken(
  ring: KeyRing,
  settings: Pick<TokenSettings, "issuer" | "audience">,
  token: string,
  requiredClaims: string[],
  now: number,
): Promise<JWTPayload> {
  if (token.length > MAX_TOKEN_LENGTH || token.split(".").length !== 3) {
    throw new InvalidTokenError("malformed", "The access token is malformed.");
  }
  try {
    const result = await jwtVerify(
      token,
      (header) => {
        const key = header.kid === undefined ? undefined : ring.verifying.get(header.kid);
        if (!key)
          throw new InvalidTokenError("unknown_key", "The access token was signed by an unknown key.");
        return key;
      },
      {
        algorithms: [ACCESS_TOKEN_ALGORITHM],
        issuer: settings.issuer,
        audience: settings.audience,
        typ: ACCESS_TOKEN_TYPE,
        requiredClaims,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        currentDate: new Date(now),
      },
    );
    return result.payload;
  } catch (error) {
    if (error instanceof InvalidTokenError) throw error;
    if (error instanceof errors.JWTExpired)
      throw new InvalidTokenError("expired", "The access token has expired.");
    if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) {
      throw new InvalidTokenError("malformed", "The access token is malformed.");
    }
    throw new InvalidTokenError("invalid", "The access token is not valid.");
  }
}

/**
 * Access tokens this isolate has verified, by their exact text, per key ring: a client sends the
 * same token on every request for its lifetime, and the ES256 verify plus the claim checks are
 * most of an authenticated request's own CPU. Only a token that passed every check is kept,
 * under the very string that passed (anyone who could present it could have it verified), never
 * past its `exp` (+ the clock tolerance) and never longer than VERIFIED_TOKEN_MEMORY_MS, for the
 * issuer and audience it was checked against. A ring is built per JWT_PRIVATE_KEYS value, so a
 * retired key's tokens are never answered from here by the ring that no longer holds it.
 */
const VERIFIED_TOKEN_MEMORY_MS = 5 * 60 * 1000;
const VERIFIED_TOKEN_LIMIT = 5_000;
type VerifiedToken = { claims: AccessTokenClaims; issuer: string; audience: string };
const verifiedTokens = new WeakMap<KeyRing, ExpiringMap<VerifiedToken>>();

/**
 * The claims of `token` if this exact text passed verifyAccessToken() with this ring and these
 * settings and is still within the time it is remembered for; otherwise undefined. Never verifies.
 */
export function rememberedAccessToken(
  ring: KeyRing,
  settings: Pick<TokenSettings, "issuer" | "audience">,
  token: string,
  now: number = Date.now(),
): AccessTokenClaims | undefined {
  const known = verifiedTokens.get(ring)?.get(token, now);
  return known && known.issuer === settings.issuer && known.audience === settings.audience
    ? known.claims
    : undefined;
}

/**
 * Verifies signature, algorithm, `typ`, issuer, audience, time claims and the
 * presence of every claim. Revocation is the caller's concern (sessions service).
 */
export async function verifyAccessToken(
  ring: KeyRing,
  settings: Pick<TokenSettings, "issuer" | "audience">,
  token: string,
  now: number = Date.now(),
): Promise<AccessTokenClaims> {
  const known = rememberedAccessToken(ring, settings, token, now);
  if (known) return known;
  let verified = verifiedTokens.get(ring);
  if (!verified) {
    verified = new ExpiringMap<VerifiedToken>(VERIFIED_TOKEN_LIMIT);
    verifiedTokens.set(ring, verified);
  }

  const payload = await verifySignedToken(ring, settings, token, REQUIRED_CLAIMS, now);
  const claims = claimsSchema.safeParse(payload);
  if (!claims.success) throw new InvalidTokenError("invalid", "The access token is not valid.");
  // Frozen: every later request with this token gets the same object.
  const checked: AccessTokenClaims = Object.freeze({
    ...claims.data,
    amr: Object.freeze([...claims.data.amr]) as string[],
  });
  const until = Math.min(checked.exp * 1000 + CLOCK_TOLERANCE_SECONDS * 1000, now + VERIFIED_TOKEN_MEMORY_MS);
  verified.set(token, { claims: checked, issuer: settings.issuer, audience: settings.audience }, until, now);
  return checked;
}

// ---------------------------------------------------------------------------
// Client-credentials access tokens (POST /oauth/token, RFC 6749 §4.4)
//
// Same key ring, algorithm, `typ` (RFC 9068 `at+jwt`), issuer and audience as a
// person's token, but a different claim set: `sub` and `client_id` are the API
// key's id, `org_id` its organization, `scope` the granted scopes, and there is
// no `sid`. The two kinds cannot be mistaken for each other (RFC 8725 §3.11,
// mutually exclusive validation rules): a person's token requires `sid`, and a
// client token requires `client_id` and refuses `sid`.

const CLIENT_REQUIRED_CLAIMS = [
  "iss",
  "aud",
  "sub",
  "client_id",
  "org_id",
  "scope",
  "jti",
  "iat",
  "nbf",
  "exp",
];

export type ClientAccessTokenClaims = {
  iss: string;
  aud: string;
  /** The API key id (the OAuth client). */
  sub: string;
  client_id: string;
  org_id: string;
  /** Space-separated scopes (RFC 8693 §4.2). */
  scope: string;
  jti: string;
  iat: number;
  nbf: number;
  exp: number;
};

const clientClaimsSchema = z
  .object({
    iss: z.string(),
    aud: z.string(),
    sub: z.string().min(1).max(64),
    client_id: z.string().min(1).max(64),
    org_id: z.string().min(1).max(64),
    scope: z.string().max(2000),
    jti: z.string().min(1).max(64),
    iat: z.number(),
    nbf: z.number(),
    exp: z.number(),
    /** A session id would make it a person's token: refused. */
    sid: z.never().optional(),
  })
  .refine((claims) => claims.sub === claims.client_id);

export type SignedClientAccessToken = { token: string; expiresAt: number; claims: ClientAccessTokenClaims };

/** Signs a client-credentials access token living `settings.ttlSeconds`. */
export async function signClientAccessToken(
  ring: KeyRing,
  settings: TokenSettings,
  client: { clientId: string; organizationId: string; scopes: readonly string[] },
  now: number = Date.now(),
): Promise<SignedClientAccessToken> {
  const iat = Math.floor(now / 1000);
  const claims: ClientAccessTokenClaims = {
    iss: settings.issuer,
    aud: settings.audience,
    sub: client.clientId,
    client_id: client.clientId,
    org_id: client.organizationId,
    scope: client.scopes.join(" "),
    jti: uuidv7(now),
    iat,
    nbf: iat,
    exp: iat + settings.ttlSeconds,
  };
  const token = await signWithRegisteredClaims(ring, claims, {
    client_id: claims.client_id,
    org_id: claims.org_id,
    scope: claims.scope,
  });
  return { token, expiresAt: claims.exp * 1000, claims };
}

/** Like verifyAccessToken(), for client-credentials tokens; whether the key still works is the caller's concern. */
export async function verifyClientAccessToken(
  ring: KeyRing,
  settings: Pick<TokenSettings, "issuer" | "audience">,
  token: string,
  now: number = Date.now(),
): Promise<ClientAccessTokenClaims> {
  const payload = await verifySignedToken(ring, settings, token, CLIENT_REQUIRED_CLAIMS, now);
  const claims = clientClaimsSchema.safeParse(payload);
  if (!claims.success) throw new InvalidTokenError("invalid", "The access token is not valid.");
  return claims.data;
}

/** The public halves, for GET /.well-known/jwks.json. Never includes `d`. */
export function publicJwks(ring: KeyRing): { keys: PublicJwk[] } {
  return ring.jwks;
}
