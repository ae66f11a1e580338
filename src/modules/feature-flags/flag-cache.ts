/**
 * Every flag, held in this isolate's memory for FLAG_CACHE_TTL_MS, so evaluating
 * flags costs no D1 read on most requests. An admin change is seen at once by the
 * isolate that made it (its cache is dropped) and by every other isolate within
 * FLAG_CACHE_TTL_MS, when its copy expires. If D1 fails while refreshing, the
 * expired copy keeps being served (and the failure logged) rather than turning
 * every flag off at once.
 *
 * Read replicas: the copy is shared by every request of the isolate, whatever its own
 * session, so a refresh does not read through the request's session (a GET's may be
 * a replica far behind the last refresh). It opens a session of its own that starts
 * where this isolate last read flags: at the bookmark of the previous refresh, or of
 * an admin write made here. D1 lets a replica serve it only once it has caught up to
 * that point, so the flags an isolate serves never go back in time, and the isolate
 * that made a change never re-caches what was there before it. The first refresh
 * may read any replica.
 */
import { asc } from "drizzle-orm";
import { openDatabaseSession } from "../../db/client";
import { type FeatureFlag, featureFlags } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { serializeError } from "../../lib/logger";

export const FLAG_CACHE_TTL_MS = 30_000;
/** More flags than this is a sign of flags never cleaned up; only the first are evaluated (logged). */
export const MAX_CACHED_FLAGS = 1_000;

/** The clock, as a method so tests can move time with vi.spyOn. */
export const flagCacheClock = { now: (): number => Date.now() };

type Entry = { flags: FeatureFlag[]; loadedAt: number };
type BindingState = {
  entry?: Entry;
  /** Where the next refresh's session starts: the newest point of D1 this isolate read flags at. */
  readFrom?: string;
  /** Bumped by each admin write here: a refresh that began before one must not keep what it read. */
  generation: number;
};
/** Per D1 binding, like the drizzle instance: tests with another env never share a copy. */
const states = new WeakMap<D1Database, BindingState>();

function stateOf(binding: D1Database): BindingState {
  let state = states.get(binding);
  if (!state) {
    state = { generation: 0 };
    states.set(binding, state);
  }
  return state;
}

export async function cachedFlags(ctx: ServiceContext): Promise<FeatureFlag[]> {
  const now = flagCacheClock.now();
  const state = stateOf(ctx.env.DB);
  const { entry, generation } = state;
  if (entry && now - entry.loadedAt < FLAG_CACHE_TTL_MS) return entry.flags;
  try {
    const session = openDatabaseSession(ctx.env.DB, state.readFrom ?? "first-unconstrained");
    const flags = await session.db
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
    // An admin write landed here while this read was in flight: what it read may predate the
    // write, so it answers this request only and the next evaluation reads again.
    if (state.generation === generation) {
      state.entry = fresh;
      state.readFrom = session.bookmark() ?? state.readFrom;
    }
    return fresh.flags;
  } catch (error) {
    if (!entry) throw error;
    ctx.logger.error("feature flags could not be refreshed; serving the expired copy", {
      error: serializeError(error),
    });
    return entry.flags;
  }
}

/**
 * After an admin write: this isolate reads D1 again on the next evaluation, from at least
 * `bookmark` (the writing session's, taken after the write), so it reads the change.
 */
export function invalidateFlagCache(env: { DB: D1Database }, bookmark: string | null): void {
  const state = stateOf(env.DB);
  state.entry = undefined;
  state.generation += 1;
  if (bookmark) state.readFrom = bookmark;
}
