/**
 * Cron, hourly: invitations that ended (accepted, revoked or expired) more than 30
 * days ago are forgotten. Listed in src/modules/wiring.ts.
 */
import { lte, or } from "drizzle-orm";
import { invitations } from "../../db/schema";
import type { MaintenanceJob } from "../../jobs/maintenance-job";
import type { ServiceContext } from "../../lib/context";

/** Cron: forget invitations that ended (accepted, revoked or expired) more than 30 days ago. */
export async function purgeOldInvitations(ctx: ServiceContext, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - 30 * 24 * 60 * 60 * 1000);
  const removed = await ctx.db
    .delete(invitations)
    .where(
      or(
        lte(invitations.expiresAt, cutoff),
        lte(invitations.acceptedAt, cutoff),
        lte(invitations.revokedAt, cutoff),
      ),
    )
    .returning({ id: invitations.id });
  return removed.length;
}

/** Cron, hourly: invitations long past use go. */
export const purgeInvitationsJob: MaintenanceJob = {
  name: "purge_old_invitations",
  everyMinutes: 60,
  run: async (ctx, now) => ({ deleted: await purgeOldInvitations(ctx, now) }),
};
