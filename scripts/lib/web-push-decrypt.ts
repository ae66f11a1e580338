/**
 * What a browser does with an `aes128gcm` Web Push message (RFC 8291 §3, RFC 8188 §2),
 * on Web Crypto alone so it runs in Node (scripts/push-receiver.ts) and in workerd
 * (the tests, which check it against the RFC's example): read the header (salt, record
 * size, the sender's public key), agree on the secret with the subscriber's private key,
 * derive the content key and nonce with HKDF, open the single record, strip its padding.
 * Written apart from the library the Worker encrypts with, so each checks the other.
 */

export type SubscriberKeys = {
  /** The subscriber's ECDH P-256 private key (the browser keeps it). */
  privateKey: CryptoKey;
  /** Its public point, 65 bytes base64url, as posted in `keys.p256dh`. */
  p256dh: string;
  /** The 16-byte auth secret, base64url, as posted in `keys.auth`. */
  auth: string;
};

const encoder = new TextEncoder();
/** UTF-8 bytes on a plain ArrayBuffer, the kind Web Crypto's typings take. */
const utf8 = (text: string) => new Uint8Array(encoder.encode(text));

export function fromBase64url(text: string): Uint8Array<ArrayBuffer> {
  const padded = text.replaceAll("-", "+").replaceAll("_", "/").replace(/=+$/, "");
  return Uint8Array.from(atob(padded + "=".repeat((4 - (padded.length % 4)) % 4)), (ch) => ch.charCodeAt(0));
}

async function hkdf(
  salt: Uint8Array<ArrayBuffer>,
  ikm: BufferSource,
  info: Uint8Array<ArrayBuffer>,
  bits: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const key = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  return new Uint8Array(
    await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info }, key, bits),
  );
}

export async function decryptWebPush(message: Uint8Array, subscriber: SubscriberKeys): Promise<Uint8Array> {
  const body = new Uint8Array(message);
  if (body.byteLength < 21) throw new Error("not an aes128gcm body: shorter than its header");
  const salt = body.slice(0, 16);
  const recordSize = new DataView(body.buffer, body.byteOffset + 16, 4).getUint32(0);
  const idLength = body[20] ?? 0;
  if (idLength !== 65)
    throw new Error(`the key id must be the sender's 65-byte public key, not ${idLength} bytes`);
  const senderPublic = body.slice(21, 21 + idLength);
  const record = body.slice(21 + idLength);
  if (record.byteLength > recordSize) throw new Error("more than one record: a push message has one");

  const sender = await crypto.subtle.importKey(
    "raw",
    senderPublic,
    { name: "ECDH", namedCurve: "P-256" },
    false,
    [],
  );
  // Web Crypto's member is `public` (workers-types spells it `$public`, a reserved-word workaround).
  const ecdh = { name: "ECDH", public: sender } as unknown as Parameters<typeof crypto.subtle.deriveBits>[0];
  const ecdhSecret = await crypto.subtle.deriveBits(ecdh, subscriber.privateKey, 256);
  const uaPublic = fromBase64url(subscriber.p256dh);
  const keyInfo = new Uint8Array([...utf8("WebPush: info\0"), ...uaPublic, ...senderPublic]);
  const ikm = await hkdf(fromBase64url(subscriber.auth), ecdhSecret, keyInfo, 256);
  const cek = await hkdf(salt, ikm, utf8("Content-Encoding: aes128gcm\0"), 128);
  const nonce = await hkdf(salt, ikm, utf8("Content-Encoding: nonce\0"), 96);
  const key = await crypto.subtle.importKey("raw", cek, "AES-GCM", false, ["decrypt"]);
  const padded = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: nonce }, key, record));
  // The last (only) record: the data, then the delimiter 0x02, then zeros.
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end -= 1;
  if (padded[end] !== 2) throw new Error("the record does not end with the last-record delimiter");
  return padded.slice(0, end);
}
