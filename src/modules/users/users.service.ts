/**
 * Profiles and the caller's devices. Accounts themselves (addresses, passwords,
 * sessions, erasure) belong to auth: this module reaches them only through auth's
 * verbs, and auth never imports this module's services.
 */
import type { z } from "@hono/zod-openapi";
import { and, eq, isNotNull, isNull, type SQL, sql } from "drizzle-orm";
import { type NotificationPreferences, type NotificationType, type User, users } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import type { SortTerm } from "../../lib/list-query";
import { keysetPage, listPage, type Page } from "../../lib/pagination";
import { currentUser } from "../../lib/principal";
import { problems } from "../../lib/problem";
import { containsText } from "../../lib/text-search";
import {
  eraseAccount,
  findUserById,
  findUserByUsername,
  uniqueViolation,
  usernameTaken,
} from "../auth/accounts";
import { requestEmailChange } from "../auth/email-change.service";
import { newDeviceSessionIds } from "../auth/new-device.service";
import { assertRecentAuthentication, type ReauthenticationProof } from "../auth/reauthentication";
import { describeSession, listSessions, revokeSession } from "../auth/sessions.service";
import { channelsFor } from "../notifications/notification-preferences";
import { cachedProfile } from "./profile-cache";
import type { ListUsersQuery, SessionDto, UpdateProfileInput } from "./users.schemas";

export async function getProfile(ctx: ServiceContext): Promise<User> {
  const { userId } = currentUser(ctx);
  const user = await cachedProfile(ctx, userId, () => findUserById(ctx, userId));
  // A token can outlive its account only on another isolate while KV propagates.
  if (!user) throw problems.unauthorized("The account no longer exists.", "invalid_token");
  return user;
}

function mergePreferences(
  stored: NotificationPreferences,
  patch: NonNullable<UpdateProfileInput["notification_preferences"]>,
): NotificationPreferences {
  const merged: NotificationPreferences = { ...stored };
  for (const [type, channels] of Object.entries(patch) as Array<
    [NotificationType, (typeof patch)[NotificationType]]
  >) {
    if (!channels) continue;
    // A channel left out keeps what the user gets today: their stored choice, else the default.
    const before = channelsFor(stored, type);
    merged[type] = {
      in_app: channels.in_app ?? before.in_app,
      email: channels.email ?? before.email,
      push: channels.push ?? before.push,
    };
  }
  return merged;
}

export async function updateProfile(ctx: ServiceContext, input: UpdateProfileInput): Promise<User> {
  const user = await getProfile(ctx);
  const changes: Partial<typeof users.$inferInsert> = {};
  if (input.username !== undefined && input.username !== user.username) {
    if (input.username !== null) {
      const holder = await findUserByUsername(ctx, input.username);
      if (holder && holder.id !== user.id) throw usernameTaken();
    }
    changes.username = input.username;
  }
  if (input.first_name !== undefined) changes.firstName = input.first_name;
  if (input.last_name !== undefined) changes.lastName = input.last_name;
  if (input.phone_number !== undefined) changes.phoneNumber = input.phone_number;
  if (input.birth_date !== undefined) changes.birthDate = input.birth_date;
  if (input.notification_preferences !== undefined) {
    changes.notificationPreferences = mergePreferences(
      user.notificationPreferences,
      input.notification_preferences,
    );
  }
  if (Object.keys(changes).length === 0) return user;
  try {
    const [updated] = await ctx.db
      .update(users)
      .set({ ...changes, updatedAt: new Date() })
      .where(eq(users.id, user.id))
      .returning();
    if (!updated) throw problems.unauthorized("The account no longer exists.", "invalid_token");
    return updated;
  } catch (error) {
    if (uniqueViolation(error) === "username") throw usernameTaken();
    throw error;
  }
}

/** DELETE /users/me (re-authentication): every session is revoked (tokens refused at once), then all rows go. */
export async function deleteAccount(ctx: ServiceContext, proof: ReauthenticationProof): Promise<void> {
  await assertRecentAuthentication(ctx, proof);
  await eraseAccount(ctx, currentUser(ctx).userId);
}

