/**
 * Tenant scoping, as a mechanism rather than a habit.
 *
 * Every service verb that reads or writes organization-owned rows takes an
 * `OrgContext` instead of a plain ServiceContext. The only ways to get one are
 * the functions below, and each proves access first: the signed-in person's
 * membership of that organization, or the API key's own organization. An
 * OrgContext cannot be built by hand (its brand is a module-private symbol), so
 * a query for org-owned data cannot be written without going through here, and
 * `ownedBy(octx, table.organizationId)` is the filter those queries use.
 *
 * Anything outside the caller's organizations is a 404, never a 403: whether an
 * organization exists is itself something only its members may learn.
 */
import { and, eq, type SQL, sql } from "drizzle-orm";
import type { AnySQLiteColumn, QueryBuilder } from "drizzle-orm/sqlite-core";
import { compiledRowById, compiledSelect } from "../../db/compiled-query";
import { memberships, type Organization, organizations } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { ProblemError, problems } from "../../lib/problem";
import {
  type ApiKeyScope,
  holdsScope,
  type OrgPermission,
  type OrgRole,
  roleHas,
  scopeFor,
} from "./permissions";

const ORG_SCOPED: unique symbol = Symbol("org-scoped");

export type OrgActor =
  | { kind: "member"; userId: string; role: OrgRole }
  | { kind: "api_key"; keyId: string; scopes: readonly string[] }
  /** Queue consumers and cron acting for an organization (e.g. running its task). */
  | { kind: "system"; reason: string };

export type OrgContext = ServiceContext & {
  readonly organization: Organization;
  readonly actor: OrgActor;
  readonly [ORG_SCOPED]: true;
};

function scoped(ctx: ServiceContext, organization: Organization, actor: OrgActor): OrgContext {
  return { ...ctx, organization, actor, [ORG_SCOPED]: true };
}

export const organizationNotFound = () => problems.notFound("organization");

/** The session's sign-in was multi-factor: a second factor after the first, or a user-verified passkey. */
export const signedInWithSecondFactor = (amr: readonly string[]) => amr.includes("mfa");

export const mfaRequired = () =>
  problems.forbidden(
    "This organization requires members to sign in with a second factor: turn on an authenticator app (or use a passkey), then sign in again.",
    "mfa_required",
  );

/**
 * The caller's view of `organizationId`: their membership (people), or the key's
 * own organization (API keys). 404 when the caller has no access, 401 when there
 * is no caller, 403 `mfa_required` for a member whose session was not signed in with
 * a second factor when the organization requires one (`require_mfa`; API keys are not
 * people and are unaffected). What the caller may do there is decided by `assertCan`.
 */
export async function resolveOrgContext(ctx: ServiceContext, organizationId: string): Promise<OrgContext> {
  const principal = ctx.principal;
  switch (principal.kind) {
    case "anonymous":
      throw problems.unauthorized();
    case "user": {
      const row = await membershipWithOrganization.get(ctx.dbSession, {
        organizationId,
        userId: principal.userId,
      });
      if (!row) throw organizationNotFound();
      if (row.organization.requireMfa && !signedInWithSecondFactor(principal.amr)) throw mfaRequired();
      return scoped(ctx, row.organization, { kind: "member", userId: principal.userId, role: row.role });
    }
    case "api_key": {
      if (principal.organizationId !== organizationId) throw organizationNotFound();
      const organization = await findOrganization(ctx, organizationId);
      if (!organization) throw organizationNotFound();
      return scoped(ctx, organization, { kind: "api_key", keyId: principal.keyId, scopes: principal.scopes });
    }
    case "system": {
      const organization = await findOrganization(ctx, organizationId);
      if (!organization) throw organizationNotFound();
      return scoped(ctx, organization, { kind: "system", reason: principal.reason });
    }
  }
}

/**
 * For routes without `{org_id}` (e.g. POST /tasks): the organization an API key
 * belongs to. Null for any other principal, whose data is their own, not an
 * organization's.
 */
export async function apiKeyOrgContext(ctx: ServiceContext): Promise<OrgContext | null> {
  if (ctx.principal.kind !== "api_key") return null;
  return resolveOrgContext(ctx, ctx.principal.organizationId);
}

/**
 * For code that acts for an organization without a caller of its own: queue
 * consumers, cron, account erasure run by staff. Never for request handlers,
 * which go through resolveOrgContext() (via the route guards).
 */
export async function systemOrgContext(
  ctx: ServiceContext,
  organizationId: string,
  reason: string,
): Promise<OrgContext> {
  const organization = await findOrganization(ctx, organizationId);
  if (!organization) throw organizationNotFound();
  return scoped(ctx, organization, { kind: "system", reason });
}

// The two reads every org-scoped request starts from, built into SQL once per isolate
// (src/db/compiled-query.ts says why: drizzle rebuilds a statement on every call).
const membershipWithOrganization = compiledSelect<
  ReturnType<typeof selectMembershipWithOrganization>,
  { organizationId: string; userId: string }
>(selectMembershipWithOrganization);

function selectMembershipWithOrganization(qb: QueryBuilder) {
  return qb
    .select({ organization: organizations, role: memberships.role })
    .from(memberships)
    .innerJoin(organizations, eq(organizations.id, memberships.organizationId))
    .where(
      and(
        eq(memberships.organizationId, sql.placeholder("organizationId")),
        eq(memberships.userId, sql.placeholder("userId")),
      ),
    )
    .limit(1);
}

const organizationById = compiledRowById(organizations);

function findOrganization(ctx: ServiceContext, id: string): Promise<Organization | undefined> {
  return organizationById.get(ctx.dbSession, { id });
}

/** `WHERE <column> = <this organization>`: the filter every org-owned query carries. */
export function ownedBy(octx: OrgContext, column: AnySQLiteColumn): SQL {
  return eq(column, octx.organization.id);
}

export function can(octx: OrgContext, permission: OrgPermission): boolean {
  const actor = octx.actor;
  switch (actor.kind) {
    case "member":
      return roleHas(actor.role, permission);
    case "api_key": {
      const scope = scopeFor(permission);
      return scope !== null && holdsScope(actor.scopes, scope);
    }
    case "system":
      return true;
  }
}

/** 403 with what was missing: a role for people, a scope for API keys (RFC 6750 `insufficient_scope`). */
export function assertCan(octx: OrgContext, permission: OrgPermission): void {
  if (can(octx, permission)) return;
  const actor = octx.actor;
  if (actor.kind === "api_key") {
    const scope = scopeFor(permission);
    throw scope === null ? peopleOnly() : insufficientScope([scope]);
  }
  throw problems.forbidden(`Your role in this organization does not allow this (${permission}).`);
}

export const peopleOnly = () =>
  problems.forbidden("Only members signed in as people can do this; API keys cannot.");

/** RFC 6750 §3.1: the token is valid but lacks the scopes; the header names the ones needed. */
export function insufficientScope(scopes: readonly ApiKeyScope[]): ProblemError {
  const list = scopes.join(" ");
  return new ProblemError({
    status: 403,
    code: "insufficient_scope",
    detail: `This API key lacks the scope${scopes.length === 1 ? "" : "s"} ${scopes.map((s) => `\`${s}\``).join(", ")}.`,
    extensions: { required_scopes: [...scopes] },
    headers: {
      "WWW-Authenticate": `Bearer error="insufficient_scope", scope="${list}"`,
    },
  });
}

/** The signed-in member behind an OrgContext, or 403 for API keys and system actors. */
export function memberActor(octx: OrgContext): { userId: string; role: OrgRole } {
  if (octx.actor.kind !== "member") throw peopleOnly();
  return octx.actor;
}
