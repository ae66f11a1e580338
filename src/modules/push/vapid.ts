/**
 * VAPID (RFC 8292): how push services know our pushes come from the server their
 * subscribers subscribed to. VAPID_PRIVATE_KEY is the P-256 scalar (32 bytes,
 * base64url), the format web-push tooling prints, so an existing key pair keeps its
 * browser subscriptions. Browsers subscribe with the public point it derives
 * (GET /notifications/push/vapid-public-key); each push carries a short ES256 JWT for
 * the push service's origin, signed with jose like every other token here.
 */
import { SignJWT } from "jose";
import { parseMailbox } from "../../email/mailbox";
import { type Config, ConfigError } from "../../env";
import { base64urlDecode, base64urlEncode } from "../../lib/crypto";
import { ProblemError } from "../../lib/problem";

export type VapidKeys = {
  /** For signing the JWTs. */
  privateKey: CryptoKey;
  /** The uncompressed public point (65 bytes), base64url: the browsers' `applicationServerKey`. */
  publicKey: string;
};

/** How long a VAPID JWT is valid: under RFC 8292's 24-hour ceiling, with room for clock skew. */
export const VAPID_JWT_TTL_SECONDS = 12 * 60 * 60;

/**
 * PKCS#8 wrapping of a bare P-256 scalar (ECPrivateKey without its optional public key):
 * Web Crypto imports it and computes the public point, which `jwk` export then gives us.
 */
const PKCS8_P256_PREFIX = Uint8Array.from([
  0x30, 0x41, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
  0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04, 0x27, 0x30, 0x25, 0x02, 0x01, 0x01, 0x04, 0x20,
]);

const imported = new Map<string, Promise<VapidKeys>>();

/** The 503 every push route and delivery answers while a channel has no keys. */
export function pushNotConfigured(what: string): ProblemError {
  return new ProblemError({ status: 503, code: "push_not_configured", detail: what });
}

/** The keys of VAPID_PRIVATE_KEY (imported once per isolate), or 503 `push_not_configured` without one. */
export function vapidKeys(config: Pick<Config, "VAPID_PRIVATE_KEY">): Promise<VapidKeys> {
  const secret = config.VAPID_PRIVATE_KEY;
  if (!secret) {
    return Promise.reject(
      pushNotConfigured("Web Push is not configured on this server: VAPID_PRIVATE_KEY is not set."),
    );
  }
  let keys = imported.get(secret);
  if (!keys) {
    keys = importVapidKey(secret);
    imported.set(secret, keys);
    // A key that does not import (not a point on the curve) must not stay cached as a rejection forever.
    keys.catch(() => imported.delete(secret));
  }
  return keys;
}

async function importVapidKey(secret: string): Promise<VapidKeys> {
  const scalar = base64urlDecode(secret);
  const pkcs8 = new Uint8Array(PKCS8_P256_PREFIX.length + scalar.length);
  pkcs8.set(PKCS8_P256_PREFIX);
  pkcs8.set(scalar, PKCS8_P256_PREFIX.length);
  const extractable = await crypto.subtle
    .importKey("pkcs8", pkcs8, { name: "ECDSA", namedCurve: "P-256" }, true, ["sign"])
    .catch(() => {
      // Zero, or not below the curve's order: 32 bytes that are no P-256 private key.
      throw new ConfigError(["VAPID_PRIVATE_KEY: is not a P-256 private key"]);
    });
  const jwk = (await crypto.subtle.exportKey("jwk", extractable)) as JsonWebKey;
  const x = base64urlDecode(jwk.x ?? "");
  const y = base64urlDecode(jwk.y ?? "");
  const point = new Uint8Array(65);
  point[0] = 0x04;
  point.set(x, 1);
  point.set(y, 33);
  // The signing key itself is not extractable: nothing after this needs the scalar again.
  const privateKey = await crypto.subtle.importKey(
    "jwk",
    { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, d: jwk.d },
    { name: "ECDSA", namedCurve: "P-256" },
    false,
    ["sign"],
  );
  return { privateKey, publicKey: base64urlEncode(point) };
}

/**
 * Who push services may contact about our pushes (the JWT's `sub`): VAPID_SUBJECT, else
 * APP_URL when it is https, else the address of EMAIL_FROM. Apple's service refuses
 * anything but a mailto: or https: subject, so a local http APP_URL is never used.
 */
export function vapidSubject(config: Pick<Config, "VAPID_SUBJECT" | "APP_URL" | "EMAIL_FROM">): string {
  if (config.VAPID_SUBJECT) return config.VAPID_SUBJECT;
  if (config.APP_URL.startsWith("https:")) return new URL(config.APP_URL).origin;
  return `mailto:${parseMailbox(config.EMAIL_FROM).email}`;
}

/** The `Authorization` header of one push to `endpoint` (RFC 8292 §3: `vapid t=<JWT>, k=<public key>`). */
export async function vapidAuthorization(
  keys: VapidKeys,
  endpoint: URL,
  subject: string,
  now = Date.now(),
): Promise<string> {
  const issuedAt = Math.floor(now / 1000);
  const jwt = await new SignJWT({ sub: subject })
    .setProtectedHeader({ typ: "JWT", alg: "ES256" })
    .setAudience(endpoint.origin)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + VAPID_JWT_TTL_SECONDS)
    .sign(keys.privateKey);
  return `vapid t=${jwt}, k=${keys.publicKey}`;
}
