/** The hourly clean-up of Idempotency-Key records past their 24 h (listed in src/modules/wiring.ts). */
import { inArray, lte } from "drizzle-orm";
import { idempotencyRecords } from "../../db/schema";
import type { MaintenanceJob } from "../../jobs/maintenance-job";
import type { ServiceContext } from "../context";

/** Rows deleted per statement, so one run never holds D1 for long. */
const PURGE_BATCH = 500;
const PURGE_MAX_BATCHES = 40;

/** Deletes records past their 24 h; returns how many. */
export async function purgeExpiredIdempotencyRecords(ctx: ServiceContext, now: Date): Promise<number> {
  let removed = 0;
  for (let batch = 0; batch < PURGE_MAX_BATCHES; batch++) {
    const expired = ctx.db
      .select({ id: idempotencyRecords.id })
      .from(idempotencyRecords)
      .where(lte(idempotencyRecords.expiresAt, now))
      .limit(PURGE_BATCH);
    const result = await ctx.db
      .delete(idempotencyRecords)
      .where(inArray(idempotencyRecords.id, expired))
      .run();
    removed += result.meta.changes;
    if (result.meta.changes < PURGE_BATCH) break;
  }
  return removed;
}

export const purgeIdempotencyRecordsJob: MaintenanceJob = {
  name: "idempotency.purge_expired",
  everyMinutes: 60,
  run: async (ctx, now) => ({ removed: await purgeExpiredIdempotencyRecords(ctx, now) }),
};
