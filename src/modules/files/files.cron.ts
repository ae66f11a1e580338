/**
 * Cron, every 10 minutes: files nobody completed go once their upload URL has expired
 * and the grace a slow upload gets has passed too; their (possibly partial) objects
 * are purged in the same batch. This frees the quota they reserved. Each tenant
 * database is swept (src/db/tenant-databases.ts): a file's row and its purge live in
 * its organization's database. Listed in
 * src/modules/wiring.ts, before `storage.purge_objects`, which deletes the objects.
 */
import { and, eq, lte, type SQL } from "drizzle-orm";
import { files } from "../../db/schema";
import { sweepTenantDatabases } from "../../db/tenant-databases";
import type { MaintenanceJob } from "../../jobs/maintenance-job";
import type { ServiceContext } from "../../lib/context";
import { deleteRowsAndPurgeObjects } from "../../lib/storage/object-purges";
import { UPLOAD_GRACE_SECONDS } from "../../lib/storage/transfer-urls";

export async function purgeStaleFileUploads(ctx: ServiceContext, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - UPLOAD_GRACE_SECONDS * 1000);
  const stale = and(eq(files.status, "pending"), lte(files.uploadExpiresAt, cutoff)) as SQL;
  return sweepTenantDatabases(ctx, (db) =>
    deleteRowsAndPurgeObjects(
      db,
      { from: files, key: files.r2Key, uploadExpiresAt: files.uploadExpiresAt, where: stale },
      now,
    ),
  );
}

export const purgeStaleFileUploadsJob: MaintenanceJob = {
  name: "files.purge_stale_uploads",
  everyMinutes: 10,
  run: async (ctx, now) => ({ deleted: await purgeStaleFileUploads(ctx, now) }),
};
