/**
 * The hourly clean-up of passkey challenges nobody came back with (options asked, the
 * browser prompt dismissed): each lives five minutes, and a spent one is already gone.
 * Listed in src/modules/wiring.ts.
 */
import { passkeyChallenges } from "../../../db/schema";
import type { MaintenanceJob } from "../../../jobs/maintenance-job";
import { purgeExpiredRows } from "../auth-tokens.cron";

export const purgePasskeyChallengesJob: MaintenanceJob = {
  name: "auth.purge_passkey_challenges",
  everyMinutes: 60,
  run: async (ctx, now) => ({
    passkey_challenges: await purgeExpiredRows(ctx, passkeyChallenges, passkeyChallenges, now.getTime()),
  }),
};
