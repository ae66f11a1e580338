/**
 * Cron, every 10 minutes: large avatar uploads nobody completed go once their URL has
 * expired and the grace a slow upload gets has passed; their objects are purged in the
 * same batch (deleted by `storage.purge_objects`). Listed in src/modules/wiring.ts.
 */
import { lte } from "drizzle-orm";
import { avatarUploads } from "../../db/schema";
import type { MaintenanceJob } from "../../jobs/maintenance-job";
import type { ServiceContext } from "../../lib/context";
import { deleteRowsAndPurgeObjects } from "../../lib/storage/object-purges";
import { UPLOAD_GRACE_SECONDS } from "../../lib/storage/transfer-urls";

export async function purgeStaleAvatarUploads(ctx: ServiceContext, now: Date): Promise<number> {
  const stale = lte(avatarUploads.expiresAt, new Date(now.getTime() - UPLOAD_GRACE_SECONDS * 1000));
  return deleteRowsAndPurgeObjects(
    ctx.db,
    { from: avatarUploads, key: avatarUploads.r2Key, uploadExpiresAt: avatarUploads.expiresAt, where: stale },
    now,
  );
}

export const purgeStaleAvatarUploadsJob: MaintenanceJob = {
  name: "avatars.purge_stale_uploads",
  everyMinutes: 10,
  run: async (ctx, now) => ({ deleted: await purgeStaleAvatarUploads(ctx, now) }),
};
