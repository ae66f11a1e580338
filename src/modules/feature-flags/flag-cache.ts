/**
 * Every flag, held in this isolate's memory for FLAG_CACHE_TTL_MS, so evaluating
 * flags costs no D1 read on most requests. An admin change is seen at once by the
 * isolate that made it (its cache is dropped) and by every other isolate within
 * FLAG_CACHE_TTL_MS, when its copy expires. If D1 fails while refreshing, the
 * expired copy keeps being served (and the failure logged) rather than turning
 * every flag off at once.
 */
import { asc } from "drizzle-orm";
import { type FeatureFlag, featureFlags } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { serializeError } from "../../lib/logger";

export const FLAG_CACHE_TTL_MS = 30_000;
/** More flags than this is a sign of flags never cleaned up; only the first are evaluated (logged). */
export const MAX_CACHED_FLAGS = 1_000;

/** The clock, as a method so tests can move time with vi.spyOn. */
export const flagCacheClock = { now: (): number => Date.now() };

type Entry = { flags: FeatureFlag[]; loadedAt: number };
/** Per D1 binding, like the drizzle instance: tests with another env never share a copy. */
const entries = new WeakMap<D1Database, Entry>();

export async function cachedFlags(ctx: ServiceContext): Promise<FeatureFlag[]> {
  const now = flagCacheClock.now();
  const entry = entries.get(ctx.env.DB);
  if (entry && now - entry.loadedAt < FLAG_CACHE_TTL_MS) return entry.flags;
  try {
    const flags = await ctx.db
      .select()
      .from(featureFlags)
      .orderBy(asc(featureFlags.key))
      .limit(MAX_CACHED_FLAGS + 1);
    if (flags.length > MAX_CACHED_FLAGS) {
      ctx.logger.warn("more feature flags than the cache holds; the rest evaluate as off", {
        limit: MAX_CACHED_FLAGS,
      });
    }
    const fresh = { flags: flags.slice(0, MAX_CACHED_FLAGS), loadedAt: now };
    entries.set(ctx.env.DB, fresh);
    return fresh.flags;
  } catch (error) {
    if (!entry) throw error;
    ctx.logger.error("feature flags could not be refreshed; serving the expired copy", {
      error: serializeError(error),
    });
    return entry.flags;
  }
}

/** After an admin write: this isolate reads D1 again on the next evaluation. */
export function invalidateFlagCache(env: { DB: D1Database }): void {
  entries.delete(env.DB);
}