/** POST /users/me/email (re-authentication): 202, the address changes when the link sent to it is used. */
export function changeEmail(
  ctx: ServiceContext,
  input: { email: string } & ReauthenticationProof,
): Promise<{ expiresInSeconds: number }> {
  return requestEmailChange(ctx, input);
}

// ---------------------------------------------------------------------------
// Devices (sessions of the caller)

export async function listMySessions(
  ctx: ServiceContext,
  query: { limit: number; cursor?: string; sort: SortTerm[] },
): Promise<Page<SessionDto>> {
  const me = currentUser(ctx);
  const page = await listSessions(ctx, { userId: me.userId, ...query });
  const fromNewDevice = await newDeviceSessionIds(
    ctx,
    page.data.map((session) => session.id),
  );
  return {
    data: page.data.map((session) => ({
      ...describeSession(session),
      current: session.id === me.sessionId,
      new_device: fromNewDevice.has(session.id),
    })),
    meta: page.meta,
  };
}

/** Another user's session, or one already revoked or expired, is a 404: nothing is changed. */
export async function revokeMySession(ctx: ServiceContext, sessionId: string): Promise<void> {
  const me = currentUser(ctx);
  const revoked = await revokeSession(ctx, { userId: me.userId, sessionId, reason: "session_revoked" });
  if (!revoked) throw problems.notFound("session");
}

// ---------------------------------------------------------------------------
// Staff

export type ListUsersInput = {
  limit: number;
  cursor?: string;
  sort: SortTerm[];
  q?: string;
  isStaff?: boolean;
  isActive?: boolean;
  emailVerified?: boolean;
};

/** The query of GET /api/v1/users and GET /admin/v1/users (the same ListUsersQuery), as listUsers() takes it. */
export function listUsersInput(query: z.infer<typeof ListUsersQuery>): ListUsersInput {
  return {
    limit: query.limit,
    cursor: query.cursor,
    sort: query.sort,
    q: query.q,
    isStaff: query["filter[is_staff]"],
    isActive: query["filter[is_active]"],
    emailVerified: query["filter[email_verified]"],
  };
}

export async function listUsers(ctx: ServiceContext, input: ListUsersInput): Promise<Page<User>> {
  const page = keysetPage<User>({
    sort: input.sort,
    columns: {
      created_at: { column: users.createdAt, read: (row) => row.createdAt.getTime() },
      email: { column: users.email, read: (row) => row.email },
    },
    tiebreaker: { column: users.id, read: (row) => row.id },
    limit: input.limit,
    cursor: input.cursor,
  });
  const filters: Array<SQL | undefined> = [];
  if (input.isStaff !== undefined) filters.push(eq(users.isStaff, input.isStaff));
  if (input.isActive !== undefined) filters.push(eq(users.isActive, input.isActive));
  if (input.emailVerified !== undefined) {
    filters.push(input.emailVerified ? isNotNull(users.emailVerifiedAt) : isNull(users.emailVerifiedAt));
  }
  if (input.q) {
    filters.push(
      containsText(
        [
          sql`${users.email}`,
          sql`coalesce(${users.username}, '')`,
          sql`${users.firstName}`,
          sql`${users.lastName}`,
        ],
        input.q,
      ),
    );
  }
  const where = and(...filters);
  return listPage(ctx.db, page, {
    rows: ctx.db.select().from(users).$dynamic(),
    countFrom: users,
    where,
  });
}

/** Staff read any account; anyone reads their own (so `Location` after sign-up resolves for its owner). */
export async function getUserForPrincipal(ctx: ServiceContext, id: string): Promise<User> {
  const principal = currentUser(ctx);
  if (!principal.isStaff && principal.userId !== id) {
    throw problems.forbidden("Only staff can read other accounts.");
  }
  const user = await findUserById(ctx, id);
  if (!user) throw problems.notFound("user");
  return user;
}
