/**
 * Staff reads across every organization: all of them with their member counts, and
 * the memberships of any person. They take a plain ServiceContext, not an OrgContext:
 * staff see every tenant by definition, and the admin routes that call these are
 * guarded by `requireStaff`. Nothing else may call them; a caller's own view is
 * `listMyOrganizations` and the OrgContext verbs.
 */
import { and, asc, eq, type SQL, sql } from "drizzle-orm";
import { memberships, type Organization, organizations } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import type { SortTerm } from "../../lib/list-query";
import { keysetPage, listPage, type Page } from "../../lib/pagination";
import { containsText } from "../../lib/text-search";
import type { OrgRole } from "./permissions";

export type OrganizationWithMemberCount = { organization: Organization; memberCount: number };

const memberCount = sql<number>`(select count(*) from ${memberships} where ${memberships.organizationId} = ${organizations.id})`;

export async function listAllOrganizations(
  ctx: ServiceContext,
  input: { limit: number; cursor?: string; sort: SortTerm[]; q?: string; isPersonal?: boolean },
): Promise<Page<OrganizationWithMemberCount>> {
  const page = keysetPage<OrganizationWithMemberCount>({
    sort: input.sort,
    columns: {
      created_at: { column: organizations.createdAt, read: (row) => row.organization.createdAt.getTime() },
      name: { column: organizations.name, read: (row) => row.organization.name },
    },
    tiebreaker: { column: organizations.id, read: (row) => row.organization.id },
    limit: input.limit,
    cursor: input.cursor,
  });
  const filters: Array<SQL | undefined> = [];
  if (input.isPersonal !== undefined) filters.push(eq(organizations.isPersonal, input.isPersonal));
  if (input.q) {
    filters.push(containsText([sql`${organizations.name}`, sql`${organizations.slug}`], input.q));
  }
  const where = and(...filters);
  return listPage(ctx.db, page, {
    rows: ctx.db.select({ organization: organizations, memberCount }).from(organizations).$dynamic(),
    countFrom: organizations,
    where,
  });
}

/** One organization a person belongs to, and their role there. */
export type MembershipOfUser = { id: string; name: string; slug: string; role: OrgRole };

/** The organizations `userId` belongs to, with their role in each: oldest membership first, at most `limit`. */
export function listMembershipsOfUser(
  ctx: ServiceContext,
  userId: string,
  limit: number,
): Promise<MembershipOfUser[]> {
  return ctx.db
    .select({
      id: organizations.id,
      name: organizations.name,
      slug: organizations.slug,
      role: memberships.role,
    })
    .from(memberships)
    .innerJoin(organizations, eq(organizations.id, memberships.organizationId))
    .where(eq(memberships.userId, userId))
    .orderBy(asc(memberships.createdAt))
    .limit(limit);
}
