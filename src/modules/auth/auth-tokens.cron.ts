/**
 * The hourly clean-up of emailed secrets: verification (and disown) links, reset
 * links, address-change links and magic codes past their expiry are deleted (used
 * ones expire too, within a day at most, so nothing spent lingers). Listed in
 * src/modules/wiring.ts.
 */
import { inArray, lt, sql } from "drizzle-orm";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import { D1_IDS_PER_STATEMENT } from "../../db/batch";
import { emailChangeTokens, emailVerificationTokens, magicCodes, passwordResetTokens } from "../../db/schema";
import type { MaintenanceJob } from "../../jobs/maintenance-job";
import type { ServiceContext } from "../../lib/context";

/** Rows per DELETE and rounds per run. */
const BATCH = D1_IDS_PER_STATEMENT;
const MAX_ROUNDS = 50;

/** Deletes `table`'s rows whose `expiresAt` has passed, a batch at a time; returns how many went. */
export async function purgeExpired(
  ctx: ServiceContext,
  table: SQLiteTable,
  columns: { id: SQLiteColumn; expiresAt: SQLiteColumn },
  now: number,
): Promise<number> {
  let deleted = 0;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const ids = (
      await ctx.db
        .select({ id: sql<string>`${columns.id}` })
        .from(table)
        .where(lt(columns.expiresAt, new Date(now)))
        .limit(BATCH)
    ).map((row) => row.id);
    if (ids.length === 0) break;
    await ctx.db.delete(table).where(inArray(columns.id, ids));
    deleted += ids.length;
    if (ids.length < BATCH) break;
  }
  return deleted;
}

export async function purgeExpiredAuthTokens(
  ctx: ServiceContext,
  now = Date.now(),
): Promise<{
  email_verification_tokens: number;
  password_reset_tokens: number;
  email_change_tokens: number;
  magic_codes: number;
}> {
  return {
    email_verification_tokens: await purgeExpired(ctx, emailVerificationTokens, emailVerificationTokens, now),
    password_reset_tokens: await purgeExpired(ctx, passwordResetTokens, passwordResetTokens, now),
    email_change_tokens: await purgeExpired(ctx, emailChangeTokens, emailChangeTokens, now),
    magic_codes: await purgeExpired(ctx, magicCodes, magicCodes, now),
  };
}

export const purgeAuthTokensJob: MaintenanceJob = {
  name: "auth.purge_expired_tokens",
  everyMinutes: 60,
  run: (ctx, now) => purgeExpiredAuthTokens(ctx, now.getTime()),
};
