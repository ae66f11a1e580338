/**
 * GET /admin/v1/audit-logs/export: every audit row created in [from, to], oldest first,
 * as NDJSON (one AuditLogDto per line), whether the row still lives in D1 or was archived
 * to R2 by the retention cron. Archived rows come first: the cron archives the oldest
 * rows, in keyset order, so every archived row is older than every row left in D1, and
 * the record of an object and the deletion of its rows land in one batch, so no row is
 * ever in both places. Memory stays bounded whatever the range: archives are read one
 * object at a time, line by line, and D1 in keyset pages.
 */
import { and, asc, eq, gt, gte, lte, or, sql } from "drizzle-orm";
import { type AuditArchive, auditArchives, auditLogs } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { serializeError } from "../../lib/logger";
import { audit, toAuditLogDto } from "./audit.service";
import { readAuditArchiveLines } from "./audit-archive";

/** D1 rows per page of the live part; `audit_archives` records per page of the archived part. */
const ROWS_PER_PAGE = 500;
const ARCHIVES_PER_PAGE = 50;

export type AuditExportRange = { from: Date; to: Date };

/** The `audit_archives` records whose rows overlap the range, oldest first. */
async function* archivesIn(ctx: ServiceContext, range: AuditExportRange): AsyncGenerator<AuditArchive> {
  let after: AuditArchive | undefined;
  for (;;) {
    const page = await ctx.db
      .select()
      .from(auditArchives)
      .where(
        and(
          lte(auditArchives.firstCreatedAt, range.to),
          gte(auditArchives.lastCreatedAt, range.from),
          after
            ? sql`(${auditArchives.firstCreatedAt}, ${auditArchives.firstId}) > (${after.firstCreatedAt.getTime()}, ${after.firstId})`
            : undefined,
        ),
      )
      .orderBy(asc(auditArchives.firstCreatedAt), asc(auditArchives.firstId))
      .limit(ARCHIVES_PER_PAGE);
    yield* page;
    after = page[page.length - 1];
    if (!after || page.length < ARCHIVES_PER_PAGE) return;
  }
}

/** Bytes of archived lines gathered before they are sent: one write per chunk, not per row. */
const ARCHIVE_CHUNK_CHARS = 64 * 1024;

/** The lines of archived rows in the range; only an object that straddles an end is parsed to filter it. */
async function* archivedLines(ctx: ServiceContext, range: AuditExportRange): AsyncGenerator<string> {
  const from = range.from.getTime();
  const to = range.to.getTime();
  let pending = "";
  for await (const archive of archivesIn(ctx, range)) {
    const inside = archive.firstCreatedAt.getTime() >= from && archive.lastCreatedAt.getTime() <= to;
    for await (const line of readAuditArchiveLines(ctx.env.FILES, archive.r2Key)) {
      if (!inside) {
        const createdAt = Date.parse((JSON.parse(line) as { created_at: string }).created_at);
        if (createdAt < from || createdAt > to) continue;
      }
      pending += `${line}\n`;
      if (pending.length >= ARCHIVE_CHUNK_CHARS) {
        yield pending;
        pending = "";
      }
    }
  }
  if (pending !== "") yield pending;
}

/** The rows in D1 in the range, in keyset pages on the (created_at, id) index. */
async function* liveLines(ctx: ServiceContext, range: AuditExportRange): AsyncGenerator<string> {
  let after: { createdAt: Date; id: string } | undefined;
  for (;;) {
    const page = await ctx.db
      .select()
      .from(auditLogs)
      .where(
        and(
          gte(auditLogs.createdAt, range.from),
          lte(auditLogs.createdAt, range.to),
          after
            ? or(
                gt(auditLogs.createdAt, after.createdAt),
                and(eq(auditLogs.createdAt, after.createdAt), gt(auditLogs.id, after.id)),
              )
            : undefined,
        ),
      )
      .orderBy(asc(auditLogs.createdAt), asc(auditLogs.id))
      .limit(ROWS_PER_PAGE);
    if (page.length > 0) yield page.map((row) => `${JSON.stringify(toAuditLogDto(row))}\n`).join("");
    after = page[page.length - 1];
    if (!after || page.length < ROWS_PER_PAGE) return;
  }
}

/**
 * The export as a byte stream that reads only as fast as the client takes it (pull). Who
 * took a copy of the log, and of which span, is itself recorded (`audit_log.export`) before
 * the first byte. A failure once the 200 went out cannot become a problem+json: it is logged
 * and the stream errors, so the client sees a cut transfer rather than a short file that
 * looks whole.
 */
export async function exportAuditLogs(
  ctx: ServiceContext,
  range: AuditExportRange,
): Promise<ReadableStream<Uint8Array>> {
  await audit(ctx, {
    action: "audit_log.export",
    target: { type: "audit_log" },
    after: { from: range.from.toISOString(), to: range.to.toISOString() },
  });
  return auditLogStream(ctx, range);
}

function auditLogStream(ctx: ServiceContext, range: AuditExportRange): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  async function* lines(): AsyncGenerator<string> {
    yield* archivedLines(ctx, range);
    yield* liveLines(ctx, range);
  }
  const source = lines();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await source.next();
        if (next.done) controller.close();
        else controller.enqueue(encoder.encode(next.value));
      } catch (error) {
        ctx.logger.error("audit export failed mid-stream", { error: serializeError(error) });
        controller.error(error);
      }
    },
    async cancel() {
      await source.return(undefined);
    },
  });
}
