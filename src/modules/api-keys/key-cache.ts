/**
 * Where API-key lookups are remembered between requests.
 *
 * - AUTH_KV holds each lookup for 60 s (KV's minimum TTL), by secret hash and by
 *   key id, so a busy key costs a KV read rather than a D1 query per request.
 *   Revoking, rotating or changing a key deletes its entries.
 * - Each isolate also keeps the lookups it has read in memory, until the same
 *   moment their KV entry expires (60 s after the lookup was read from D1, carried
 *   in the entry as `cachedAt`). So a busy key costs no I/O at all for
 *   authentication on a warm isolate, and memory never serves a lookup older than
 *   KV itself could.
 * - KV is eventually consistent: a deleted entry can still be served for up to
 *   about a minute (its edge cache, and propagation to other locations). So the
 *   isolate that made the change also remembers, in memory, that the key changed,
 *   and reads D1 for it for the next few minutes: a revoked or rotated-out key
 *   is refused at once on that isolate, and within about a minute elsewhere.
 */
import type { ServiceContext } from "../../lib/context";
import { serializeError } from "../../lib/logger";

/** What authentication needs to know about a key, as cached. Times are epoch ms. */
export type KeyState = {
  id: string;
  organizationId: string;
  mode: "live" | "test";
  scopes: string[];
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
  rateLimit: { limit: number; windowSeconds: number } | null;
};

/** A key state reached through one of its secrets, with that secret's hash and end of life. */
export type SecretState = KeyState & { secretHash: string; secretExpiresAt: number | null };

export const CACHE_TTL_SECONDS = 60;
/** How long the changing isolate bypasses caches for a key: KV's TTL plus its propagation delay, with margin. */
export const LOCAL_INVALIDATION_MS = 3 * 60 * 1000;
const LOCAL_LIMIT = 10_000;

const secretKey = (hash: string) => `api-key:secret:${hash}`;
const idKey = (keyId: string) => `api-key:id:${keyId}`;

/** Key ids this isolate changed, and until when it must not trust cached lookups of them. */
const invalidated = new Map<string, number>();

/** Lookups read from (or written to) KV, by KV key, until their KV entry expires. */
const remembered = new Map<string, { value: unknown; until: number }>();

/** Bounded like the session revocation memory: expired entries go first, then the oldest. */
function boundedSet<V>(map: Map<string, V>, key: string, value: V, endOf: (value: V) => number, now: number) {
  if (map.size >= LOCAL_LIMIT) {
    for (const [k, v] of map) if (endOf(v) <= now) map.delete(k);
    for (const k of map.keys()) {
      if (map.size < LOCAL_LIMIT) break;
      map.delete(k);
    }
  }
  map.set(key, value);
}

function remember(keyId: string, until: number, now: number): void {
  boundedSet(invalidated, keyId, until, (end) => end, now);
}

/** True while this isolate must not trust cached lookups of `keyId`. */
export function isLocallyInvalidated(keyId: string, now = Date.now()): boolean {
  const until = invalidated.get(keyId);
  if (until === undefined) return false;
  if (until > now) return true;
  invalidated.delete(keyId);
  return false;
}

/** Test hook: forget this isolate's memory (changed keys and remembered lookups), so only KV and D1 decide. */
export function forgetLocalInvalidations(): void {
  invalidated.clear();
  remembered.clear();
}

/** A lookup as cached: the state, and when it was read from D1 (epoch ms). */
type Cached<T> = T & { cachedAt: number };

function rememberLookup(key: string, value: Cached<unknown>, now: number): void {
  const until = value.cachedAt + CACHE_TTL_SECONDS * 1000;
  if (until > now) boundedSet(remembered, key, { value, until }, (entry) => entry.until, now);
}

async function readJson<T>(ctx: ServiceContext, key: string): Promise<T | null> {
  const now = Date.now();
  const local = remembered.get(key);
  if (local && local.until > now) return local.value as T;
  if (local) remembered.delete(key);
  try {
    const value = await ctx.env.AUTH_KV.get<Cached<T>>(key, "json");
    // An entry without cachedAt (written before it existed) is used, not remembered.
    if (value && Number.isFinite(value.cachedAt)) rememberLookup(key, value, now);
    return value;
  } catch (error) {
    // A cache, not the truth: fall through to D1.
    ctx.logger.warn("could not read the API key cache", { error: serializeError(error) });
    return null;
  }
}

async function writeJson(ctx: ServiceContext, key: string, state: object): Promise<void> {
  const now = Date.now();
  const value: Cached<object> = { ...state, cachedAt: now };
  rememberLookup(key, value, now);
  try {
    await ctx.env.AUTH_KV.put(key, JSON.stringify(value), { expirationTtl: CACHE_TTL_SECONDS });
  } catch (error) {
    ctx.logger.warn("could not write the API key cache", { error: serializeError(error) });
  }
}

export const cachedSecret = (ctx: ServiceContext, secretHash: string) =>
  readJson<SecretState>(ctx, secretKey(secretHash));

export const cacheSecret = (ctx: ServiceContext, state: SecretState) =>
  writeJson(ctx, secretKey(state.secretHash), state);

export const cachedKey = (ctx: ServiceContext, keyId: string) => readJson<KeyState>(ctx, idKey(keyId));

export const cacheKey = (ctx: ServiceContext, state: KeyState) => writeJson(ctx, idKey(state.id), state);

/**
 * Forgets a changed key: in this isolate's memory first (which cannot fail), then
 * every KV entry for it. A KV failure is logged loudly: other isolates may use the
 * stale entry until it expires (60 s).
 */
export async function invalidateKey(
  ctx: ServiceContext,
  keyId: string,
  secretHashes: readonly string[],
  now = Date.now(),
): Promise<void> {
  remember(keyId, now + LOCAL_INVALIDATION_MS, now);
  const keys = [idKey(keyId), ...secretHashes.map(secretKey)];
  for (const key of keys) remembered.delete(key);
  await Promise.all(
    keys.map(async (key) => {
      try {
        await ctx.env.AUTH_KV.delete(key);
      } catch (error) {
        ctx.logger.error("could not purge the API key cache", {
          key_id: keyId,
          error: serializeError(error),
        });
      }
    }),
  );
}
