/**
 * Secrets we must read back (TOTP shared secrets), encrypted at rest with AES-256-GCM
 * under a key from the environment. Each box is bound to a context string (the owner's
 * id) as additional authenticated data, so a ciphertext copied onto another row does
 * not open. Format: `v1.<iv>.<ciphertext+tag>`, base64url; the version leaves room for
 * a key rotation scheme without guessing at old rows.
 */
import { base64urlDecode, base64urlEncode, randomBytes } from "./crypto";

const VERSION = "v1";
const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function importKey(base64urlKey: string): Promise<CryptoKey> {
  let key = keys.get(base64urlKey);
  if (!key) {
    const raw = base64urlDecode(base64urlKey);
    if (raw.length !== 32) throw new RangeError("a secret-box key is 32 bytes");
    key = crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
    keys.set(base64urlKey, key);
  }
  return key;
}

export async function seal(base64urlKey: string, plaintext: Uint8Array, context: string): Promise<string> {
  const iv = randomBytes(12);
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: encoder.encode(context) },
    await importKey(base64urlKey),
    plaintext,
  );
  return `${VERSION}.${base64urlEncode(iv)}.${base64urlEncode(new Uint8Array(sealed))}`;
}

/** The plaintext, or null when the box is malformed, was sealed for another context or under another key. */
export async function open(base64urlKey: string, box: string, context: string): Promise<Uint8Array | null> {
  const [version, iv, sealed] = box.split(".");
  if (version !== VERSION || !iv || !sealed) return null;
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: base64urlDecode(iv), additionalData: encoder.encode(context) },
      await importKey(base64urlKey),
      base64urlDecode(sealed),
    );
    return new Uint8Array(plain);
  } catch {
    return null;
  }
}
