/**
 * Cron, hourly: sessions nobody can use any more go, with their spent refresh tokens.
 * Listed in src/modules/wiring.ts.
 */
import { inArray, lt, or } from "drizzle-orm";
import { chunk, D1_IDS_PER_STATEMENT } from "../../db/batch";
import { sessions, spentRefreshTokens } from "../../db/schema";
import type { MaintenanceJob } from "../../jobs/maintenance-job";
import type { ServiceContext } from "../../lib/context";
import { REVOKED_SESSION_RETENTION_MS } from "./sessions.service";

const PURGE_BATCH = 500;
const PURGE_MAX_ROUNDS = 20;

/** Deletes expired sessions and sessions revoked more than a day ago (their spent tokens cascade). */
export async function purgeSessions(ctx: ServiceContext, now = Date.now()): Promise<{ deleted: number }> {
  const stale = or(
    lt(sessions.expiresAt, new Date(now)),
    lt(sessions.revokedAt, new Date(now - REVOKED_SESSION_RETENTION_MS)),
  );
  let deleted = 0;
  for (let round = 0; round < PURGE_MAX_ROUNDS; round++) {
    const ids = (await ctx.db.select({ id: sessions.id }).from(sessions).where(stale).limit(PURGE_BATCH)).map(
      (row) => row.id,
    );
    if (ids.length === 0) break;
    for (const part of chunk(ids, D1_IDS_PER_STATEMENT)) {
      await ctx.db.batch([
        ctx.db.delete(spentRefreshTokens).where(inArray(spentRefreshTokens.sessionId, part)),
        ctx.db.delete(sessions).where(inArray(sessions.id, part)),
      ]);
    }
    deleted += ids.length;
    if (ids.length < PURGE_BATCH) break;
  }
  return { deleted };
}

/** Listed in src/modules/wiring.ts; runs hourly. */
export const purgeSessionsJob: MaintenanceJob = {
  name: "auth.purge_sessions",
  everyMinutes: 60,
  run: (ctx, now) => purgeSessions(ctx, now.getTime()),
};
