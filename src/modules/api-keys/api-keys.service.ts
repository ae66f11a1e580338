/**
 * Managing an organization's API keys: create (the secret is returned once and
 * never stored), list, read, rename / re-scope / re-limit, revoke, rotate with
 * an optional grace period for the old secret. Every verb takes an OrgContext
 * and filters by its organization, so another organization's key is a 404.
 *
 * A key gets only scopes its creator's role may grant (permissions.ts). On a
 * change, scopes may always be removed, but added only when the editor's role
 * may grant them.
 */
import { and, eq, gt, isNotNull, isNull, or, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { type ApiKey, apiKeySecrets, apiKeys } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { sha256Hex } from "../../lib/crypto";
import { uuidv7 } from "../../lib/ids";
import type { SortTerm } from "../../lib/list-query";
import { keysetPage, listPage, type Page } from "../../lib/pagination";
import { ProblemError, problems } from "../../lib/problem";
import { resolvePolicies } from "../../lib/rate-limit/policies";
import { AFTER_CHANGE, audit, auditStatement } from "../audit/audit.service";
import { assertRecentAuthentication } from "../auth/reauthentication";
import { memberActor, type OrgContext, ownedBy } from "../orgs/org-context";
import { ALL_SCOPES, type ApiKeyScope, isApiKeyScope, scopesBeyondRole } from "../orgs/permissions";
import { dispatchWebhookEvents, webhookEventStatement } from "../webhooks/outbox";
import type { ApiKeyDto, CreateApiKeyInput, UpdateApiKeyInput } from "./api-keys.schemas";
import { invalidateKey } from "./key-cache";
import { displayPrefix, generateApiKey, type KeyMode } from "./key-format";

export function keyStatus(key: ApiKey, now = Date.now()): ApiKeyDto["status"] {
  if (key.revokedAt) return "revoked";
  if (key.expiresAt && key.expiresAt.getTime() <= now) return "expired";
  return "active";
}

/** The API shape: everything about the key except any secret (none is stored to leak). */
export function toApiKeyDto(key: ApiKey): ApiKeyDto {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    mode: key.mode,
    // A scope retired from the list since the key was made is simply no longer shown (nor honoured).
    scopes: key.scopes.filter(isApiKeyScope),
    status: keyStatus(key),
    created_by: key.createdBy,
    created_at: key.createdAt.toISOString(),
    updated_at: key.updatedAt.toISOString(),
    last_used_at: key.lastUsedAt?.toISOString() ?? null,
    last_used_ip: key.lastUsedIp,
    expires_at: key.expiresAt?.toISOString() ?? null,
    revoked_at: key.revokedAt?.toISOString() ?? null,
    rate_limit:
      key.rateLimit !== null && key.rateLimitWindowSeconds !== null
        ? { limit: key.rateLimit, window_seconds: key.rateLimitWindowSeconds }
        : null,
  };
}

/** Production issues `sk_live_` keys; every other environment `sk_test_` ones. */
export function modeFor(ctx: ServiceContext): KeyMode {
  return ctx.config.isProduction ? "live" : "test";
}

