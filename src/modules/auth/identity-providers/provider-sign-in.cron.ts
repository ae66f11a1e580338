/**
 * The hourly clean-up of provider sign-in flows and one-time codes that expired unused
 * (a used one is deleted when it is spent). Listed in src/modules/wiring.ts.
 */
import { providerSignInCodes, providerSignInStates } from "../../../db/schema";
import type { MaintenanceJob } from "../../../jobs/maintenance-job";
import { purgeExpiredRows } from "../auth-tokens.cron";

export const purgeProviderSignInsJob: MaintenanceJob = {
  name: "auth.purge_provider_sign_ins",
  everyMinutes: 60,
  run: async (ctx, now) => ({
    provider_sign_in_states: await purgeExpiredRows(
      ctx,
      providerSignInStates,
      providerSignInStates,
      now.getTime(),
    ),
    provider_sign_in_codes: await purgeExpiredRows(
      ctx,
      providerSignInCodes,
      providerSignInCodes,
      now.getTime(),
    ),
  }),
};
