/**
 * Organizations: create, list the caller's, read, rename, delete; the personal
 * organization every account gets; what happens to organizations when an
 * account is erased. Verbs on one organization take an OrgContext (see
 * org-context.ts), which already proved the caller may be there.
 */
import { and, asc, eq, ne } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { constraintFailure } from "../../db/constraint-errors";
import { memberships, type Organization, organizations, type User } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { randomBytes } from "../../lib/crypto";
import { uuidv7 } from "../../lib/ids";
import type { SortTerm } from "../../lib/list-query";
import { keysetPage, listPage, type Page } from "../../lib/pagination";
import { currentUser } from "../../lib/principal";
import { ProblemError, problems } from "../../lib/problem";
import { audit } from "../audit/audit.service";
import { assertRecentAuthentication, type ReauthenticationProof } from "../auth/reauthentication";
import { webhookEventStatement } from "../webhooks/outbox";
import { mfaRequired, type OrgContext, signedInWithSecondFactor, systemOrgContext } from "./org-context";
import type { CreateOrgInput, OrgDto, UpdateOrgInput } from "./orgs.schemas";
import { type OrgRole, SUCCESSION_ORDER } from "./permissions";

export function toOrgDto(organization: Organization, role: OrgRole | null): OrgDto {
  return {
    id: organization.id,
    name: organization.name,
    slug: organization.slug,
    is_personal: organization.isPersonal,
    require_mfa: organization.requireMfa,
    role,
    created_at: organization.createdAt.toISOString(),
    updated_at: organization.updatedAt.toISOString(),
  };
}

/** The caller's role there, or null for API keys and system actors. */
export function roleIn(octx: OrgContext): OrgRole | null {
  return octx.actor.kind === "member" ? octx.actor.role : null;
}

export const slugTaken = () =>
  new ProblemError({
    status: 409,
    code: "slug_taken",
    detail: "Another organization uses this slug.",
    errors: [{ pointer: "/slug", detail: "Already taken." }],
  });

function isSlugViolation(error: unknown): boolean {
  const failure = constraintFailure(error);
  return failure?.kind === "unique" && /organizations\.slug|organizations_slug_unique/.test(failure.target);
}

