/**
 * Staff actions on accounts. Writes go through the identity services (access change,
 * sessions, account erasure) with their audit row in the same D1 batch; a staff member
 * cannot disable, demote or delete their own account here (they would lock themselves
 * out mid-action, and it takes a second staff member to do that to anyone). A user's
 * memberships are read through the orgs module's staff verb (across tenants).
 */
import type { User } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { ProblemError, problems } from "../../lib/problem";
import { auditStatement } from "../audit/audit.service";
import { changeAccountAccess, eraseAccount, findUserById } from "../auth/accounts";
import { listSessions, revokeUserSessions } from "../auth/sessions.service";
import { listMembershipsOfUser } from "../orgs/orgs.staff";
import { toUserDto } from "../users/user.dto";
import { type AdminUserDto, MAX_MEMBERSHIPS_SHOWN, type UpdateUserAccessInput } from "./admin-users.schemas";

export const selfModification = (what: string) =>
  new ProblemError({
    status: 403,
    code: "self_modification",
    detail: `Staff cannot ${what} their own account through the admin API; ask another staff member.`,
  });

async function findUser(ctx: ServiceContext, id: string): Promise<User> {
  const user = await findUserById(ctx, id);
  if (!user) throw problems.notFound("user");
  return user;
}

const actorId = (ctx: ServiceContext) => (ctx.principal.kind === "user" ? ctx.principal.userId : null);

async function liveSessionCount(ctx: ServiceContext, userId: string): Promise<number> {
  const page = await listSessions(ctx, {
    userId,
    limit: 1,
    sort: [{ field: "created_at", direction: "desc" }],
  });
  return page.meta.total;
}

/** The account with its live session count and memberships (staff read across tenants). */
export async function getUserDetails(ctx: ServiceContext, id: string): Promise<AdminUserDto> {
  const user = await findUser(ctx, id);
  const [activeSessions, orgs] = await Promise.all([
    liveSessionCount(ctx, id),
    listMembershipsOfUser(ctx, id, MAX_MEMBERSHIPS_SHOWN),
  ]);
  return { ...toUserDto(user), active_sessions: activeSessions, organizations: orgs };
}

/**
 * PATCH is_active / is_staff, through the accounts verb (one batch with its audit row,
 * then every session revoked), after the admin API's own rule: not on oneself.
 */
export async function updateUserAccess(
  ctx: ServiceContext,
  id: string,
  input: UpdateUserAccessInput,
): Promise<User> {
  if (id === actorId(ctx) && (input.is_active === false || input.is_staff === false)) {
    throw selfModification(input.is_active === false ? "disable" : "remove staff from");
  }
  return changeAccountAccess(ctx, id, { isActive: input.is_active, isStaff: input.is_staff });
}

/** Signs the account out everywhere; the revocation and its audit row are one batch. */
export async function revokeAllSessions(ctx: ServiceContext, id: string): Promise<number> {
  await findUser(ctx, id);
  const live = await liveSessionCount(ctx, id);
  return revokeUserSessions(ctx, {
    userId: id,
    reason: "session_revoked",
    alsoInBatch: [
      auditStatement(ctx, {
        action: "user.sessions_revoke",
        target: { type: "user", id },
        before: { active_sessions: live },
        after: { active_sessions: 0 },
      }),
    ],
  });
}

/**
 * Erases the account as DELETE /users/me would. The audit row keeps no personal data
 * of the erased person (no email or names): only the id and account facts.
 */
export async function deleteUser(ctx: ServiceContext, id: string): Promise<void> {
  if (id === actorId(ctx)) throw selfModification("delete");
  const user = await findUser(ctx, id);
  const dto = toUserDto(user);
  await eraseAccount(ctx, id, [
    auditStatement(ctx, {
      action: "user.delete",
      target: { type: "user", id },
      before: {
        id: dto.id,
        is_active: dto.is_active,
        is_staff: dto.is_staff,
        email_verified: dto.email_verified,
        created_at: dto.created_at,
        last_login_at: dto.last_login_at,
      },
      after: null,
    }),
  ]);
  ctx.logger.info("account erased by staff", { user_id: id });
}
