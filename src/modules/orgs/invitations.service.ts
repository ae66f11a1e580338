/**
 * Invitations by email. The token (`inv_` + 32 random bytes) is emailed and
 * only its SHA-256 stored; it lasts 7 days and works once. Accepting needs the
 * signed-in user's VERIFIED email to be the invited address, so a forwarded or
 * leaked link is useless to anyone else.
 *
 * Accepting is one D1 batch: a conditional UPDATE spends the invitation (only
 * while it is unspent, unrevoked and unexpired), and the membership INSERT
 * selects from the row that UPDATE just spent, ON CONFLICT DO NOTHING. Two
 * accepts at once spend it once; the (organization, user) primary key makes a
 * duplicate membership impossible whatever happens.
 */
import { and, asc, eq, gt, isNotNull, isNull, lte, type SQL, sql } from "drizzle-orm";
import { type Invitation, invitations, memberships, organizations, type User } from "../../db/schema";
import { sendEmail } from "../../email/send-email";
import type { ServiceContext } from "../../lib/context";
import { randomToken, sha256Hex } from "../../lib/crypto";
import { uuidv7 } from "../../lib/ids";
import type { SortTerm } from "../../lib/list-query";
import { serializeError } from "../../lib/logger";
import { keysetPage, listPage, type Page } from "../../lib/pagination";
import { currentUser } from "../../lib/principal";
import { ProblemError, problems } from "../../lib/problem";
import { AFTER_CHANGE } from "../audit/audit.service";
import { findUserByEmail, findUserById } from "../auth/accounts";
import { notify } from "../notifications/notifications.service";
import { dispatchWebhookEvents, webhookEventStatement } from "../webhooks/outbox";
import { memberByEmail } from "./members.service";
import { memberActor, type OrgContext, ownedBy } from "./org-context";
import type { CreateInvitationInput, InvitationDto, invitationStatuses, MembershipDto } from "./orgs.schemas";
import { toOrgDto } from "./orgs.service";

export const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;
const TOKEN_PREFIX = "inv_";

type InvitationStatus = (typeof invitationStatuses)[number];

export function invitationStatus(invitation: Invitation, now = Date.now()): InvitationStatus {
  if (invitation.revokedAt) return "revoked";
  if (invitation.acceptedAt) return "accepted";
  if (invitation.expiresAt.getTime() <= now) return "expired";
  return "pending";
}

function toInvitationDto(invitation: Invitation): InvitationDto {
  return {
    id: invitation.id,
    email: invitation.email,
    role: invitation.role,
    status: invitationStatus(invitation),
    invited_by: invitation.invitedBy,
    created_at: invitation.createdAt.toISOString(),
    expires_at: invitation.expiresAt.toISOString(),
    accepted_at: invitation.acceptedAt?.toISOString() ?? null,
    revoked_at: invitation.revokedAt?.toISOString() ?? null,
  };
}

function statusCondition(status: InvitationStatus, now: Date): SQL | undefined {
  switch (status) {
    case "revoked":
      return isNotNull(invitations.revokedAt);
    case "accepted":
      return and(isNull(invitations.revokedAt), isNotNull(invitations.acceptedAt));
    case "expired":
      return and(
        isNull(invitations.revokedAt),
        isNull(invitations.acceptedAt),
        lte(invitations.expiresAt, now),
      );
    case "pending":
      return and(
        isNull(invitations.revokedAt),
        isNull(invitations.acceptedAt),
        gt(invitations.expiresAt, now),
      );
  }
}

/** How long a name may run in an invitation: enough for a real name, too short for a pitch. */
export const INVITATION_NAME_MAX = 60;

/**
 * A name chosen by the inviter (their profile name, the organization's name) as it
 * goes into someone else's inbox: plain text on one line (no control or bidi-override
 * characters that could reorder or hide text), at most INVITATION_NAME_MAX characters.
 */
export function plainName(text: string, fallback: string): string {
  const clean = text
    .replace(/[\p{Cc}\p{Cf}\u2028\u2029]+/gu, " ")
    .replace(/\s+/g, " ")
    .trim();
  if (!clean) return fallback;
  const chars = [...clean];
  return chars.length <= INVITATION_NAME_MAX
    ? clean
    : `${chars
        .slice(0, INVITATION_NAME_MAX - 1)
        .join("")
        .trimEnd()}…`;
}

