/**
 * The signed-in user's own row for GET /users/me, kept in the isolate for PROFILE_CACHE_MS.
 *
 * Why: "who am I" is the most frequent authenticated call a client makes (every app start,
 * every screen that shows the account), and without it the request is a token check and
 * nothing else: the D1 read of the row is most of its cost. Reads without a bookmark may
 * already be served by a D1 read replica that lags the primary (docs/SCALING.md#read-replicas);
 * this memory is held to the same promise and no looser:
 *
 * - only a request whose D1 session is `first-unconstrained` (a GET without X-D1-Bookmark) is
 *   answered from memory; a client that sends the bookmark of its own write reads D1;
 * - any write to `users` in this isolate (a profile change, a verification, a sign-in's
 *   `last_login_at`; src/db/table-writes.ts sees every statement) makes every remembered row
 *   stale, so an isolate always answers its own writes;
 * - a write in another isolate shows after at most PROFILE_CACHE_MS;
 * - whether the caller may act at all is never decided here: a disabled or deleted account's
 *   sessions are revoked, and the revocation check runs before this.
 */
import type { User } from "../../db/schema";
import { tableWriteGeneration } from "../../db/table-writes";
import type { ServiceContext } from "../../lib/context";
import { ExpiringMap } from "../../lib/expiring-set";

export const PROFILE_CACHE_MS = 5_000;
/** A few thousand rows of a few hundred bytes: bounded, as everything kept per isolate. */
const PROFILE_CACHE_LIMIT = 2_000;

const profiles = new ExpiringMap<{ user: User; generation: number }>(PROFILE_CACHE_LIMIT);

/** The row of `userId`: from memory when the rules above allow, otherwise `load()` (remembered). */
export async function cachedProfile(
  ctx: ServiceContext,
  userId: string,
  load: () => Promise<User | undefined>,
): Promise<User | undefined> {
  if (ctx.dbSession.kind !== "first-unconstrained") return load();
  const now = Date.now();
  // Taken before the read: a write that lands while it runs leaves the row stale at once.
  const generation = tableWriteGeneration("users");
  const remembered = profiles.get(userId, now);
  if (remembered && remembered.generation === generation) return remembered.user;
  const user = await load();
  if (user) profiles.set(userId, { user, generation }, now + PROFILE_CACHE_MS, now);
  else profiles.delete(userId);
  return user;
}

/** For tests that write `users` around the API (directly through the binding). */
export function forgetCachedProfiles(): void {
  profiles.clear();
}
