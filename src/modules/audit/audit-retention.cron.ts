/**
 * Audit retention: rows older than AUDIT_RETENTION_DAYS move from D1 to R2. Each round
 * takes the oldest rows (keyset order, at most ROWS_PER_ARCHIVE, one UTC day), writes
 * them to R2 as one gzip NDJSON object (audit-archive.ts), then, in ONE D1 batch,
 * records the object in `audit_archives` and deletes exactly those rows. The database
 * lets the delete through only because the record covers the rows and they are older
 * than 30 days (migration `audit_archive_deletes`): this job is the one path that
 * removes audit rows.
 *
 * Safe to die anywhere: before the upload nothing changed; after the upload but before
 * the batch, the rows are still in D1 and the next run finds their object under the same
 * key (the key is a function of the rows) and keeps it; the batch itself is atomic, so rows are
 * never deleted without their record. Two overlapping runs collide on the record's
 * unique key, and the loser's batch (with its deletes) rolls back.
 */
import { asc, lt } from "drizzle-orm";
import { inJsonList } from "../../db/batch";
import { type AuditLog, auditArchives, auditLogs } from "../../db/schema";
import type { MaintenanceJob } from "../../jobs/maintenance-job";
import type { ServiceContext } from "../../lib/context";
import { utcDay, writeAuditArchive } from "./audit-archive";

const DAY_MS = 24 * 60 * 60 * 1000;
/** Rows per R2 object: a row's before/after is capped at 16 KiB each, so a round stays well under memory limits. */
export const ROWS_PER_ARCHIVE = 500;
/** Objects per run: an hourly run moves up to 10,000 rows, far more than the log grows in an hour. */
const MAX_ARCHIVES_PER_RUN = 20;

/** The oldest rows created before `cutoff`, all of the first row's UTC day. */
async function nextArchiveRows(ctx: ServiceContext, cutoff: Date): Promise<AuditLog[]> {
  const rows = await ctx.db
    .select()
    .from(auditLogs)
    .where(lt(auditLogs.createdAt, cutoff))
    .orderBy(asc(auditLogs.createdAt), asc(auditLogs.id))
    .limit(ROWS_PER_ARCHIVE);
  const day = rows[0] ? utcDay(rows[0].createdAt) : null;
  // Keyset order, so the first day's rows are a prefix: the object holds one contiguous range.
  return rows.filter((row) => utcDay(row.createdAt) === day);
}

export async function archiveOldAuditRows(
  ctx: ServiceContext,
  now = Date.now(),
): Promise<{ archived_rows: number; archives: number }> {
  const cutoff = new Date(now - ctx.config.AUDIT_RETENTION_DAYS * DAY_MS);
  let archivedRows = 0;
  let archives = 0;
  for (let round = 0; round < MAX_ARCHIVES_PER_RUN; round++) {
    const rows = await nextArchiveRows(ctx, cutoff);
    const first = rows[0];
    const last = rows[rows.length - 1];
    if (!first || !last) break;
    // R2 first: the rows leave D1 only once their copy is durable.
    const object = await writeAuditArchive(ctx.env.FILES, rows);
    await ctx.db.batch([
      ctx.db.insert(auditArchives).values({
        r2Key: object.key,
        firstCreatedAt: first.createdAt,
        firstId: first.id,
        lastCreatedAt: last.createdAt,
        lastId: last.id,
        rowCount: rows.length,
        bytes: object.bytes,
      }),
      // One bound parameter for the whole id list (D1 caps a statement at 100).
      ctx.db.delete(auditLogs).where(
        inJsonList(
          auditLogs.id,
          rows.map((row) => row.id),
        ),
      ),
    ]);
    archivedRows += rows.length;
    archives += 1;
  }
  return { archived_rows: archivedRows, archives };
}

/** Listed in src/modules/wiring.ts; hourly, so a large backlog (a first deploy with old rows) drains in a day. */
export const archiveAuditLogsJob: MaintenanceJob = {
  name: "audit.archive_old",
  everyMinutes: 60,
  run: (ctx, now) => archiveOldAuditRows(ctx, now.getTime()),
};