/** "Zoë's Café & Bar" → "zoes-cafe-bar"; always 3–40 characters of the slug alphabet. */
export function slugify(text: string): string {
  const base = text
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    // "Zoë's" reads as one word: apostrophes join rather than separate.
    .replace(/['’]/g, "")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40)
    .replace(/-+$/, "");
  if (base.length >= 3) return base;
  return base ? `${base}-org` : "org";
}

const SUFFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

function randomSuffix(length = 6): string {
  return Array.from(randomBytes(length), (byte) => SUFFIX_ALPHABET[byte % 36]).join("");
}

async function slugInUse(ctx: ServiceContext, slug: string): Promise<boolean> {
  const row = await ctx.db
    .select({ id: organizations.id })
    .from(organizations)
    .where(eq(organizations.slug, slug))
    .get();
  return row !== undefined;
}

/**
 * Inserts an organization with `ownerId` as its owner, in one batch. An explicit
 * slug that is taken is a 409; a derived one gets a random suffix until it is free
 * (the unique index decides races).
 */
async function insertOrganization(
  ctx: ServiceContext,
  input: { name: string; slug?: string; ownerId: string; isPersonal: boolean },
): Promise<Organization> {
  const derived = slugify(input.name);
  let slug = input.slug ?? derived;
  if (!input.slug && (await slugInUse(ctx, slug))) slug = `${derived}-${randomSuffix()}`;
  for (let attempt = 0; ; attempt++) {
    const now = new Date();
    const id = uuidv7(now.getTime());
    try {
      const [[organization]] = await ctx.db.batch([
        ctx.db
          .insert(organizations)
          .values({
            id,
            name: input.name,
            slug,
            isPersonal: input.isPersonal,
            createdBy: input.ownerId,
            createdAt: now,
            updatedAt: now,
          })
          .returning(),
        ctx.db.insert(memberships).values({
          organizationId: id,
          userId: input.ownerId,
          role: "owner",
          createdAt: now,
          updatedAt: now,
        }),
      ]);
      if (!organization) throw new Error("insertOrganization: the insert returned no row");
      return organization;
    } catch (error) {
      if (!isSlugViolation(error)) throw error;
      if (input.slug) throw slugTaken();
      if (attempt >= 3) throw error;
      slug = `${derived}-${randomSuffix()}`;
    }
  }
}

/** POST /orgs: the caller becomes its owner. People only (the route says so too). */
export async function createOrganization(ctx: ServiceContext, input: CreateOrgInput): Promise<OrgDto> {
  const me = currentUser(ctx);
  if (input.slug && (await slugInUse(ctx, input.slug))) throw slugTaken();
  const organization = await insertOrganization(ctx, {
    name: input.name,
    slug: input.slug,
    ownerId: me.userId,
    isPersonal: false,
  });
  return toOrgDto(organization, "owner");
}

function displayName(user: User): string {
  const full = `${user.firstName} ${user.lastName}`.trim();
  return full || user.username || user.email.split("@")[0] || "My";
}

/** Registration hook: every new account gets an organization of its own, which it owns. */
export async function createPersonalOrganization(ctx: ServiceContext, user: User): Promise<Organization> {
  return insertOrganization(ctx, {
    name: `${displayName(user)}'s organization`.slice(0, 120),
    ownerId: user.id,
    isPersonal: true,
  });
}

type OrgRow = { organization: Organization; role: OrgRole | null };

/** People: the organizations they belong to. API keys: their own organization. */
export async function listMyOrganizations(
  ctx: ServiceContext,
  query: { limit: number; cursor?: string; sort: SortTerm[] },
): Promise<Page<OrgDto>> {
  const page = keysetPage<OrgRow>({
    sort: query.sort,
    columns: {
      created_at: { column: organizations.createdAt, read: (row) => row.organization.createdAt.getTime() },
      name: { column: organizations.name, read: (row) => row.organization.name },
    },
    tiebreaker: { column: organizations.id, read: (row) => row.organization.id },
    limit: query.limit,
    cursor: query.cursor,
  });
  const principal = ctx.principal;
  let result: Page<OrgRow>;
  if (principal.kind === "user") {
    const mine = eq(memberships.userId, principal.userId);
    result = await listPage(ctx.db, page, {
      rows: ctx.db
        .select({ organization: organizations, role: memberships.role })
        .from(memberships)
        .innerJoin(organizations, eq(organizations.id, memberships.organizationId))
        .$dynamic(),
      countFrom: memberships,
      where: mine,
    });
  } else if (principal.kind === "api_key") {
    const own = eq(organizations.id, principal.organizationId);
    const rows = await ctx.db
      .select()
      .from(organizations)
      .where(and(own, page.where))
      .orderBy(...page.orderBy)
      .limit(page.take);
    result = page.finish(
      rows.map((organization) => ({ organization, role: null })),
      1,
    );
  } else {
    throw problems.unauthorized();
  }
  return { data: result.data.map((row) => toOrgDto(row.organization, row.role)), meta: result.meta };
}

export function getOrganization(octx: OrgContext): OrgDto {
  return toOrgDto(octx.organization, roleIn(octx));
}

export async function updateOrganization(octx: OrgContext, input: UpdateOrgInput): Promise<OrgDto> {
  const changes: Partial<typeof organizations.$inferInsert> = {};
  if (input.require_mfa !== undefined && input.require_mfa !== octx.organization.requireMfa) {
    changes.requireMfa = requireMfaChange(octx, input.require_mfa);
  }
  if (input.name !== undefined && input.name !== octx.organization.name) changes.name = input.name;
  if (input.slug !== undefined && input.slug !== octx.organization.slug) {
    if (await slugInUse(octx, input.slug)) throw slugTaken();
    changes.slug = input.slug;
  }
  if (Object.keys(changes).length === 0) return getOrganization(octx);
  try {
    const [updated] = await octx.db
      .update(organizations)
      .set({ ...changes, updatedAt: new Date() })
      .where(eq(organizations.id, octx.organization.id))
      .returning();
    if (!updated) throw problems.notFound("organization");
    if (changes.requireMfa !== undefined) {
      await audit(octx, {
        action: "org.require_mfa_changed",
        target: { type: "organization", id: updated.id },
        before: { require_mfa: octx.organization.requireMfa },
        after: { require_mfa: updated.requireMfa },
      });
    }
    return toOrgDto(updated, roleIn(octx));
  } catch (error) {
    if (isSlugViolation(error)) throw slugTaken();
    throw error;
  }
}

/**
 * `require_mfa` is an owner's decision, and an owner turning it on must meet it: the
 * policy would otherwise lock its own author out of the organization at once.
 */
function requireMfaChange(octx: OrgContext, requireMfa: boolean): boolean {
  if (octx.actor.kind !== "member" || octx.actor.role !== "owner") {
    throw problems.forbidden("Only owners can change `require_mfa`.", "forbidden");
  }
  const principal = octx.principal;
  if (requireMfa && principal.kind === "user" && !signedInWithSecondFactor(principal.amr)) {
    throw mfaRequired();
  }
  return requireMfa;
}

/**
 * What other modules must do when an organization goes (purge cached API keys,
 * cancel a subscription ...): each step returns statements for the deletion batch
 * or does its own off-D1 work and returns none. Rows that reference
 * organizations.id with ON DELETE CASCADE need no step. Registered one line each.
 */
export type OrganizationDeletionStep = (octx: OrgContext) => Promise<BatchItem<"sqlite">[]>;
export const organizationDeletionSteps: OrganizationDeletionStep[] = [];

async function deletionStatements(octx: OrgContext): Promise<BatchItem<"sqlite">[]> {
  const statements: BatchItem<"sqlite">[] = [];
  for (const step of organizationDeletionSteps) statements.push(...(await step(octx)));
  statements.push(octx.db.delete(organizations).where(eq(organizations.id, octx.organization.id)));
  return statements;
}

/**
 * DELETE /orgs/{id} (re-authentication): the organization and everything it owns. A
 * personal organization goes with its account.
 */
export async function deleteOrganization(octx: OrgContext, proof: ReauthenticationProof): Promise<void> {
  if (octx.organization.isPersonal) {
    throw problems.conflict(
      "personal_organization",
      "A personal organization cannot be deleted on its own; it is deleted with its account.",
    );
  }
  await assertRecentAuthentication(octx, proof);
  const [first, ...rest] = await deletionStatements(octx);
  if (first) await octx.db.batch([first, ...rest]);
}

/**
 * Account erasure step. The erased user's memberships go. Where they were the
 * last owner:
 * - nobody else is a member: the organization is deleted with everything it owns;
 * - otherwise ownership passes to the longest-standing admin (else member, else
 *   billing manager), so the remaining people keep their data and billing, and
 *   an account can always be erased (it is never blocked by an organization).
 */
export async function eraseMemberships(ctx: ServiceContext, userId: string): Promise<BatchItem<"sqlite">[]> {
  const owned = await ctx.db
    .select({ organizationId: memberships.organizationId })
    .from(memberships)
    .where(and(eq(memberships.userId, userId), eq(memberships.role, "owner")));
  const statements: BatchItem<"sqlite">[] = [];
  const deleted = new Set<string>();
  for (const { organizationId } of owned) {
    const others = await ctx.db
      .select({ userId: memberships.userId, role: memberships.role })
      .from(memberships)
      .where(and(eq(memberships.organizationId, organizationId), ne(memberships.userId, userId)))
      .orderBy(asc(memberships.createdAt), asc(memberships.userId));
    if (others.some((member) => member.role === "owner")) continue;
    const successor = SUCCESSION_ORDER.map((role) => others.find((member) => member.role === role)).find(
      (member) => member !== undefined,
    );
    if (successor) {
      const now = new Date();
      statements.push(
        ctx.db
          .update(memberships)
          .set({ role: "owner", updatedAt: now })
          .where(
            and(eq(memberships.organizationId, organizationId), eq(memberships.userId, successor.userId)),
          ),
        // It was somebody's personal organization; now it is a shared one that can be deleted normally.
        ctx.db
          .update(organizations)
          .set({ isPersonal: false, updatedAt: now })
          .where(eq(organizations.id, organizationId)),
      );
      ctx.logger.info("organization ownership passed on at account erasure", {
        organization_id: organizationId,
        new_owner_id: successor.userId,
      });
    } else {
      deleted.add(organizationId);
      statements.push(
        ...(await deletionStatements(await systemOrgContext(ctx, organizationId, "account_erasure"))),
      );
      ctx.logger.info("organization deleted with its last member's account", {
        organization_id: organizationId,
      });
    }
  }
  // member.removed for each organization that stays; the outbox sweep dispatches them (this batch is eraseAccount's).
  const removedAt = new Date().toISOString();
  const left = await ctx.db
    .select({ organizationId: memberships.organizationId, role: memberships.role })
    .from(memberships)
    .where(eq(memberships.userId, userId));
  for (const { organizationId, role } of left) {
    if (deleted.has(organizationId)) continue;
    statements.push(
      webhookEventStatement(ctx, organizationId, "member.removed", {
        organization_id: organizationId,
        user_id: userId,
        role,
        reason: "account_deleted",
        removed_at: removedAt,
      }).statement,
    );
  }
  statements.push(ctx.db.delete(memberships).where(eq(memberships.userId, userId)));
  return statements;
}