function assertMayGrant(octx: OrgContext, scopes: readonly ApiKeyScope[], pointer: string): void {
  const { role } = memberActor(octx);
  const beyond = scopesBeyondRole(role, scopes);
  if (beyond.length === 0) return;
  throw new ProblemError({
    status: 403,
    code: "scope_not_allowed",
    detail: `As ${role} you cannot give a key ${beyond.map((scope) => `\`${scope}\``).join(", ")}.`,
    errors: [{ pointer, detail: `Not grantable by the ${role} role: ${beyond.join(", ")}.` }],
    extensions: { scopes_not_allowed: beyond },
  });
}

type RateLimitInput = { limit: number; window_seconds: number };

/**
 * A key's own limit may not be more generous than the deployment's `api_key`
 * policy (compared as requests per second) unless staff set it: otherwise any
 * admin could lift the limit that protects the platform.
 */
function assertRateLimitAllowed(octx: OrgContext, rateLimit: RateLimitInput): void {
  const policy = resolvePolicies(octx.config.RATE_LIMIT_POLICIES).api_key;
  const isStaff = octx.principal.kind === "user" && octx.principal.isStaff;
  if (isStaff || rateLimit.limit / rateLimit.window_seconds <= policy.limit / policy.windowSeconds) return;
  throw new ProblemError({
    status: 403,
    code: "rate_limit_above_policy",
    detail: `A key's own limit may be at most the api_key policy's ${policy.limit} requests per ${policy.windowSeconds} s; ask staff for more.`,
    errors: [{ pointer: "/rate_limit", detail: "Above the api_key policy." }],
  });
}

async function newSecret(mode: KeyMode): Promise<{ secret: string; secretHash: string; prefix: string }> {
  const secret = generateApiKey(mode);
  return { secret, secretHash: await sha256Hex(secret), prefix: displayPrefix(secret) };
}

export type CreatedApiKey = { key: ApiKey; secret: string };

export async function createApiKey(octx: OrgContext, input: CreateApiKeyInput): Promise<CreatedApiKey> {
  const actor = memberActor(octx);
  assertMayGrant(octx, input.scopes, "/scopes");
  // A key with every scope outlives the session that made it: a stolen access token alone must not mint one.
  if (input.scopes.includes(ALL_SCOPES)) await assertRecentAuthentication(octx, input);
  if (input.rate_limit) assertRateLimitAllowed(octx, input.rate_limit);
  const mode = modeFor(octx);
  const { secret, secretHash, prefix } = await newSecret(mode);
  const now = new Date();
  const id = uuidv7(now.getTime());
  const event = webhookEventStatement(octx, octx.organization.id, "api_key.created", {
    organization_id: octx.organization.id,
    id,
    name: input.name,
    prefix,
    mode,
    scopes: input.scopes,
    created_by: actor.userId,
    created_at: now.toISOString(),
    expires_at: input.expires_at?.toISOString() ?? null,
  });
  const [[key]] = await octx.db.batch([
    octx.db
      .insert(apiKeys)
      .values({
        id,
        organizationId: octx.organization.id,
        name: input.name,
        mode,
        prefix,
        scopes: input.scopes,
        createdBy: actor.userId,
        createdAt: now,
        updatedAt: now,
        expiresAt: input.expires_at ?? null,
        rateLimit: input.rate_limit?.limit ?? null,
        rateLimitWindowSeconds: input.rate_limit?.window_seconds ?? null,
      })
      .returning(),
    octx.db.insert(apiKeySecrets).values({ secretHash, keyId: id, createdAt: now }),
    auditStatement(octx, {
      action: "api_key.create",
      target: { type: "api_key", id },
      after: {
        id,
        organization_id: octx.organization.id,
        name: input.name,
        mode,
        prefix,
        scopes: input.scopes,
        expires_at: input.expires_at?.toISOString() ?? null,
        rate_limit: input.rate_limit ?? null,
      },
    }),
    event.statement,
  ]);
  if (!key) throw new Error("createApiKey: the insert returned no row");
  await dispatchWebhookEvents(octx, [event]);
  octx.logger.info("api key created", { key_id: key.id, organization_id: key.organizationId });
  return { key, secret };
}

export async function listApiKeys(
  octx: OrgContext,
  query: { limit: number; cursor?: string; sort: SortTerm[]; revoked?: boolean },
): Promise<Page<ApiKeyDto>> {
  const page = keysetPage<ApiKey>({
    sort: query.sort,
    columns: {
      created_at: { column: apiKeys.createdAt, read: (row) => row.createdAt.getTime() },
      name: { column: apiKeys.name, read: (row) => row.name },
    },
    tiebreaker: { column: apiKeys.id, read: (row) => row.id },
    limit: query.limit,
    cursor: query.cursor,
  });
  const filters: Array<SQL | undefined> = [ownedBy(octx, apiKeys.organizationId)];
  if (query.revoked !== undefined) {
    filters.push(query.revoked ? isNotNull(apiKeys.revokedAt) : isNull(apiKeys.revokedAt));
  }
  const where = and(...filters);
  const result = await listPage(octx.db, page, {
    rows: octx.db.select().from(apiKeys).$dynamic(),
    countFrom: apiKeys,
    where,
  });
  return { data: result.data.map(toApiKeyDto), meta: result.meta };
}

async function findKey(octx: OrgContext, keyId: string): Promise<ApiKey> {
  const key = await octx.db
    .select()
    .from(apiKeys)
    .where(and(ownedBy(octx, apiKeys.organizationId), eq(apiKeys.id, keyId)))
    .get();
  if (!key) throw problems.notFound("API key");
  return key;
}

export async function getApiKey(octx: OrgContext, keyId: string): Promise<ApiKey> {
  return findKey(octx, keyId);
}

const keyRevoked = () =>
  problems.conflict("api_key_revoked", "This API key is revoked; create a new one instead.");

async function secretHashesOf(ctx: ServiceContext, keyId: string): Promise<string[]> {
  const rows = await ctx.db
    .select({ secretHash: apiKeySecrets.secretHash })
    .from(apiKeySecrets)
    .where(eq(apiKeySecrets.keyId, keyId));
  return rows.map((row) => row.secretHash);
}

/** After any change: the key is re-read from D1 everywhere (at once on this isolate). */
async function forgetCachedKey(ctx: ServiceContext, keyId: string): Promise<void> {
  await invalidateKey(ctx, keyId, await secretHashesOf(ctx, keyId));
}

export async function updateApiKey(
  octx: OrgContext,
  keyId: string,
  input: UpdateApiKeyInput,
): Promise<ApiKey> {
  memberActor(octx);
  const key = await findKey(octx, keyId);
  if (key.revokedAt) throw keyRevoked();
  const changes: Partial<typeof apiKeys.$inferInsert> = {};
  if (input.name !== undefined) changes.name = input.name;
  if (input.scopes !== undefined) {
    const added = input.scopes.filter((scope) => !key.scopes.includes(scope));
    assertMayGrant(octx, added, "/scopes");
    if (added.includes(ALL_SCOPES)) await assertRecentAuthentication(octx, input);
    changes.scopes = input.scopes;
  }
  if (input.expires_at !== undefined) changes.expiresAt = input.expires_at;
  if (input.rate_limit !== undefined) {
    if (input.rate_limit) assertRateLimitAllowed(octx, input.rate_limit);
    changes.rateLimit = input.rate_limit?.limit ?? null;
    changes.rateLimitWindowSeconds = input.rate_limit?.window_seconds ?? null;
  }
  if (Object.keys(changes).length === 0) return key;
  const [updated] = await octx.db
    .update(apiKeys)
    .set({ ...changes, updatedAt: new Date() })
    .where(and(ownedBy(octx, apiKeys.organizationId), eq(apiKeys.id, keyId), isNull(apiKeys.revokedAt)))
    .returning();
  if (!updated) throw keyRevoked();
  await forgetCachedKey(octx, keyId);
  return updated;
}

/** DELETE: refused from now on (at once on this isolate). Revoking a revoked key changes nothing. */
export async function revokeApiKey(octx: OrgContext, keyId: string): Promise<void> {
  memberActor(octx);
  const key = await findKey(octx, keyId);
  if (!key.revokedAt) {
    const now = new Date();
    const event = revokedKeyEvent(octx, key, now, "revoked");
    await octx.db.batch([
      octx.db
        .update(apiKeys)
        .set({ revokedAt: now, updatedAt: now })
        .where(and(ownedBy(octx, apiKeys.organizationId), eq(apiKeys.id, keyId), isNull(apiKeys.revokedAt))),
      auditStatement(
        octx,
        {
          action: "api_key.revoke",
          target: { type: "api_key", id: keyId },
          before: toApiKeyDto(key),
          after: toApiKeyDto({ ...key, revokedAt: now, updatedAt: now }),
        },
        { when: AFTER_CHANGE },
      ),
      // After the audit row, which exists only if the revocation above changed the key.
      event.statement,
    ]);
    await dispatchWebhookEvents(octx, [event]);
    octx.logger.info("api key revoked", { key_id: keyId, organization_id: octx.organization.id });
  }
  await forgetCachedKey(octx, keyId);
}

/** The api_key.revoked event of `key`, written only if the statement before it in the batch changed a row. */
function revokedKeyEvent(ctx: ServiceContext, key: ApiKey, at: Date, reason: "revoked" | "account_claimed") {
  return webhookEventStatement(
    ctx,
    key.organizationId,
    "api_key.revoked",
    {
      organization_id: key.organizationId,
      id: key.id,
      name: key.name,
      prefix: key.prefix,
      revoked_at: at.toISOString(),
      reason,
    },
    { when: AFTER_CHANGE },
  );
}

export type RotatedApiKey = CreatedApiKey & { previousSecretExpiresAt: Date };

/**
 * A new secret for the same key (same id, scopes, limits). Every older secret
 * stops working after `gracePeriodSeconds` (or sooner, if it was already due to).
 */
export async function rotateApiKey(
  octx: OrgContext,
  keyId: string,
  gracePeriodSeconds: number,
): Promise<RotatedApiKey> {
  memberActor(octx);
  const key = await findKey(octx, keyId);
  if (key.revokedAt) throw keyRevoked();
  const { secret, secretHash, prefix } = await newSecret(key.mode);
  const now = new Date();
  const until = new Date(now.getTime() + gracePeriodSeconds * 1000);
  // The key was found in this organization above; its secrets are reached through it.
  const [, , [updated]] = await octx.db.batch([
    octx.db
      .update(apiKeySecrets)
      .set({ expiresAt: until })
      .where(
        and(
          eq(apiKeySecrets.keyId, key.id),
          or(isNull(apiKeySecrets.expiresAt), gt(apiKeySecrets.expiresAt, until)),
        ),
      ),
    octx.db.insert(apiKeySecrets).values({ secretHash, keyId: key.id, createdAt: now }),
    octx.db
      .update(apiKeys)
      .set({ prefix, updatedAt: now })
      .where(and(ownedBy(octx, apiKeys.organizationId), eq(apiKeys.id, key.id)))
      .returning(),
  ]);
  await forgetCachedKey(octx, key.id);
  octx.logger.info("api key rotated", { key_id: key.id, grace_period_seconds: gracePeriodSeconds });
  return { key: updated ?? key, secret, previousSecretExpiresAt: until };
}

/**
 * Organization deletion step. The rows go with the organization (ON DELETE
 * CASCADE); first every key is revoked and its cached lookups forgotten, so that
 * whatever re-reads a key before the deletion lands sees it revoked.
 */
export async function revokeOrganizationKeys(octx: OrgContext): Promise<BatchItem<"sqlite">[]> {
  const now = new Date();
  await octx.db
    .update(apiKeys)
    .set({ revokedAt: now, updatedAt: now })
    .where(and(ownedBy(octx, apiKeys.organizationId), isNull(apiKeys.revokedAt)));
  const keys = await octx.db
    .select({ id: apiKeys.id })
    .from(apiKeys)
    .where(ownedBy(octx, apiKeys.organizationId));
  for (const key of keys) await forgetCachedKey(octx, key.id);
  return [];
}

/**
 * Account claim step (auth/accounts.ts): the keys a never-verified account created
 * were made by whoever registered the address, who may not be its owner. They are
 * revoked and their cached lookups forgotten, before the owner takes the account over.
 */
export async function revokeKeysCreatedBy(ctx: ServiceContext, userId: string): Promise<void> {
  const now = new Date();
  const live = await ctx.db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.createdBy, userId), isNull(apiKeys.revokedAt)));
  const revoked: Pick<ApiKey, "id" | "organizationId">[] = [];
  // One batch per key: its revocation and its api_key.revoked event land together.
  for (const key of live) {
    const event = revokedKeyEvent(ctx, key, now, "account_claimed");
    const [[done]] = await ctx.db.batch([
      ctx.db
        .update(apiKeys)
        .set({ revokedAt: now, updatedAt: now })
        .where(and(eq(apiKeys.id, key.id), isNull(apiKeys.revokedAt)))
        .returning({ id: apiKeys.id, organizationId: apiKeys.organizationId }),
      event.statement,
    ]);
    if (!done) continue;
    revoked.push(done);
    await dispatchWebhookEvents(ctx, [event]);
  }
  for (const key of revoked) {
    await audit(ctx, {
      action: "api_key.revoke",
      target: { type: "api_key", id: key.id },
      after: { organization_id: key.organizationId, reason: "account_claimed" },
    });
    await forgetCachedKey(ctx, key.id);
  }
}
