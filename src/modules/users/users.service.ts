/**
 * Accounts and profiles. Auth reaches users only through these verbs; this
 * module reaches sessions only through the sessions service.
 */
import type { z } from "@hono/zod-openapi";
import { and, count, eq, isNotNull, isNull, or, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import {
  type NotificationPreferences,
  type NotificationType,
  sessions,
  spentRefreshTokens,
  type User,
  users,
} from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import type { SortTerm } from "../../lib/list-query";
import { keysetPage, type Page } from "../../lib/pagination";
import type { UserPrincipal } from "../../lib/principal";
import { ProblemError, problems } from "../../lib/problem";
import { newDeviceSessionIds } from "../auth/new-device.service";
import { listSessions, revokeSession, revokeUserSessions } from "../auth/sessions.service";
import { channelsFor } from "../notifications/notification-preferences";
import type { ListUsersQuery, SessionDto, UpdateProfileInput, UserDto } from "./users.schemas";

export function avatarUrl(user: Pick<User, "id" | "avatarKey">): string | null {
  return user.avatarKey ? `/api/v1/users/${user.id}/avatar` : null;
}

export function toUserDto(user: User): UserDto {
  return {
    id: user.id,
    email: user.email,
    username: user.username,
    first_name: user.firstName,
    last_name: user.lastName,
    phone_number: user.phoneNumber,
    birth_date: user.birthDate,
    avatar_url: avatarUrl(user),
    email_verified: user.emailVerifiedAt !== null,
    is_active: user.isActive,
    is_staff: user.isStaff,
    notification_preferences: user.notificationPreferences,
    created_at: user.createdAt.toISOString(),
    updated_at: user.updatedAt.toISOString(),
    last_login_at: user.lastLoginAt?.toISOString() ?? null,
  };
}

/** The signed-in person behind the context, or 401. */
export function currentUser(ctx: ServiceContext): UserPrincipal {
  if (ctx.principal.kind !== "user") throw problems.unauthorized();
  return ctx.principal;
}

export const emailTaken = () =>
  new ProblemError({
    status: 409,
    code: "email_taken",
    detail: "An account with this email address already exists.",
    errors: [{ pointer: "/email", detail: "Already registered." }],
  });

export const usernameTaken = () =>
  new ProblemError({
    status: 409,
    code: "username_taken",
    detail: "This username is taken.",
    errors: [{ pointer: "/username", detail: "Already taken." }],
  });

/** Which unique index a failed write hit, reading through drizzle's wrapping of the D1 error. */
export function uniqueViolation(error: unknown): "email" | "username" | null {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    if (!/UNIQUE constraint failed/i.test(cause.message)) continue;
    if (/users_username_unique|users\.username/.test(cause.message)) return "username";
    if (/users_email_unique|users\.email/.test(cause.message)) return "email";
  }
  return null;
}

export function findUserById(ctx: ServiceContext, id: string): Promise<User | undefined> {
  return ctx.db.select().from(users).where(eq(users.id, id)).get();
}

export function findUserByEmail(ctx: ServiceContext, email: string): Promise<User | undefined> {
  return ctx.db.select().from(users).where(eq(users.email, email.trim().toLowerCase())).get();
}

/** Case-insensitive, through the index on lower(username). */
export function findUserByUsername(ctx: ServiceContext, username: string): Promise<User | undefined> {
  return ctx.db
    .select()
    .from(users)
    .where(sql`lower(${users.username}) = ${username.trim().toLowerCase()}`)
    .get();
}

export async function getProfile(ctx: ServiceContext): Promise<User> {
  const user = await findUserById(ctx, currentUser(ctx).userId);
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
    merged[type] = { in_app: channels.in_app ?? before.in_app, email: channels.email ?? before.email };
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

/**
 * Extra deletions other modules need when an account is erased (memberships,
 * avatars, ...): each returns statements for the erasure batch, or does its own
 * off-D1 clean-up (R2) and returns none. Registered one line each.
 */
export type AccountErasureStep = (ctx: ServiceContext, userId: string) => Promise<BatchItem<"sqlite">[]>;
export const accountErasureSteps: AccountErasureStep[] = [];

/** Erases the caller's account: every session is revoked (tokens refused at once), then all rows go in one batch. */
export async function deleteAccount(ctx: ServiceContext): Promise<void> {
  await eraseAccount(ctx, currentUser(ctx).userId);
}

/**
 * Erases any account (the caller's own, or one staff delete). `alsoInBatch` rides in
 * the erasure batch, e.g. the audit row of a staff deletion.
 */
export async function eraseAccount(
  ctx: ServiceContext,
  userId: string,
  alsoInBatch: BatchItem<"sqlite">[] = [],
): Promise<void> {
  await revokeUserSessions(ctx, { userId, reason: "account_deleted" });
  const extra: BatchItem<"sqlite">[] = [];
  for (const step of accountErasureSteps) extra.push(...(await step(ctx, userId)));
  await ctx.db.batch([
    ctx.db
      .delete(spentRefreshTokens)
      .where(
        sql`${spentRefreshTokens.sessionId} IN (SELECT ${sessions.id} FROM ${sessions} WHERE ${sessions.userId} = ${userId})`,
      ),
    ctx.db.delete(sessions).where(eq(sessions.userId, userId)),
    ...extra,
    ctx.db.delete(users).where(eq(users.id, userId)),
    ...alsoInBatch,
  ]);
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
      id: session.id,
      user_agent: session.userAgent,
      ip: session.ip,
      country: session.country,
      city: session.city,
      created_at: session.createdAt.toISOString(),
      last_used_at: session.lastUsedAt.toISOString(),
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

/** `%` and `_` typed by the caller match themselves. */
function likePattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
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
    const pattern = likePattern(input.q);
    const escaped = (column: SQL) => sql`lower(${column}) LIKE ${pattern} ESCAPE '\\'`;
    filters.push(
      or(
        escaped(sql`${users.email}`),
        escaped(sql`coalesce(${users.username}, '')`),
        escaped(sql`${users.firstName}`),
        escaped(sql`${users.lastName}`),
      ),
    );
  }
  const where = and(...filters);
  const [rows, [total]] = await ctx.db.batch([
    ctx.db
      .select()
      .from(users)
      .where(and(where, page.where))
      .orderBy(...page.orderBy)
      .limit(page.take),
    ctx.db.select({ value: count() }).from(users).where(where),
  ]);
  return page.finish(rows, total?.value ?? 0);
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
