/**
 * HMAC keys for one purpose each (signed upload and download URLs, …), derived with
 * HKDF-SHA256 (RFC 5869) from the access-token signing keys in JWT_PRIVATE_KEYS, so a
 * deployment has no further secret to generate, store and rotate. The `info` string
 * names the purpose: keys of two purposes are unrelated, and nothing derived can be
 * turned back into the signing key or into an access token.
 *
 * It follows JWT_PRIVATE_KEYS' rotation: the first key's derivative signs, every key's
 * derivative verifies (by kid), so putting a new signing key first keeps URLs signed
 * with the previous one working until they expire.
 */
import { base64urlDecode } from "./crypto";
import { getKeyRing, type KeyRing } from "./jwt";

export type DerivedHmacKeys = {
  signing: { kid: string; key: CryptoKey };
  /** Every configured key's derivative, by kid. */
  verifying: Map<string, CryptoKey>;
};

const encoder = new TextEncoder();
/** A fixed, public salt (RFC 5869 §3.1: optional, and the input keys are already uniformly random). */
const SALT = encoder.encode("edge-api-platform/derived-keys");

const cache = new WeakMap<KeyRing, Map<string, Promise<DerivedHmacKeys>>>();

async function derive(d: string, purpose: string): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", base64urlDecode(d), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: SALT, info: encoder.encode(purpose) },
    base,
    { name: "HMAC", hash: "SHA-256", length: 256 },
    false,
    ["sign", "verify"],
  );
}

async function deriveAll(ring: KeyRing, purpose: string): Promise<DerivedHmacKeys> {
  const verifying = new Map<string, CryptoKey>();
  for (const { kid, d } of ring.material) verifying.set(kid, await derive(d, purpose));
  const kid = ring.signing.kid;
  const key = verifying.get(kid);
  if (!key) throw new Error("derivedHmacKeys: the signing key has no material");
  return { signing: { kid, key }, verifying };
}

/** The HMAC-SHA256 keys for `purpose`, derived once per isolate and key ring. */
export async function derivedHmacKeys(
  jwtPrivateKeys: string | undefined,
  purpose: string,
): Promise<DerivedHmacKeys> {
  const ring = await getKeyRing(jwtPrivateKeys);
  let byPurpose = cache.get(ring);
  if (!byPurpose) {
    byPurpose = new Map();
    cache.set(ring, byPurpose);
  }
  let keys = byPurpose.get(purpose);
  if (!keys) {
    keys = deriveAll(ring, purpose);
    keys.catch(() => byPurpose?.delete(purpose));
    byPurpose.set(purpose, keys);
  }
  return keys;
}
