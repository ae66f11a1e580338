/**
 * Cron, every 10 minutes: files nobody completed go once their upload URL has expired
 * and the grace a slow upload gets has passed too; their (possibly partial) objects
 * are purged in the same batch. This frees the quota they reserved. Listed in
 * src/modules/wiring.ts, before `storage.purge_objects`, which deletes the objects.
 */
import { and, eq, lte } from "drizzle-orm";
import { files } from "../../db/schema";
import type { MaintenanceJob } from "../../jobs/maintenance-job";
import type { ServiceContext } from "../../lib/context";
import { purgeObjectsOfRows } from "../../lib/storage/object-purges";
import { UPLOAD_GRACE_SECONDS } from "../../lib/storage/transfer-urls";

export async function purgeStaleFileUploads(ctx: ServiceContext, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - UPLOAD_GRACE_SECONDS * 1000);
  const stale = and(eq(files.status, "pending"), lte(files.uploadExpiresAt, cutoff));
  if (!stale) return 0;
  const [, removed] = await ctx.db.batch([
    purgeObjectsOfRows(
      ctx.db,
      { from: files, key: files.r2Key, uploadExpiresAt: files.uploadExpiresAt, where: stale },
      now,
    ),
    ctx.db.delete(files).where(stale).returning({ id: files.id }),
  ]);
  return removed.length;
}

export const purgeStaleFileUploadsJob: MaintenanceJob = {
  name: "files.purge_stale_uploads",
  everyMinutes: 10,
  run: async (ctx, now) => ({ deleted: await purgeStaleFileUploads(ctx, now) }),
};
