/**
 * The R2 side of audit retention: how archived audit rows are laid out in the FILES
 * bucket, written and read back. The retention cron (audit-retention.cron.ts) writes,
 * the export (audit-export.ts) reads.
 *
 * Layout: one object per run of rows of ONE UTC day, in keyset order (created_at, id):
 *
 *   audit-archive/YYYY/MM/DD/<first_id>--<last_id>.ndjson.gz
 *
 * gzip-compressed NDJSON, one row per line with the field names of the audit list API
 * (toAuditLogDto), so an archive reads like an export. The key is a function of the rows
 * alone: a cron run that died after its upload finds its object under the same key when
 * it runs again, never a second copy. An `audit_archives` row in D1 records each
 * object; the export finds objects through it, never by listing the bucket.
 */
import type { AuditLog } from "../../db/schema";
import { toAuditLogDto } from "./audit.service";

export const AUDIT_ARCHIVE_PREFIX = "audit-archive/";

/** `YYYY-MM-DD` of a UTC instant. */
export const utcDay = (at: Date): string => at.toISOString().slice(0, 10);

export function auditArchiveKey(first: AuditLog, last: AuditLog): string {
  return `${AUDIT_ARCHIVE_PREFIX}${utcDay(first.createdAt).replaceAll("-", "/")}/${first.id}--${last.id}.ndjson.gz`;
}

/** One NDJSON line per row, each ending with "\n". */
export function toNdjsonLines(rows: readonly AuditLog[]): string {
  return rows.map((row) => `${JSON.stringify(toAuditLogDto(row))}\n`).join("");
}

async function gzip(text: string): Promise<ArrayBuffer> {
  const compressed = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Response(compressed).arrayBuffer();
}

/**
 * Writes `rows` (non-empty, one UTC day, in keyset order) as one object and answers its key
 * and compressed size. R2 writes are strongly consistent: once this resolves, a read
 * anywhere sees the object, so deleting the rows from D1 afterwards loses nothing.
 */
export async function writeAuditArchive(
  bucket: R2Bucket,
  rows: readonly AuditLog[],
): Promise<{ key: string; bytes: number }> {
  const first = rows[0];
  const last = rows[rows.length - 1];
  if (!first || !last) throw new RangeError("an audit archive needs at least one row");
  const key = auditArchiveKey(first, last);
  // A run that died between its upload and its D1 batch left this object: same rows, same key.
  // Keep it rather than write it again, so a bucket lock on audit-archive/ (docs/OPERATIONS.md),
  // which refuses overwrites, never blocks the retry.
  const existing = await bucket.head(key);
  if (existing && existing.customMetadata?.rows === String(rows.length)) return { key, bytes: existing.size };
  const body = await gzip(toNdjsonLines(rows));
  const object = await bucket.put(key, body, {
    httpMetadata: { contentType: "application/x-ndjson", contentEncoding: "gzip" },
    customMetadata: { rows: String(rows.length), first_id: first.id, last_id: last.id },
  });
  return { key, bytes: object.size };
}

/**
 * The lines of an archived object, decompressed as they stream in: one object's rows are
 * never all in memory at once. A recorded object that is missing is an error: its rows
 * are gone from D1, so answering without them would be a silent hole in the record.
 */
export async function* readAuditArchiveLines(bucket: R2Bucket, key: string): AsyncGenerator<string> {
  const object = await bucket.get(key);
  if (!object) throw new Error(`audit archive ${key} is recorded in D1 but missing from R2`);
  const text = object.body.pipeThrough(new DecompressionStream("gzip")).pipeThrough(new TextDecoderStream());
  let pending = "";
  for await (const piece of text) {
    pending += piece;
    let newline = pending.indexOf("\n");
    while (newline !== -1) {
      const line = pending.slice(0, newline);
      if (line !== "") yield line;
      pending = pending.slice(newline + 1);
      newline = pending.indexOf("\n");
    }
  }
  if (pending !== "") yield pending;
}
