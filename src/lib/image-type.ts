/**
 * What an upload really is, from its first bytes (magic numbers), never from a
 * file name or a declared Content-Type. Besides the signature, the header that
 * follows it is read far enough to get the image's dimensions, so a file cut off
 * after its signature, or a signature glued onto something else, is told apart
 * from a real image.
 */

export const IMAGE_TYPES = {
  "image/png": { mediaType: "image/png", extension: "png" },
  "image/jpeg": { mediaType: "image/jpeg", extension: "jpg" },
  "image/webp": { mediaType: "image/webp", extension: "webp" },
  "image/gif": { mediaType: "image/gif", extension: "gif" },
} as const;

export type ImageMediaType = keyof typeof IMAGE_TYPES;
export type ImageType = (typeof IMAGE_TYPES)[ImageMediaType];

export const IMAGE_MEDIA_TYPES = Object.keys(IMAGE_TYPES) as ImageMediaType[];

export function isImageMediaType(value: string): value is ImageMediaType {
  return Object.hasOwn(IMAGE_TYPES, value);
}

export type ImageInspection =
  | { ok: true; type: ImageType; width: number; height: number }
  /**
   * - `empty`: no bytes at all;
   * - `unknown`: not one of the four formats (a script, a PDF, an SVG ...);
   * - `truncated`: starts like one of them but ends before its header does;
   * - `malformed`: the header is there but impossible (zero size, wrong chunk).
   */
  | { ok: false; reason: "empty" | "unknown" | "truncated" | "malformed"; type?: ImageType; detail: string };

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_SIGNATURE = [0xff, 0xd8, 0xff];
const GIF87 = [0x47, 0x49, 0x46, 0x38, 0x37, 0x61]; // "GIF87a"
const GIF89 = [0x47, 0x49, 0x46, 0x38, 0x39, 0x61]; // "GIF89a"
const RIFF = [0x52, 0x49, 0x46, 0x46]; // "RIFF"
const WEBP = [0x57, 0x45, 0x42, 0x50]; // "WEBP"

const ascii = (bytes: Uint8Array, start: number, length: number) =>
  String.fromCharCode(...bytes.subarray(start, start + length));

function startsWith(bytes: Uint8Array, signature: number[], offset = 0): boolean {
  return signature.every((byte, i) => bytes[offset + i] === byte);
}

/** True when all of `bytes` matches the start of `signature` (a file cut inside its signature). */
function isPrefixOf(bytes: Uint8Array, signature: number[], offset = 0): boolean {
  const available = Math.min(bytes.length - offset, signature.length);
  if (available <= 0) return false;
  for (let i = 0; i < available; i++) if (bytes[offset + i] !== signature[i]) return false;
  return true;
}

const u16be = (b: Uint8Array, i: number) => ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0);
const u16le = (b: Uint8Array, i: number) => (b[i] ?? 0) | ((b[i + 1] ?? 0) << 8);
const u24le = (b: Uint8Array, i: number) => (b[i] ?? 0) | ((b[i + 1] ?? 0) << 8) | ((b[i + 2] ?? 0) << 16);
const u32be = (b: Uint8Array, i: number) =>
  (b[i] ?? 0) * 2 ** 24 + (b[i + 1] ?? 0) * 2 ** 16 + u16be(b, i + 2);

type Dimensions = { width: number; height: number } | "truncated" | "malformed";

function png(bytes: Uint8Array): Dimensions {
  // Signature (8), then the IHDR chunk: length (4) = 13, type (4) "IHDR", width (4), height (4), 5 more bytes, CRC (4).
  if (bytes.length < 33) return "truncated";
  if (u32be(bytes, 8) !== 13 || ascii(bytes, 12, 4) !== "IHDR") return "malformed";
  return { width: u32be(bytes, 16), height: u32be(bytes, 20) };
}

function gif(bytes: Uint8Array): Dimensions {
  // Signature (6), logical screen width and height (2 + 2, little-endian), flags, background, aspect.
  if (bytes.length < 13) return "truncated";
  return { width: u16le(bytes, 6), height: u16le(bytes, 8) };
}

function webp(bytes: Uint8Array): Dimensions {
  // "RIFF" size "WEBP", then the first chunk's fourcc and size, then its header.
  if (bytes.length < 16) return "truncated";
  const chunk = ascii(bytes, 12, 4);
  if (chunk === "VP8X") {
    if (bytes.length < 30) return "truncated";
    return { width: u24le(bytes, 24) + 1, height: u24le(bytes, 27) + 1 };
  }
  if (chunk === "VP8L") {
    if (bytes.length < 25) return "truncated";
    if (bytes[20] !== 0x2f) return "malformed";
    const bits =
      (bytes[21] ?? 0) | ((bytes[22] ?? 0) << 8) | ((bytes[23] ?? 0) << 16) | ((bytes[24] ?? 0) << 24);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === "VP8 ") {
    if (bytes.length < 30) return "truncated";
    if (bytes[23] !== 0x9d || bytes[24] !== 0x01 || bytes[25] !== 0x2a) return "malformed";
    return { width: u16le(bytes, 26) & 0x3fff, height: u16le(bytes, 28) & 0x3fff };
  }
  return "malformed";
}

