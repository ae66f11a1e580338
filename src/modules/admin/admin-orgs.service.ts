/**
 * Staff reads of every organization, through the orgs module: its staff listing (every
 * organization with its member count), and one organization's members read with a
 * system OrgContext (staff are usually not members of what they inspect).
 */
import type { ServiceContext } from "../../lib/context";
import { listMembers } from "../orgs/members.service";
import { systemOrgContext } from "../orgs/org-context";
import type { OrganizationWithMemberCount } from "../orgs/orgs.staff";
import { type AdminOrgDto, MAX_MEMBERS_SHOWN } from "./admin-orgs.schemas";

export function toAdminOrgDto(row: OrganizationWithMemberCount): AdminOrgDto {
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
