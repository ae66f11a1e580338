/**
 * The types an organization file may have, and how its first bytes prove it. Only
 * types whose content can be checked are accepted: a signature (magic number) for
 * binary formats, and for text formats, valid UTF-8 without NUL bytes (and, for JSON,
 * the start of a JSON value; the whole document parses when it fits in the sample).
 * No type a browser would run (HTML, SVG, XML, JavaScript) is on the list, and
 * downloads are attachments with `nosniff` besides.
 */
import { inspectImage } from "./image-type";

/** How much of an upload is read to check it (a range read; the rest never leaves R2). */
export const FILE_SAMPLE_BYTES = 64 * 1024;

type Check = (sample: Uint8Array, complete: boolean) => string | null;

const startsWith = (bytes: Uint8Array, signature: readonly number[], offset = 0) =>
  signature.every((byte, i) => bytes[offset + i] === byte);

const ascii = (text: string) => Array.from(text, (ch) => ch.charCodeAt(0));

const PDF = ascii("%PDF-");
/** A ZIP's first local file header, or the end record of an empty archive. */
const ZIP_LOCAL_FILE = [0x50, 0x4b, 0x03, 0x04];
const ZIP_EMPTY = [0x50, 0x4b, 0x05, 0x06];

function image(mediaType: string): Check {
  return (sample) => {
    // The signature decides; dimensions matter for avatars, not for a stored file.
    const detected = inspectImage(sample).type?.mediaType;
    return detected === mediaType ? null : `The content is not a ${mediaType.slice(6).toUpperCase()} image.`;
  };
}

const pdf: Check = (sample) => (startsWith(sample, PDF) ? null : "The content does not start with %PDF-.");

const zip =
  (what: string): Check =>
  (sample) =>
    startsWith(sample, ZIP_LOCAL_FILE) || startsWith(sample, ZIP_EMPTY)
      ? null
      : `The content is not ${what} (no ZIP signature).`;

/**
 * Valid UTF-8 (a multi-byte character cut by the end of the sample is fine when the
 * file goes on) with no NUL byte: what sets text apart from a binary renamed `.txt`.
 */
function utf8(sample: Uint8Array, complete: boolean): string | null {
  if (sample.includes(0)) return "The content has NUL bytes: it is binary, not text.";
  try {
    new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(sample, { stream: !complete });
    return null;
  } catch {
    return "The content is not valid UTF-8 text.";
  }
}

const text: Check = (sample, complete) => utf8(sample, complete);

const json: Check = (sample, complete) => {
  const notText = utf8(sample, complete);
  if (notText) return notText;
  const decoded = new TextDecoder("utf-8").decode(sample, { stream: !complete });
  const start = decoded.replace(/^\uFEFF/, "").trimStart();
  if (!/^[{["\-0-9tfn]/.test(start)) return "The content does not start like a JSON value.";
  if (!complete) return null;
  try {
    JSON.parse(start);
    return null;
  } catch {
    return "The content is not valid JSON.";
  }
};

const OOXML = "application/vnd.openxmlformats-officedocument";

export const FILE_TYPES = {
  "image/png": { extension: "png", check: image("image/png") },
  "image/jpeg": { extension: "jpg", check: image("image/jpeg") },
  "image/gif": { extension: "gif", check: image("image/gif") },
  "image/webp": { extension: "webp", check: image("image/webp") },
  "application/pdf": { extension: "pdf", check: pdf },
  "application/zip": { extension: "zip", check: zip("a ZIP archive") },
  [`${OOXML}.wordprocessingml.document`]: { extension: "docx", check: zip("a Word document") },
  [`${OOXML}.spreadsheetml.sheet`]: { extension: "xlsx", check: zip("an Excel workbook") },
  [`${OOXML}.presentationml.presentation`]: { extension: "pptx", check: zip("a PowerPoint presentation") },
  "text/plain": { extension: "txt", check: text },
  "text/csv": { extension: "csv", check: text },
  "application/json": { extension: "json", check: json },
} as const satisfies Record<string, { extension: string; check: Check }>;

export type FileMediaType = keyof typeof FILE_TYPES;
export const FILE_MEDIA_TYPES = Object.keys(FILE_TYPES) as FileMediaType[];

export function isFileMediaType(value: string): value is FileMediaType {
  return Object.hasOwn(FILE_TYPES, value);
}

/** Text types are served with `charset=utf-8`: complete proved they are UTF-8. */
export function servedContentType(mediaType: string): string {
  return mediaType.startsWith("text/") || mediaType === "application/json"
    ? `${mediaType}; charset=utf-8`
    : mediaType;
}

/** What the sample looks like, for the answer to a mismatch (binary formats only; text has no signature). */
export function detectMediaType(sample: Uint8Array): string | null {
  const image = inspectImage(sample).type?.mediaType;
  if (image) return image;
  if (startsWith(sample, PDF)) return "application/pdf";
  if (startsWith(sample, ZIP_LOCAL_FILE) || startsWith(sample, ZIP_EMPTY)) return "application/zip";
  return null;
}

export type ContentCheck = { ok: true } | { ok: false; detail: string; detected: string | null };

/**
 * Whether `sample` (the first bytes of the file; all of it when `complete`) is
 * content of `mediaType`.
 */
export function checkFileContent(
  mediaType: FileMediaType,
  sample: Uint8Array,
  complete: boolean,
): ContentCheck {
  const problem = FILE_TYPES[mediaType].check(sample, complete);
  return problem === null ? { ok: true } : { ok: false, detail: problem, detected: detectMediaType(sample) };
}