function personName(user: User): string {
  return plainName(`${user.firstName} ${user.lastName}`, user.username || "A member");
}

const DAY_MS = 24 * 60 * 60 * 1000;

function invitationLimitReached(retryAfterSeconds: number, limit: number): ProblemError {
  return new ProblemError({
    status: 429,
    code: "invitation_limit_reached",
    detail: `This organization has sent ${limit} invitations in the last 24 hours, its daily limit. Try again in ${retryAfterSeconds} seconds.`,
    headers: { "Retry-After": String(retryAfterSeconds) },
    extensions: { limit, retry_after: retryAfterSeconds },
  });
}

/** Where the email's button points: the app's accept page, which posts the token to POST /invitations/accept. */
export function acceptUrl(ctx: ServiceContext, token: string): string {
  const url = new URL("/invitations/accept", ctx.config.APP_URL);
  url.searchParams.set("token", token);
  return url.toString();
}

/**
 * POST /orgs/{id}/invitations. Inviting an address that already has an open
 * invitation replaces it (the old link stops working): that is how an invitation
 * is re-sent. Only owners invite owners; members cannot be invited again.
 *
 * Invitations put text of the inviter's choosing into a stranger's inbox, so only
 * an account with a verified address may send them, at most
 * INVITATIONS_PER_ORG_PER_DAY per organization in any 24 hours (re-sends count),
 * and the names in them are plain, short text.
 */
export async function createInvitation(
  octx: OrgContext,
  input: CreateInvitationInput,
): Promise<{ invitation: InvitationDto; token: string }> {
  const actor = memberActor(octx);
  if (input.role === "owner" && actor.role !== "owner") {
    throw problems.forbidden("Only an owner can invite an owner.");
  }
  const inviter = await findUserById(octx, actor.userId);
  if (!inviter?.emailVerifiedAt) {
    throw problems.forbidden("Verify your email address before inviting anyone.", "email_not_verified");
  }
  if (await memberByEmail(octx, input.email)) {
    throw new ProblemError({
      status: 409,
      code: "already_member",
      detail: "This address belongs to a member of the organization already.",
      errors: [{ pointer: "/email", detail: "Already a member." }],
    });
  }
  const token = `${TOKEN_PREFIX}${randomToken(32)}`;
  const now = new Date();
  const expiresAt = new Date(now.getTime() + INVITATION_TTL_MS);
  const limit = octx.config.INVITATIONS_PER_ORG_PER_DAY;
  const orgId = octx.organization.id;
  // Checked inside the batch by both statements, so concurrent invitations cannot pass the cap together.
  const underCap = sql`(SELECT count(*) FROM ${invitations} WHERE ${invitations.organizationId} = ${orgId} AND ${invitations.createdAt} > ${now.getTime() - DAY_MS}) < ${limit}`;
  // Columns in table order: id, organization_id, email, role, token_hash, invited_by, created_at,
  // expires_at, accepted_at, accepted_by, revoked_at.
  const [, [invitation]] = await octx.db.batch([
    octx.db
      .update(invitations)
      .set({ revokedAt: now })
      .where(
        and(
          ownedBy(octx, invitations.organizationId),
          eq(invitations.email, input.email),
          isNull(invitations.acceptedAt),
          isNull(invitations.revokedAt),
          underCap,
        ),
      ),
    octx.db
      .insert(invitations)
      .select(
        sql`SELECT ${uuidv7(now.getTime())}, ${orgId}, ${input.email}, ${input.role}, ${await sha256Hex(token)}, ${actor.userId}, ${now.getTime()}, ${expiresAt.getTime()}, NULL, NULL, NULL WHERE ${underCap}`,
      )
      .returning(),
  ]);
  if (!invitation) {
    const oldest = await octx.db
      .select({ createdAt: invitations.createdAt })
      .from(invitations)
      .where(
        and(
          ownedBy(octx, invitations.organizationId),
          gt(invitations.createdAt, new Date(now.getTime() - DAY_MS)),
        ),
      )
      .orderBy(asc(invitations.createdAt))
      .get();
    const freeAt = (oldest?.createdAt.getTime() ?? now.getTime()) + DAY_MS;
    throw invitationLimitReached(Math.max(1, Math.ceil((freeAt - now.getTime()) / 1000)), limit);
  }

  const inviterName = personName(inviter);
  const organizationName = plainName(octx.organization.name, "an organization");
  const url = acceptUrl(octx, token);
  await sendEmail(octx, {
    template: "org_invitation",
    to: input.email,
    data: {
      inviter_name: inviterName,
      organization_name: organizationName,
      role: input.role,
      accept_url: url,
      expires_at: expiresAt.toISOString(),
    },
  });
  await notifyInvitee(octx, { invitation, inviterName, organizationName, url });
  return { invitation: toInvitationDto(invitation), token };
}

