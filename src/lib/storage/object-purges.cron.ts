/**
 * Cron, every 5 minutes: the R2 objects whose purge is due (object-purges.ts) are
 * deleted, then forgotten. Listed in src/modules/wiring.ts.
 */
import type { MaintenanceJob } from "../../jobs/maintenance-job";
import { purgeDueObjects } from "./object-purges";

export const purgeObjectsJob: MaintenanceJob = {
  name: "storage.purge_objects",
  everyMinutes: 5,
  run: async (ctx, now) => ({ deleted: await purgeDueObjects(ctx.db, ctx.env.FILES, now) }),
};
