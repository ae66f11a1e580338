/**
 * UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then random bits. Ids sort by
 * creation time, which keeps D1 primary-key inserts append-mostly and lets cursor
 * pagination use the id as a stable tie-breaker.
 */

/** "00" … "ff", by byte value. */
const HEX_BYTE = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

let lastMs = 0;
let lastSeq = 0;

/**
 * Random bytes drawn 4 KiB at a time, each used once. Why: every request makes an id (its
 * request id), and each crypto.getRandomValues() is a call into the runtime that costs more than
 * the rest of uuidv7() together. Filled on first use, never at module scope (Workers refuse
 * random values outside a request).
 */
const randomPool = new Uint8Array(4096);
let randomPoolOffset = randomPool.length;

function sixteenRandomBytes(): Uint8Array {
  if (randomPoolOffset + 16 > randomPool.length) {
    crypto.getRandomValues(randomPool);
    randomPoolOffset = 0;
  }
  const bytes = randomPool.slice(randomPoolOffset, randomPoolOffset + 16);
  randomPoolOffset += 16;
  return bytes;
}

export function uuidv7(now: number = Date.now()): string {
  const bytes = sixteenRandomBytes();

  // Within one millisecond of one isolate, count up in the 12-bit rand_a field so
  // ids made in a burst still sort in the order they were made (RFC 9562 §6.2, method 1).
  let ms = now;
  if (ms <= lastMs) {
    ms = lastMs;
    lastSeq += 1;
    if (lastSeq > 0xfff) {
      ms = lastMs + 1;
      lastSeq = 0;
    }
  } else {
    lastSeq = (bytes[6] as number) & 0x07; // random start, leaves room to count up
  }
  lastMs = ms;

  bytes[0] = Math.floor(ms / 2 ** 40) & 0xff;
  bytes[1] = Math.floor(ms / 2 ** 32) & 0xff;
  bytes[2] = (ms >>> 24) & 0xff;
  bytes[3] = (ms >>> 16) & 0xff;
  bytes[4] = (ms >>> 8) & 0xff;
  bytes[5] = ms & 0xff;
  bytes[6] = 0x70 | ((lastSeq >>> 8) & 0x0f); // version 7
  bytes[7] = lastSeq & 0xff;
  bytes[8] = 0x80 | ((bytes[8] as number) & 0x3f); // variant 10

  // Every request makes one (its request id): a table and one concatenation, not 16 padStarts.
  let id = "";
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) id += "-";
    id += HEX_BYTE[bytes[i] as number];
  }
  return id;
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

/** The creation time encoded in a UUIDv7. */
export function uuidv7Timestamp(id: string): Date {
  return new Date(Number.parseInt(id.replaceAll("-", "").slice(0, 12), 16));
}