/**
 * The in-app notification, when the invited address already has an account. The
 * link carries the token: it is only useful to the account whose verified email
 * matches, which is the one receiving it. The email already went out, so a failure
 * here is logged, not answered.
 */
async function notifyInvitee(
  octx: OrgContext,
  input: { invitation: Invitation; inviterName: string; organizationName: string; url: string },
): Promise<void> {
  const invitee = await findUserByEmail(octx, input.invitation.email);
  if (!invitee) return;
  try {
    await notify(octx, invitee.id, {
      type: "org_invitation",
      title: `Join ${input.organizationName}`,
      message: `${input.inviterName} invited you to join ${input.organizationName} as ${input.invitation.role}.`,
      target_url: input.url,
      data: {
        organization_id: octx.organization.id,
        invitation_id: input.invitation.id,
        role: input.invitation.role,
        expires_at: input.invitation.expiresAt.toISOString(),
      },
    });
  } catch (error) {
    octx.logger.error("could not notify the invitee", {
      invitation_id: input.invitation.id,
      error: serializeError(error),
    });
  }
}

export async function listInvitations(
  octx: OrgContext,
  query: { limit: number; cursor?: string; sort: SortTerm[]; status?: InvitationStatus },
): Promise<Page<InvitationDto>> {
  const page = keysetPage<Invitation>({
    sort: query.sort,
    columns: { created_at: { column: invitations.createdAt, read: (row) => row.createdAt.getTime() } },
    tiebreaker: { column: invitations.id, read: (row) => row.id },
    limit: query.limit,
    cursor: query.cursor,
  });
  const where = and(
    ownedBy(octx, invitations.organizationId),
    query.status ? statusCondition(query.status, new Date()) : undefined,
  );
  const result = await listPage(octx.db, page, {
    rows: octx.db.select().from(invitations).$dynamic(),
    countFrom: invitations,
    where,
  });
  return { data: result.data.map(toInvitationDto), meta: result.meta };
}

async function findInvitation(octx: OrgContext, id: string): Promise<Invitation> {
  const invitation = await octx.db
    .select()
    .from(invitations)
    .where(and(ownedBy(octx, invitations.organizationId), eq(invitations.id, id)))
    .get();
  if (!invitation) throw problems.notFound("invitation");
  return invitation;
}

export async function getInvitation(octx: OrgContext, id: string): Promise<InvitationDto> {
  return toInvitationDto(await findInvitation(octx, id));
}

/** DELETE: the link stops working. Revoking twice is fine; an accepted invitation is history (409). */
export async function revokeInvitation(octx: OrgContext, id: string): Promise<void> {
  const invitation = await findInvitation(octx, id);
  if (invitation.revokedAt) return;
  if (invitation.acceptedAt) {
    throw problems.conflict(
      "invitation_not_pending",
      "This invitation was accepted; remove the member instead.",
    );
  }
  await octx.db
    .update(invitations)
    .set({ revokedAt: new Date() })
    .where(
      and(
        ownedBy(octx, invitations.organizationId),
        eq(invitations.id, id),
        isNull(invitations.acceptedAt),
        isNull(invitations.revokedAt),
      ),
    );
}

const invitationProblem = (code: string, detail: string) =>
  new ProblemError({ status: 400, code, detail, errors: [{ pointer: "/token", detail }] });

/** Why an invitation cannot be accepted (as of `now`), or null when it can. */
function refusal(invitation: Invitation | undefined, now: number): ProblemError | null {
  if (!invitation || invitation.revokedAt) {
    return invitationProblem("invitation_invalid", "This invitation does not exist or was revoked.");
  }
  if (invitation.acceptedAt) return invitationProblem("invitation_used", "This invitation was already used.");
  if (invitation.expiresAt.getTime() <= now) {
    return invitationProblem("invitation_expired", "This invitation has expired; ask for a new one.");
  }
  return null;
}

