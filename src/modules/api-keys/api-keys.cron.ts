/**
 * Cron, hourly: a rotated key's old secret stops working when its grace period ends
 * (checked at use); a day later its row is dropped. Listed in src/modules/wiring.ts.
 */
import { lt } from "drizzle-orm";
import { apiKeySecrets } from "../../db/schema";
import type { MaintenanceJob } from "../../jobs/maintenance-job";
import type { ServiceContext } from "../../lib/context";

/** Cron: drop secrets whose grace period ended more than a day ago. */
export async function purgeExpiredSecrets(ctx: ServiceContext, now: Date): Promise<number> {
  const removed = await ctx.db
    .delete(apiKeySecrets)
    .where(lt(apiKeySecrets.expiresAt, new Date(now.getTime() - 24 * 60 * 60 * 1000)))
    .returning({ keyId: apiKeySecrets.keyId });
  return removed.length;
}

/** Cron, hourly. */
export const purgeSecretsJob: MaintenanceJob = {
  name: "purge_expired_api_key_secrets",
  everyMinutes: 60,
  run: async (ctx, now) => ({ deleted: await purgeExpiredSecrets(ctx, now) }),
};
