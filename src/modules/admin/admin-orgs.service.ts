/**
 * Staff reads of every organization: the listing is a plain cross-tenant query (the
 * orgs module only lists the caller's own); members are read through the orgs module
 * with a system OrgContext (staff are usually not members of what they inspect).
 */
import { and, eq, type SQL, sql } from "drizzle-orm";
import { memberships, type Organization, organizations } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import type { SortTerm } from "../../lib/list-query";
import { keysetPage, listPage, type Page } from "../../lib/pagination";
import { containsText } from "../../lib/text-search";
import { listMembers } from "../orgs/members.service";
import { systemOrgContext } from "../orgs/org-context";
import { type AdminOrgDto, MAX_MEMBERS_SHOWN } from "./admin-orgs.schemas";

type OrgRow = { organization: Organization; memberCount: number };

const memberCount = sql<number>`(select count(*) from ${memberships} where ${memberships.organizationId} = ${organizations.id})`;

export function toAdminOrgDto(row: OrgRow): AdminOrgDto {
  const { organization } = row;
  return {
    id: organization.id,
    name: organization.name,
    slug: organization.slug,
    is_personal: organization.isPersonal,
    created_by: organization.createdBy,
    member_count: row.memberCount,
    created_at: organization.createdAt.toISOString(),
    updated_at: organization.updatedAt.toISOString(),
  };
}

export async function listOrganizations(
  ctx: ServiceContext,
  input: { limit: number; cursor?: string; sort: SortTerm[]; q?: string; isPersonal?: boolean },
): Promise<Page<OrgRow>> {
  const page = keysetPage<OrgRow>({
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

export async function getOrganizationDetails(ctx: ServiceContext, id: string) {
  const octx = await systemOrgContext(ctx, id, "admin");
  const members = await listMembers(octx, {
    limit: MAX_MEMBERS_SHOWN,
    sort: [{ field: "joined_at", direction: "asc" }],
  });
  return {
    ...toAdminOrgDto({ organization: octx.organization, memberCount: members.meta.total }),
    members: members.data,
  };
}
