/**
 * What push does when other modules act on a user, listed in src/modules/wiring.ts:
 * a revoked session's devices stop receiving (the foreign key cascades only when the
 * session row is purged, a day later), and an erased account's devices go with it.
 */
import { eq, inArray } from "drizzle-orm";
import { chunk, D1_IDS_PER_STATEMENT } from "../../db/batch";
import { pushSubscriptions } from "../../db/schema";
import type { AccountErasureStep } from "../auth/accounts";
import type { SessionRevocationHook } from "../auth/sessions.service";

/** Logout, a device signed out, a password change, a claimed or closed account: those sessions' devices go. */
export const dropDevicesOfRevokedSessions: SessionRevocationHook = async (ctx, revoked) => {
  let dropped = 0;
  for (const ids of chunk(revoked.sessionIds, D1_IDS_PER_STATEMENT)) {
    const rows = await ctx.db
      .delete(pushSubscriptions)
      .where(inArray(pushSubscriptions.sessionId, ids))
      .returning({ id: pushSubscriptions.id });
    dropped += rows.length;
  }
  if (dropped > 0) {
    ctx.logger.info("push subscriptions of revoked sessions removed", {
      user_id: revoked.userId,
      reason: revoked.reason,
      subscriptions: dropped,
    });
  }
};

/** In the account-erasure batch (the foreign key cascades too; this keeps the erasure explicit). */
export const erasePushSubscriptions: AccountErasureStep = async (ctx, userId) => [
  ctx.db.delete(pushSubscriptions).where(eq(pushSubscriptions.userId, userId)),
];