/** Start-of-frame markers (baseline, progressive, lossless, arithmetic): they carry the dimensions. */
const JPEG_SOF = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

function jpeg(bytes: Uint8Array): Dimensions {
  // Walk the marker segments after SOI until a start-of-frame; its header holds height and width.
  let offset = 2;
  while (offset < bytes.length) {
    if (bytes[offset] !== 0xff) return "malformed";
    let marker = bytes[offset + 1];
    // 0xFF fill bytes may pad before a marker.
    while (marker === 0xff) {
      offset += 1;
      marker = bytes[offset + 1];
    }
    if (marker === undefined) return "truncated";
    offset += 2;
    // Markers without a length: TEM, RSTn, SOI.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) continue;
    // Image data or the end before any frame header: not an image we can size.
    if (marker === 0xda || marker === 0xd9) return "malformed";
    if (offset + 2 > bytes.length) return "truncated";
    const length = u16be(bytes, offset);
    if (length < 2) return "malformed";
    if (JPEG_SOF.has(marker)) {
      // length (2), precision (1), height (2), width (2)
      if (offset + 7 > bytes.length) return "truncated";
      return { width: u16be(bytes, offset + 5), height: u16be(bytes, offset + 3) };
    }
    offset += length;
  }
  return "truncated";
}

const FORMATS: Array<{
  type: ImageType;
  matches: (b: Uint8Array) => boolean;
  prefix: (b: Uint8Array) => boolean;
  read: (b: Uint8Array) => Dimensions;
}> = [
  {
    type: IMAGE_TYPES["image/png"],
    matches: (b) => startsWith(b, PNG_SIGNATURE),
    prefix: (b) => isPrefixOf(b, PNG_SIGNATURE),
    read: png,
  },
  {
    type: IMAGE_TYPES["image/jpeg"],
    matches: (b) => startsWith(b, JPEG_SIGNATURE),
    prefix: (b) => isPrefixOf(b, JPEG_SIGNATURE),
    read: jpeg,
  },
  {
    type: IMAGE_TYPES["image/gif"],
    matches: (b) => startsWith(b, GIF87) || startsWith(b, GIF89),
    prefix: (b) => isPrefixOf(b, GIF87) || isPrefixOf(b, GIF89),
    read: gif,
  },
  {
    type: IMAGE_TYPES["image/webp"],
    matches: (b) => startsWith(b, RIFF) && startsWith(b, WEBP, 8),
    // "RIFF" alone is also WAV or AVI: only a cut inside "RIFF????WEBP" counts as a truncated WebP.
    prefix: (b) => isPrefixOf(b, RIFF) && (b.length <= 8 || isPrefixOf(b, WEBP, 8)),
    read: webp,
  },
];

/** Identifies a PNG, JPEG, GIF or WebP by its bytes and reads its dimensions. */
export function inspectImage(bytes: Uint8Array, maxSide = Number.POSITIVE_INFINITY): ImageInspection {
  if (bytes.length === 0) return { ok: false, reason: "empty", detail: "The upload is empty." };
  for (const format of FORMATS) {
    const name = format.type.extension.toUpperCase();
    if (!format.matches(bytes)) {
      if (format.prefix(bytes)) {
        return {
          ok: false,
          reason: "truncated",
          type: format.type,
          detail: `The ${name} header is cut short.`,
        };
      }
      continue;
    }
    const size = format.read(bytes);
    if (size === "truncated") {
      return {
        ok: false,
        reason: "truncated",
        type: format.type,
        detail: `The ${name} header is cut short.`,
      };
    }
    if (size === "malformed") {
      return {
        ok: false,
        reason: "malformed",
        type: format.type,
        detail: `The ${name} header is not valid.`,
      };
    }
    if (size.width === 0 || size.height === 0) {
      return {
        ok: false,
        reason: "malformed",
        type: format.type,
        detail: `The ${name} image has no pixels.`,
      };
    }
    if (size.width > maxSide || size.height > maxSide) {
      return {
        ok: false,
        reason: "malformed",
        type: format.type,
        detail: `The image is ${size.width}×${size.height} pixels; at most ${maxSide}×${maxSide} is accepted.`,
      };
    }
    return { ok: true, type: format.type, ...size };
  }
  return { ok: false, reason: "unknown", detail: "The content is not a PNG, JPEG, WebP or GIF image." };
}
