/**
 * The API key format: `sk_live_` or `sk_test_`, then 32 random bytes as 43
 * base62 characters, then a 6-character base62 CRC32 of everything before it.
 *
 *   sk_live_2Vf8kQ0ZrTq9LmX4bN7cD1eF5gH3jK6pS8uW0yA2cE4  Gx71Qb   (made up for this comment, not a real key)
 *   └prefix┘└──────────── 256 random bits ─────────────┘└CRC32┘
 *
 * The checksum lets us refuse a mistyped or made-up key before any lookup, and
 * lets secret scanners (GitHub, GitGuardian …) tell our keys from random text
 * with almost no false positives. It is not a security boundary: anyone can
 * compute a CRC. The secret's strength is its 256 random bits, and only its
 * SHA-256 is ever stored.
 *
 * This file must stay free of relative imports: scripts/seed-demo.ts runs it directly in Node
 * to make demo keys that the API accepts.
 */

export type KeyMode = "live" | "test";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_BYTES = 32;
/** ceil(256 / log2(62)): every 32-byte value fits, so every key has the same length. */
export const RANDOM_CHARS = 43;
/** 62^6 > 2^32: any CRC32 fits. */
export const CHECKSUM_CHARS = 6;
/** `sk_live_` + 8 characters: enough to tell keys apart in a list, far too little to guess the rest. */
export const DISPLAY_PREFIX_LENGTH = 16;

export const API_KEY_REGEX = new RegExp(
  `^sk_(live|test)_([0-9A-Za-z]{${RANDOM_CHARS}})([0-9A-Za-z]{${CHECKSUM_CHARS}})$`,
);
export const API_KEY_LENGTH = "sk_live_".length + RANDOM_CHARS + CHECKSUM_CHARS;

/** Fixed-width base62 of a non-negative integer (most significant digit first). */
export function base62(value: bigint, width: number): string {
  let out = "";
  let rest = value;
  while (rest > 0n) {
    out = BASE62[Number(rest % 62n)] + out;
    rest /= 62n;
  }
  if (out.length > width) throw new RangeError(`base62: ${value} needs more than ${width} digits`);
  return out.padStart(width, "0");
}

function bytesToBigInt(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3, the zlib one) of the UTF-8 bytes of `text`. */
export function crc32(text: string): number {
  let crc = 0xffffffff;
  for (const byte of new TextEncoder().encode(text)) {
    crc = (CRC_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

export function checksumOf(body: string): string {
  return base62(BigInt(crc32(body)), CHECKSUM_CHARS);
}

/** A new secret for `mode`; shown to its creator once and never stored. */
export function generateApiKey(mode: KeyMode): string {
  const random = crypto.getRandomValues(new Uint8Array(RANDOM_BYTES));
  const body = `sk_${mode}_${base62(bytesToBigInt(random), RANDOM_CHARS)}`;
  return `${body}${checksumOf(body)}`;
}

/**
 * The mode of a well-formed key whose checksum holds, or null. Costs no I/O: a
 * typo or a forged string is refused here, before any lookup.
 */
export function parseApiKey(text: string): { mode: KeyMode } | null {
  if (text.length !== API_KEY_LENGTH) return null;
  const match = API_KEY_REGEX.exec(text);
  if (!match) return null;
  const body = text.slice(0, text.length - CHECKSUM_CHARS);
  if (checksumOf(body) !== match[3]) return null;
  return { mode: match[1] as KeyMode };
}

/** What lists show of a key: `sk_live_` and its first random characters. */
export function displayPrefix(secret: string): string {
  return secret.slice(0, DISPLAY_PREFIX_LENGTH);
}
