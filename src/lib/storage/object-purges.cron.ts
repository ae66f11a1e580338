/**
 * Cron, every 5 minutes: the R2 objects whose purge is due (object-purges.ts) are
 * deleted, then forgotten, in every tenant database: a purge row lives in the database
 * of the row that pointed at the object (src/db/tenant-databases.ts). Listed in
 * src/modules/wiring.ts.
 */
import { sweepTenantDatabases } from "../../db/tenant-databases";
import type { MaintenanceJob } from "../../jobs/maintenance-job";
import { purgeDueObjects } from "./object-purges";

export const purgeObjectsJob: MaintenanceJob = {
  name: "storage.purge_objects",
  everyMinutes: 5,
  run: async (ctx, now) => ({
    deleted: await sweepTenantDatabases(ctx, (db) => purgeDueObjects(db, ctx.env.FILES, now)),
  }),
};