/** POST /invitations/accept: the signed-in user, whose verified email is the invited one, joins. */
export async function acceptInvitation(ctx: ServiceContext, token: string): Promise<MembershipDto> {
  const me = currentUser(ctx);
  const user = await findUserById(ctx, me.userId);
  if (!user) throw problems.unauthorized("The account no longer exists.", "invalid_token");
  if (user.emailVerifiedAt === null) {
    throw problems.forbidden(
      "Verify your email address before accepting an invitation.",
      "email_not_verified",
    );
  }
  const tokenHash = await sha256Hex(token);
  const find = () => ctx.db.select().from(invitations).where(eq(invitations.tokenHash, tokenHash)).get();
  const invitation = await find();
  const now = Date.now();
  const refused = refusal(invitation, now);
  if (refused || !invitation) throw refused;
  if (invitation.email !== user.email) {
    throw problems.forbidden(
      "This invitation was sent to another email address; sign in with that account to accept it.",
      "invitation_email_mismatch",
    );
  }
  const alreadyMember = await ctx.db
    .select({ role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.organizationId, invitation.organizationId), eq(memberships.userId, user.id)))
    .get();
  if (alreadyMember) {
    throw problems.conflict("already_member", "You are a member of this organization already.");
  }

  const acceptedAt = new Date(now);
  // Both events only when the membership row below was inserted (changes() of that INSERT).
  const joinedEvents = [
    webhookEventStatement(
      ctx,
      invitation.organizationId,
      "invitation.accepted",
      {
        organization_id: invitation.organizationId,
        invitation_id: invitation.id,
        email: user.email,
        role: invitation.role,
        user_id: user.id,
        accepted_at: acceptedAt.toISOString(),
      },
      { when: AFTER_CHANGE },
    ),
    webhookEventStatement(
      ctx,
      invitation.organizationId,
      "member.added",
      {
        organization_id: invitation.organizationId,
        user_id: user.id,
        email: user.email,
        role: invitation.role,
        joined_at: acceptedAt.toISOString(),
        invitation_id: invitation.id,
      },
      {
        when: sql`exists (select 1 from ${memberships} where ${memberships.organizationId} = ${invitation.organizationId} and ${memberships.userId} = ${user.id} and ${memberships.createdAt} = ${now})`,
      },
    ),
  ];
  const [spent] = await ctx.db.batch([
    ctx.db
      .update(invitations)
      .set({ acceptedAt, acceptedBy: user.id })
      .where(
        and(
          eq(invitations.id, invitation.id),
          isNull(invitations.acceptedAt),
          isNull(invitations.revokedAt),
          gt(invitations.expiresAt, acceptedAt),
        ),
      )
      .returning({ id: invitations.id }),
    // Inserts only from the row the UPDATE above just spent for this user at this instant.
    ctx.db
      .insert(memberships)
      .select(
        sql`select ${invitations.organizationId}, ${invitations.acceptedBy}, ${invitations.role}, ${now}, ${now} from ${invitations} where ${invitations.id} = ${invitation.id} and ${invitations.acceptedBy} = ${user.id} and ${invitations.acceptedAt} = ${now}`,
      )
      .onConflictDoNothing(),
    ...joinedEvents.map((event) => event.statement),
  ]);
  if (spent.length === 0) {
    // Someone spent, revoked or outlived it between the read and the write.
    throw (
      refusal(await find(), Date.now()) ??
      invitationProblem("invitation_used", "This invitation was already used.")
    );
  }
  await dispatchWebhookEvents(ctx, joinedEvents);
  const joined = await ctx.db
    .select({ organization: organizations, role: memberships.role, joinedAt: memberships.createdAt })
    .from(memberships)
    .innerJoin(organizations, eq(organizations.id, memberships.organizationId))
    .where(and(eq(memberships.organizationId, invitation.organizationId), eq(memberships.userId, user.id)))
    .get();
  if (!joined) throw problems.notFound("organization");
  return {
    organization: toOrgDto(joined.organization, joined.role),
    role: joined.role,
    joined_at: joined.joinedAt.toISOString(),
  };
}
