/**
 * Authenticating with an API key: `Authorization: Bearer sk_…`, `X-API-Key: sk_…`,
 * and the client credentials of POST /oauth/token.
 *
 * 1. Shape and checksum (key-format.ts): a typo or a forged string is refused
 *    before any I/O. `sk_test_` keys are refused in production.
 * 2. The SHA-256 of the whole secret is the lookup key (AUTH_KV for 60 s, else
 *    D1). Nothing is ever looked up or compared by the display prefix, so a forgery
 *    that shares a real key's first characters follows exactly the path of a
 *    random one. Stored and presented hashes are compared with timingSafeEqual,
 *    which has no early exit.
 * 3. The key's state decides: revoked, expired, or a secret rotated out (after
 *    its grace period) is a 401 — at once on the isolate that made the change
 *    (key-cache.ts), within about a minute elsewhere.
 * 4. last_used_at / last_used_ip are written at most once a minute per key, after
 *    the response (waitUntil), by a conditional UPDATE.
 */
import { and, eq, isNull, lt, or, sql } from "drizzle-orm";
import { compiledRowById } from "../../db/compiled-query";
import { apiKeySecrets, apiKeys } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { sha256Hex, timingSafeEqual } from "../../lib/crypto";
import { serializeError } from "../../lib/logger";
import type { ApiKeyPrincipal } from "../../lib/principal";
import { type ProblemError, problems } from "../../lib/problem";
import {
  cachedKey,
  cachedSecret,
  cacheKey,
  cacheSecret,
  isLocallyInvalidated,
  type KeyState,
  type SecretState,
} from "./key-cache";
import { parseApiKey } from "./key-format";

export const LAST_USED_INTERVAL_MS = 60_000;

const invalidKey = (detail = "The API key is not valid.") => problems.unauthorized(detail, "invalid_token");

/** Why a key (reached through a secret, when given) may not be used now, or null. */
export function keyRefusal(
  ctx: ServiceContext,
  state: KeyState,
  now: number,
  secretExpiresAt: number | null = null,
): ProblemError | null {
  if (state.revokedAt !== null) return invalidKey("The API key has been revoked.");
  if (state.expiresAt !== null && state.expiresAt <= now) return invalidKey("The API key has expired.");
  if (secretExpiresAt !== null && secretExpiresAt <= now) {
    return invalidKey("This API key secret was rotated out; use the new secret.");
  }
  if (state.mode === "test" && ctx.config.isProduction) {
    return invalidKey("Test keys (sk_test_…) cannot be used in production.");
  }
  return null;
}

function keyStateOf(row: typeof apiKeys.$inferSelect): KeyState {
  return {
    id: row.id,
    organizationId: row.organizationId,
    mode: row.mode,
    scopes: row.scopes,
    expiresAt: row.expiresAt?.getTime() ?? null,
    revokedAt: row.revokedAt?.getTime() ?? null,
    lastUsedAt: row.lastUsedAt?.getTime() ?? null,
    rateLimit:
      row.rateLimit !== null && row.rateLimitWindowSeconds !== null
        ? { limit: row.rateLimit, windowSeconds: row.rateLimitWindowSeconds }
        : null,
  };
}

async function secretStateFromDb(ctx: ServiceContext, secretHash: string): Promise<SecretState | null> {
  const row = await ctx.db
    .select({ key: apiKeys, secretHash: apiKeySecrets.secretHash, secretExpiresAt: apiKeySecrets.expiresAt })
    .from(apiKeySecrets)
    .innerJoin(apiKeys, eq(apiKeys.id, apiKeySecrets.keyId))
    .where(eq(apiKeySecrets.secretHash, secretHash))
    .get();
  if (!row) return null;
  return {
    ...keyStateOf(row.key),
    secretHash: row.secretHash,
    secretExpiresAt: row.secretExpiresAt?.getTime() ?? null,
  };
}

/** The state of the key behind a secret hash: cache first unless this isolate knows the key changed. */
async function secretState(
  ctx: ServiceContext,
  secretHash: string,
  now: number,
): Promise<SecretState | null> {
  const cached = await cachedSecret(ctx, secretHash);
  if (cached && !isLocallyInvalidated(cached.id, now)) return cached;
  const fresh = await secretStateFromDb(ctx, secretHash);
  // Unknown hashes are not cached: a flood of random keys must not become a flood of KV writes.
  if (fresh) await cacheSecret(ctx, fresh);
  return fresh;
}

// A key's row by id, on a cache miss and at the token endpoint: built into SQL once per isolate
// (src/db/compiled-query.ts).
const apiKeyById = compiledRowById(apiKeys);

/** A key by id (for client-credentials access tokens), cached like secrets. */
export async function loadKeyState(
  ctx: ServiceContext,
  keyId: string,
  now = Date.now(),
): Promise<KeyState | null> {
  const cached = await cachedKey(ctx, keyId);
  if (cached && !isLocallyInvalidated(keyId, now)) return cached;
  const row = await apiKeyById.get(ctx.dbSession, { id: keyId });
  if (!row) return null;
  const state = keyStateOf(row);
  await cacheKey(ctx, state);
  return state;
}

