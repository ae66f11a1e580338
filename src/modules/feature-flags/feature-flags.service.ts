/**
 * Feature flags: staff write them (every write audited in the same batch), code and
 * clients read them evaluated for the caller (feature-flags.evaluate.ts) through the
 * per-isolate cache (flag-cache.ts).
 */
import { eq, type SQL } from "drizzle-orm";
import { type FeatureFlag, featureFlags } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import type { SortTerm } from "../../lib/list-query";
import { keysetPage, listPage, type Page } from "../../lib/pagination";
import { problems } from "../../lib/problem";
import { AFTER_CHANGE, auditStatement } from "../audit/audit.service";
import { listMyOrganizations } from "../orgs/orgs.service";
import { evaluateFlag, type FlagSubject } from "./feature-flags.evaluate";
import type { FeatureFlagDto, PutFeatureFlagInput } from "./feature-flags.schemas";
import { cachedFlags, invalidateFlagCache } from "./flag-cache";

export function toFeatureFlagDto(flag: FeatureFlag): FeatureFlagDto {
  return {
    key: flag.key,
    description: flag.description,
    enabled: flag.enabled,
    rollout_percentage: flag.rolloutPercentage,
    allow_user_ids: flag.allowUserIds,
    allow_org_ids: flag.allowOrgIds,
    updated_by: flag.updatedBy,
    created_at: flag.createdAt.toISOString(),
    updated_at: flag.updatedAt.toISOString(),
  };
}

const flagNotFound = () => problems.notFound("feature flag");

function findFlag(ctx: ServiceContext, key: string): Promise<FeatureFlag | undefined> {
  return ctx.db.select().from(featureFlags).where(eq(featureFlags.key, key)).get();
}

export async function getFeatureFlag(ctx: ServiceContext, key: string): Promise<FeatureFlag> {
  const flag = await findFlag(ctx, key);
  if (!flag) throw flagNotFound();
  return flag;
}

export async function listFeatureFlags(
  ctx: ServiceContext,
  input: { limit: number; cursor?: string; sort: SortTerm[]; enabled?: boolean },
): Promise<Page<FeatureFlag>> {
  const page = keysetPage<FeatureFlag>({
    sort: input.sort,
    columns: {
      key: { column: featureFlags.key, read: (row) => row.key },
      created_at: { column: featureFlags.createdAt, read: (row) => row.createdAt.getTime() },
      updated_at: { column: featureFlags.updatedAt, read: (row) => row.updatedAt.getTime() },
    },
    tiebreaker: { column: featureFlags.key, read: (row) => row.key },
    limit: input.limit,
    cursor: input.cursor,
  });
  const where: SQL | undefined =
    input.enabled === undefined ? undefined : eq(featureFlags.enabled, input.enabled);
  return listPage(ctx.db, page, {
    rows: ctx.db.select().from(featureFlags).$dynamic(),
    countFrom: featureFlags,
    where,
  });
}

/** PUT: creates the flag or replaces every field of it; `created` says which. */
export async function putFeatureFlag(
  ctx: ServiceContext,
  key: string,
  input: PutFeatureFlagInput,
): Promise<{ flag: FeatureFlag; created: boolean }> {
  const existing = await findFlag(ctx, key);
  const now = new Date();
  const fields = {
    description: input.description,
    enabled: input.enabled,
    rolloutPercentage: input.rollout_percentage,
    allowUserIds: input.allow_user_ids,
    allowOrgIds: input.allow_org_ids,
    updatedBy: ctx.principal.kind === "user" ? ctx.principal.userId : null,
    updatedAt: now,
  };
  const after: FeatureFlag = { key, createdAt: existing?.createdAt ?? now, ...fields };
  const [[flag]] = await ctx.db.batch([
    ctx.db
      .insert(featureFlags)
      .values({ key, createdAt: now, ...fields })
      .onConflictDoUpdate({ target: featureFlags.key, set: fields })
      .returning(),
    auditStatement(ctx, {
      action: existing ? "feature_flag.update" : "feature_flag.create",
      target: { type: "feature_flag", id: key },
      before: existing ? toFeatureFlagDto(existing) : null,
      after: toFeatureFlagDto(after),
    }),
  ]);
  if (!flag) throw new Error("putFeatureFlag: the upsert returned no row");
  invalidateFlagCache(ctx.env, ctx.dbSession.bookmark());
  return { flag, created: !existing };
}

export async function deleteFeatureFlag(ctx: ServiceContext, key: string): Promise<void> {
  const existing = await getFeatureFlag(ctx, key);
  const [deleted] = await ctx.db.batch([
    ctx.db.delete(featureFlags).where(eq(featureFlags.key, key)).returning({ key: featureFlags.key }),
    auditStatement(
      ctx,
      {
        action: "feature_flag.delete",
        target: { type: "feature_flag", id: key },
        before: toFeatureFlagDto(existing),
        after: null,
      },
      { when: AFTER_CHANGE },
    ),
  ]);
  // Deleted by a concurrent request between the read and the delete: that one was audited.
  if (deleted.length === 0) throw flagNotFound();
  invalidateFlagCache(ctx.env, ctx.dbSession.bookmark());
}

// ---------------------------------------------------------------------------
// Evaluation

/** Organizations of a signed-in user, read once per request and only when a flag has an org allow list. */
const userOrgs = new WeakMap<ServiceContext, Promise<string[]>>();

async function organizationIdsOf(ctx: ServiceContext): Promise<string[]> {
  let orgs = userOrgs.get(ctx);
  if (!orgs) {
    orgs = listMyOrganizations(ctx, { limit: 100, sort: [{ field: "created_at", direction: "asc" }] }).then(
      (page) => page.data.map((org) => org.id),
    );
    userOrgs.set(ctx, orgs);
  }
  return orgs;
}

async function subjectOf(ctx: ServiceContext, needOrgs: boolean): Promise<FlagSubject> {
  const principal = ctx.principal;
  switch (principal.kind) {
    case "user":
      return {
        bucketId: principal.userId,
        userId: principal.userId,
        orgIds: needOrgs ? await organizationIdsOf(ctx) : [],
      };
    case "api_key":
      return {
        bucketId: principal.organizationId,
        userId: null,
        orgIds: [principal.organizationId],
      };
    default:
      // Anonymous and system callers only see flags that are on for everyone.
      return { bucketId: null, userId: null, orgIds: [] };
  }
}

/** Every flag, evaluated for the caller: `{ key: on? }`. */
export async function evaluateFlagsForCaller(ctx: ServiceContext): Promise<Record<string, boolean>> {
  const flags = await cachedFlags(ctx);
  const subject = await subjectOf(
    ctx,
    flags.some((flag) => flag.enabled && flag.allowOrgIds.length > 0),
  );
  const entries = await Promise.all(
    flags.map(async (flag) => [flag.key, await evaluateFlag(flag, subject)] as const),
  );
  return Object.fromEntries(entries);
}

/** One flag for the caller; an unknown key is off. */
export async function isFlagEnabled(ctx: ServiceContext, key: string): Promise<boolean> {
  const flag = (await cachedFlags(ctx)).find((candidate) => candidate.key === key);
  if (!flag) return false;
  return evaluateFlag(flag, await subjectOf(ctx, flag.enabled && flag.allowOrgIds.length > 0));
}
