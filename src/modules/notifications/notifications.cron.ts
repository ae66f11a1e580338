/**
 * Retention: notifications are a feed, not an archive. Rows older than
 * NOTIFICATION_RETENTION_DAYS are deleted daily, in bounded rounds so one cron run
 * never holds D1 for long.
 */
import { inArray, lt } from "drizzle-orm";
import { D1_IDS_PER_STATEMENT } from "../../db/batch";
import { notifications } from "../../db/schema";
import type { MaintenanceJob } from "../../jobs/maintenance-job";
import type { ServiceContext } from "../../lib/context";

export const NOTIFICATION_RETENTION_DAYS = 180;
const PURGE_BATCH = D1_IDS_PER_STATEMENT;
const PURGE_MAX_ROUNDS = 50;

/**
 * The smallest UUIDv7 of millisecond `ms`: ids sort by creation time, so `id < floor` is
 * "created before ms" answered by a primary-key range scan (created_at has no index).
 */
export function uuidv7Floor(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`;
}

export async function purgeOldNotifications(
  ctx: ServiceContext,
  now = Date.now(),
): Promise<{ deleted: number }> {
  const cutoff = uuidv7Floor(now - NOTIFICATION_RETENTION_DAYS * 24 * 60 * 60 * 1000);
  let deleted = 0;
  for (let round = 0; round < PURGE_MAX_ROUNDS; round++) {
    const ids = (
      await ctx.db
        .select({ id: notifications.id })
        .from(notifications)
        .where(lt(notifications.id, cutoff))
        .limit(PURGE_BATCH)
    ).map((row) => row.id);
    if (ids.length === 0) break;
    await ctx.db.delete(notifications).where(inArray(notifications.id, ids));
    deleted += ids.length;
    if (ids.length < PURGE_BATCH) break;
  }
  return { deleted };
}

/** Listed in src/modules/wiring.ts; runs once a day (00:00 UTC). */
export const purgeNotificationsJob: MaintenanceJob = {
  name: "notifications.purge_old",
  everyMinutes: 24 * 60,
  run: (ctx, now) => purgeOldNotifications(ctx, now.getTime()),
};
