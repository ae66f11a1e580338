/**
 * Memberships of one organization: list, change a role, remove (or leave).
 *
 * Rules beyond the permission table:
 * - only an owner grants, changes or removes the `owner` role (an admin cannot
 *   promote themselves or depose an owner);
 * - anyone may leave (remove themselves);
 * - the last owner can neither leave nor be demoted: the conditional UPDATE /
 *   DELETE below re-counts the other owners in the same statement, so two owners
 *   demoting each other at once cannot leave the organization without one.
 */
import { and, eq, type SQL, sql } from "drizzle-orm";
import { memberships, users } from "../../db/schema";
import type { SortTerm } from "../../lib/list-query";
import { keysetPage, listPage, type Page } from "../../lib/pagination";
import { problems } from "../../lib/problem";
import { AFTER_CHANGE, auditStatement } from "../audit/audit.service";
import { dispatchWebhookEvents, webhookEventStatement } from "../webhooks/outbox";
import { assertCan, memberActor, type OrgContext, ownedBy } from "./org-context";
import type { MemberDto } from "./orgs.schemas";
import type { OrgRole } from "./permissions";

const memberColumns = {
  userId: memberships.userId,
  role: memberships.role,
  joinedAt: memberships.createdAt,
  email: users.email,
  username: users.username,
  firstName: users.firstName,
  lastName: users.lastName,
};

type MemberRow = {
  userId: string;
  role: OrgRole;
  joinedAt: Date;
  email: string;
  username: string | null;
  firstName: string;
  lastName: string;
};

function toMemberDto(row: MemberRow): MemberDto {
  return {
    user_id: row.userId,
    email: row.email,
    username: row.username,
    first_name: row.firstName,
    last_name: row.lastName,
    role: row.role,
    joined_at: row.joinedAt.toISOString(),
  };
}

export const lastOwner = () =>
  problems.conflict(
    "last_owner",
    "The organization's last owner cannot leave or be demoted; make another member an owner first.",
  );

const ownerRoleProtected = () =>
  problems.forbidden("Only an owner can grant, change or remove the owner role.");

export async function listMembers(
  octx: OrgContext,
  query: { limit: number; cursor?: string; sort: SortTerm[]; role?: OrgRole },
): Promise<Page<MemberDto>> {
  const page = keysetPage<MemberRow>({
    sort: query.sort,
    columns: { joined_at: { column: memberships.createdAt, read: (row) => row.joinedAt.getTime() } },
    tiebreaker: { column: memberships.userId, read: (row) => row.userId },
    limit: query.limit,
    cursor: query.cursor,
  });
  const where = and(
    ownedBy(octx, memberships.organizationId),
    query.role ? eq(memberships.role, query.role) : undefined,
  );
  const result = await listPage(octx.db, page, {
    rows: octx.db
      .select(memberColumns)
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .$dynamic(),
    countFrom: memberships,
    where,
  });
  return { data: result.data.map(toMemberDto), meta: result.meta };
}

async function findMember(octx: OrgContext, userId: string): Promise<MemberRow> {
  const row = await octx.db
    .select(memberColumns)
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(ownedBy(octx, memberships.organizationId), eq(memberships.userId, userId)))
    .get();
  if (!row) throw problems.notFound("member");
  return row;
}

/** True when someone other than `userId` is an owner, evaluated inside the statement that uses it. */
function anotherOwner(octx: OrgContext, userId: string): SQL {
  return sql`exists (select 1 from ${memberships} as other where other.organization_id = ${octx.organization.id} and other.role = 'owner' and other.user_id <> ${userId})`;
}

/** `userId`'s membership, unless it is the last owner's: what a demotion or a removal may touch. */
function membershipUnlessLastOwner(octx: OrgContext, userId: string): SQL | undefined {
  return and(
    ownedBy(octx, memberships.organizationId),
    eq(memberships.userId, userId),
    sql`(${memberships.role} <> 'owner' or ${anotherOwner(octx, userId)})`,
  );
}

/** PATCH /orgs/{id}/members/{user_id}. */
export async function updateMemberRole(octx: OrgContext, userId: string, role: OrgRole): Promise<MemberDto> {
  const actor = memberActor(octx);
  assertCan(octx, "members:manage");
  const target = await findMember(octx, userId);
  if (target.role === role) return toMemberDto(target);
  if ((target.role === "owner" || role === "owner") && actor.role !== "owner") throw ownerRoleProtected();

  const [[updated]] = await octx.db.batch([
    octx.db
      .update(memberships)
      .set({ role, updatedAt: new Date() })
      // Demoting an owner needs another owner to remain.
      .where(membershipUnlessLastOwner(octx, userId))
      .returning({ userId: memberships.userId }),
    // A security event: recorded only when the guarded UPDATE above changed the role.
    auditStatement(
      octx,
      {
        action: "member.role_change",
        target: { type: "membership", id: `${octx.organization.id}:${userId}` },
        before: { organization_id: octx.organization.id, user_id: userId, role: target.role },
        after: { organization_id: octx.organization.id, user_id: userId, role },
      },
      { when: AFTER_CHANGE },
    ),
  ]);
  if (!updated) throw lastOwner();
  return toMemberDto({ ...target, role });
}

/** DELETE /orgs/{id}/members/{user_id}: remove someone (members:manage) or leave (anyone, for themselves). */
export async function removeMember(octx: OrgContext, userId: string): Promise<void> {
  const actor = memberActor(octx);
  const leaving = actor.userId === userId;
  if (!leaving) assertCan(octx, "members:manage");
  const target = await findMember(octx, userId);
  if (!leaving && target.role === "owner" && actor.role !== "owner") throw ownerRoleProtected();

  const event = webhookEventStatement(
    octx,
    octx.organization.id,
    "member.removed",
    {
      organization_id: octx.organization.id,
      user_id: userId,
      role: target.role,
      reason: leaving ? "left" : "removed",
      removed_at: new Date().toISOString(),
    },
    { when: AFTER_CHANGE },
  );
  const [[removed]] = await octx.db.batch([
    octx.db
      .delete(memberships)
      .where(membershipUnlessLastOwner(octx, userId))
      .returning({ userId: memberships.userId }),
    event.statement,
  ]);
  if (!removed) throw lastOwner();
  await dispatchWebhookEvents(octx, [event]);
}

/** The member with this email in the organization, if any (invitations refuse to invite members). */
export async function memberByEmail(octx: OrgContext, email: string): Promise<string | undefined> {
  const row = await octx.db
    .select({ userId: memberships.userId })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(ownedBy(octx, memberships.organizationId), eq(users.email, email)))
    .get();
  return row?.userId;
}