/** Per isolate: when this isolate last recorded each key's use, so busy keys do not queue an UPDATE each. */
const lastTouched = new Map<string, number>();
const TOUCH_MEMORY_LIMIT = 10_000;

/**
 * Records the use after the response, at most once a minute per key: the
 * conditional UPDATE keeps D1 to one write a minute even when many isolates race.
 */
export function recordKeyUse(ctx: ServiceContext, state: KeyState, now = Date.now()): void {
  const since = now - LAST_USED_INTERVAL_MS;
  if ((state.lastUsedAt ?? 0) > since || (lastTouched.get(state.id) ?? 0) > since) return;
  if (lastTouched.size >= TOUCH_MEMORY_LIMIT) lastTouched.clear();
  lastTouched.set(state.id, now);
  const write = ctx.db
    .update(apiKeys)
    // updated_at tracks changes to the key, not its use: kept as it is (drizzle would bump it).
    .set({
      lastUsedAt: new Date(now),
      lastUsedIp: ctx.client.ip ?? null,
      updatedAt: sql`${apiKeys.updatedAt}`,
    })
    .where(
      and(eq(apiKeys.id, state.id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, new Date(since)))),
    )
    .run()
    .catch((error: unknown) => {
      ctx.logger.warn("could not record API key use", { key_id: state.id, error: serializeError(error) });
    });
  ctx.waitUntil(write);
}

/** Test hook: forget which keys this isolate recorded recently. */
export function forgetKeyUses(): void {
  lastTouched.clear();
}

export function apiKeyPrincipal(state: KeyState, scopes: readonly string[] = state.scopes): ApiKeyPrincipal {
  return {
    kind: "api_key",
    keyId: state.id,
    organizationId: state.organizationId,
    scopes: [...scopes],
    ...(state.rateLimit ? { rateLimit: state.rateLimit } : {}),
  };
}

/** An `sk_live_…` / `sk_test_…` secret → the key's principal, or a 401 problem. */
export async function authenticateApiKey(ctx: ServiceContext, presented: string): Promise<ApiKeyPrincipal> {
  const now = Date.now();
  const parsed = parseApiKey(presented);
  if (!parsed) throw invalidKey();
  if (parsed.mode === "test" && ctx.config.isProduction) {
    throw invalidKey("Test keys (sk_test_…) cannot be used in production.");
  }
  const presentedHash = await sha256Hex(presented);
  const state = await secretState(ctx, presentedHash, now);
  if (!state || !timingSafeEqual(state.secretHash, presentedHash)) throw invalidKey();
  const refused = keyRefusal(ctx, state, now, state.secretExpiresAt);
  if (refused) throw refused;
  recordKeyUse(ctx, state, now);
  return apiKeyPrincipal(state);
}

/** The secrets of a key that could still authenticate (current, or in their grace period). */
async function liveSecretHashes(ctx: ServiceContext, keyId: string, now: number) {
  return ctx.db
    .select({ secretHash: apiKeySecrets.secretHash, expiresAt: apiKeySecrets.expiresAt })
    .from(apiKeySecrets)
    .where(eq(apiKeySecrets.keyId, keyId))
    .then((rows) => rows.filter((row) => row.expiresAt === null || row.expiresAt.getTime() > now));
}

/** Compared against every candidate, never stopping at the first match or mismatch. */
export function matchSecretHash(
  presentedHash: string,
  candidates: readonly string[],
  compare: (a: string, b: string) => boolean = timingSafeEqual,
): boolean {
  let matched = false;
  for (const candidate of candidates) matched = compare(candidate, presentedHash) || matched;
  return matched;
}

/** A fixed hash to compare against when the client id is unknown, so that case costs the same. */
const NO_SUCH_KEY_HASH = "0".repeat(64);

/**
 * OAuth client authentication: the key `clientId` and one of its live secrets.
 * Null for any failure (unknown id, wrong secret, revoked, expired, test key in
 * production): the token endpoint answers them all with the same `invalid_client`.
 */
export async function verifyClientSecret(
  ctx: ServiceContext,
  clientId: string,
  clientSecret: string,
  now = Date.now(),
): Promise<{ state: KeyState; secretExpiresAt: number | null } | null> {
  const parsed = parseApiKey(clientSecret);
  if (!parsed) return null;
  const presentedHash = await sha256Hex(clientSecret);
  // The token endpoint reads D1, not the cache: it is called rarely and must see revocations at once.
  const row = await apiKeyById.get(ctx.dbSession, { id: clientId });
  const secrets = row ? await liveSecretHashes(ctx, row.id, now) : [];
  const candidates = secrets.length > 0 ? secrets.map((secret) => secret.secretHash) : [NO_SUCH_KEY_HASH];
  if (!matchSecretHash(presentedHash, candidates) || !row) return null;
  const state = keyStateOf(row);
  const secretExpiresAt =
    secrets.find((secret) => secret.secretHash === presentedHash)?.expiresAt?.getTime() ?? null;
  if (keyRefusal(ctx, state, now, secretExpiresAt)) return null;
  return { state, secretExpiresAt };
}
