/**
 * File names as clients send them, made safe to store, list and send back in a
 * `Content-Disposition` header. A name is only ever a label: the R2 key never
 * contains it.
 */

/** Longest stored name, in UTF-16 code units (what most file systems allow, in bytes, give or take). */
export const MAX_FILE_NAME_LENGTH = 255;

/**
 * "../../etc/passwd" → ".._.._etc_passwd", "inv\u202Egnp.exe" → "invgnp.exe": path
 * separators and the characters Windows reserves become "_", invisible format
 * characters (bidi overrides that disguise an extension, zero-width characters) go,
 * runs of white space become one space, and the name loses leading spaces and trailing spaces and dots (Windows drops them). Returns
 * null when nothing usable is left ("", ".", "..", only reserved characters …).
 * Control characters are refused before this runs (the request schema).
 */
export function sanitizeFileName(raw: string): string | null {
  const name = raw
    .normalize("NFC")
    .replace(/\p{Cf}/gu, "")
    .replace(/[\p{Cc}/\\<>:"|?*]/gu, "_")
    .replace(/\s+/gu, " ")
    .replace(/^\s+|[\s.]+$/gu, "")
    .slice(0, MAX_FILE_NAME_LENGTH)
    .trim();
  return /[^_\s.]/u.test(name) ? name : null;
}

/** RFC 8187 ext-value characters: everything else is percent-encoded (UTF-8). */
const encodeExtValue = (value: string) =>
  encodeURIComponent(value).replace(/['()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266): the quoted ASCII
 * fallback for old clients (anything else, quotes, backslashes and percent signs
 * become "_"), and the exact name, percent-encoded, for every current browser.
 */
export function attachmentDisposition(filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7e]|["\\%]/g, "_");
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encodeExtValue(filename)}`;
}
