/**
 * src/db/compiled-query.ts: a whole-row read built into SQL once per isolate and run in the unit
 * of work's D1 session. What matters is that it answers exactly what the drizzle query it stands
 * for answers (every column, decoded the same way), that values are bound and never spliced into
 * the SQL, and that it stays inside the session (bookmark, table-write tracking, fallback).
 */
import { env } from "cloudflare:workers";
import { and, eq, getTableColumns, sql } from "drizzle-orm";
import type { QueryBuilder } from "drizzle-orm/sqlite-core";
import { describe, expect, it } from "vitest";
import { getDb, openDatabaseSession } from "../src/db/client";
import { compiledRowById, compiledRowQuery, compiledSelect } from "../src/db/compiled-query";
import { memberships, organizations, users } from "../src/db/schema";
import { tableWriteGeneration } from "../src/db/table-writes";
import { findUserByEmail, findUserById } from "../src/modules/auth/accounts";
import { createUser, serviceContext } from "./support/factories";
import { createOrg } from "./support/orgs";

const BOOKMARK_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/;

const byId = compiledRowQuery<typeof users, { id: string }>(users, (t) => eq(t.id, sql.placeholder("id")));

/** A user with every kind of column set: text, null, boolean, timestamp and JSON. */
async function fullyFilledUser() {
  const { user } = await createUser({
    firstName: "Ada",
    lastName: "Lovelace",
    phoneNumber: "+14155550123",
    isStaff: true,
    emailVerifiedAt: new Date("2026-11-30T12:34:56.000Z"),
    lastLoginAt: new Date("2026-12-01T08:00:00.000Z"),
    notificationPreferences: { task_completed: { in_app: true, email: false, push: true } },
  });
  return user;
}

describe("compiledRowQuery", () => {
  it("answers what the drizzle query answers, every column decoded the same way", async () => {
    const user = await fullyFilledUser();
    const session = openDatabaseSession(env.DB, "first-primary");
    const compiled = await byId.get(session, { id: user.id });
    const viaDrizzle = await session.db.select().from(users).where(eq(users.id, user.id)).get();

    expect(compiled).toEqual(viaDrizzle);
    expect(Object.keys(compiled ?? {}).sort()).toEqual(Object.keys(getTableColumns(users)).sort());
    expect(compiled?.emailVerifiedAt).toBeInstanceOf(Date);
    expect(compiled?.emailVerifiedAt?.toISOString()).toBe("2026-11-30T12:34:56.000Z");
    expect(compiled?.isStaff).toBe(true);
    expect(compiled?.isActive).toBe(true);
    expect(compiled?.birthDate).toBeNull();
    expect(compiled?.notificationPreferences).toEqual({
      task_completed: { in_app: true, email: false, push: true },
    });
  });

  it("answers undefined when no row matches", async () => {
    const session = openDatabaseSession(env.DB, "first-primary");
    expect(await byId.get(session, { id: crypto.randomUUID() })).toBeUndefined();
  });

  it("binds values as data: SQL in a value matches nothing and changes nothing", async () => {
    const user = await fullyFilledUser();
    const session = openDatabaseSession(env.DB, "first-primary");
    for (const hostile of [`' or '1'='1`, `${user.id}' --`, `x"; drop table users; --`, "%", "", "\u0000"]) {
      expect(await byId.get(session, { id: hostile })).toBeUndefined();
    }
    expect(await byId.get(session, { id: user.id })).toMatchObject({ id: user.id });
  });

  it("builds its statement once: the SQL is the same for every value, only the parameters differ", () => {
    const first = byId.toSQL({ id: "a" });
    const second = byId.toSQL({ id: "b" });
    expect(first.sql).toBe(second.sql);
    expect(first.sql).toMatch(/^select .* from "users" where "users"\."id" = \? limit \?$/);
    expect(first.params).toEqual(["a", 1]);
    expect(second.params).toEqual(["b", 1]);
  });

  it("compiledRowById is that same read by id", async () => {
    const user = await fullyFilledUser();
    const session = openDatabaseSession(env.DB, "first-primary");
    expect(compiledRowById(users).toSQL({ id: "a" })).toEqual(byId.toSQL({ id: "a" }));
    expect(await compiledRowById(users).get(session, { id: user.id })).toEqual(
      await byId.get(session, { id: user.id }),
    );
  });

  it("refuses a call without a value for a placeholder rather than sending a null", async () => {
    const session = openDatabaseSession(env.DB, "first-primary");
    await expect(byId.get(session, {} as { id: string })).rejects.toThrow(/placeholder "id"/);
  });

  it("runs in the unit of work's session: the bookmark advances, reads are not counted as writes", async () => {
    const user = await fullyFilledUser();
    const session = openDatabaseSession(env.DB, "first-primary");
    expect(session.bookmark()).toBeNull();
    const before = tableWriteGeneration("users");
    await byId.get(session, { id: user.id });
    expect(session.bookmark()).toMatch(BOOKMARK_SHAPE);
    expect(tableWriteGeneration("users")).toBe(before);
  });

  it("never goes around the session to the binding itself", async () => {
    const user = await fullyFilledUser();
    const outside = () => {
      throw new Error("a query ran on the D1 binding itself, outside the session");
    };
    const DB = {
      withSession: (start: string) => env.DB.withSession(start),
      prepare: outside,
      batch: outside,
      exec: outside,
    } as unknown as D1Database;
    const session = openDatabaseSession(DB, "first-unconstrained");
    expect(await byId.get(session, { id: user.id })).toMatchObject({ id: user.id });
  });

  it("moves to the primary when D1 will not serve the session's bookmark, as every query does", async () => {
    const user = await fullyFilledUser();
    const refused = "00000085-0000024c-00004c6d-8e61117bf38d7adb71b934ebbf891683";
    const starts: string[] = [];
    const refusal = () => Promise.reject(new Error("D1_ERROR: the bookmark could not be served"));
    const refusing = { bind: () => refusing, first: refusal, all: refusal, run: refusal, raw: refusal };
    const DB = {
      withSession(start: string) {
        starts.push(start);
        if (start !== refused) return env.DB.withSession(start);
        return { prepare: () => refusing, batch: refusal, getBookmark: () => refused };
      },
    } as unknown as D1Database;
    const session = openDatabaseSession(DB, refused);
    expect(await byId.get(session, { id: user.id })).toMatchObject({ id: user.id });
    expect(starts).toEqual([refused, "first-primary"]);
    expect(session.bookmark()).toMatch(BOOKMARK_SHAPE);
  });
});

describe("findUserById / findUserByEmail (compiled)", () => {
  it("find the account by id and by address, the address in any case and with spaces", async () => {
    const user = await fullyFilledUser();
    const ctx = serviceContext();
    const expected = await getDb(env).select().from(users).where(eq(users.id, user.id)).get();
    expect(await findUserById(ctx, user.id)).toEqual(expected);
    expect(await findUserByEmail(ctx, `  ${user.email.toUpperCase()} `)).toEqual(expected);
    expect(await findUserByEmail(ctx, `${user.email}x`)).toBeUndefined();
  });
});

/** The shape of resolveOrgContext()'s member read: a nested table, a column, an inner join. */
const selectMembership = (qb: QueryBuilder) =>
  qb
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
const membership = compiledSelect<
  ReturnType<typeof selectMembership>,
  { organizationId: string; userId: string }
>(selectMembership);

/** A left join: the organizations group is null for a user who created none, as drizzle answers it. */
const selectCreator = (qb: QueryBuilder) =>
  qb
    .select({ user: { id: users.id, email: users.email }, organization: organizations })
    .from(users)
    .leftJoin(organizations, eq(organizations.createdBy, users.id))
    .where(eq(users.id, sql.placeholder("id")))
    .limit(1);
const creator = compiledSelect<ReturnType<typeof selectCreator>, { id: string }>(selectCreator);

describe("compiledSelect", () => {
  it("answers a join with a nested table what drizzle's .get() answers, booleans and dates decoded", async () => {
    const { user } = await createUser();
    const org = await createOrg(user);
    await getDb(env).update(organizations).set({ requireMfa: true }).where(eq(organizations.id, org.id));
    const session = openDatabaseSession(env.DB, "first-primary");
    const compiled = await membership.get(session, { organizationId: org.id, userId: user.id });
    const viaDrizzle = await session.db
      .select({ organization: organizations, role: memberships.role })
      .from(memberships)
      .innerJoin(organizations, eq(organizations.id, memberships.organizationId))
      .where(and(eq(memberships.organizationId, org.id), eq(memberships.userId, user.id)))
      .get();
    expect(compiled).toEqual(viaDrizzle);
    expect(compiled?.role).toBe("owner");
    expect(compiled?.organization.requireMfa).toBe(true);
    expect(compiled?.organization.isPersonal).toBe(false);
    expect(compiled?.organization.createdAt).toBeInstanceOf(Date);
    expect(Object.keys(compiled?.organization ?? {}).sort()).toEqual(
      Object.keys(getTableColumns(organizations)).sort(),
    );
  });

  it("answers undefined for someone else's organization, a made-up id and SQL in a value", async () => {
    const { user: owner } = await createUser();
    const { user: stranger } = await createUser();
    const org = await createOrg(owner);
    const session = openDatabaseSession(env.DB, "first-primary");
    expect(await membership.get(session, { organizationId: org.id, userId: stranger.id })).toBeUndefined();
    expect(
      await membership.get(session, { organizationId: crypto.randomUUID(), userId: owner.id }),
    ).toBeUndefined();
    for (const hostile of [`' or '1'='1`, `${org.id}' --`, "%", ""]) {
      expect(await membership.get(session, { organizationId: hostile, userId: owner.id })).toBeUndefined();
      expect(await membership.get(session, { organizationId: org.id, userId: hostile })).toBeUndefined();
    }
  });

  it("answers null for a left-joined table with no row, as drizzle does, and the row when there is one", async () => {
    const { user: lone } = await createUser();
    const { user: founder } = await createUser();
    const org = await createOrg(founder);
    const session = openDatabaseSession(env.DB, "first-primary");
    const viaDrizzle = (id: string) =>
      session.db
        .select({ user: { id: users.id, email: users.email }, organization: organizations })
        .from(users)
        .leftJoin(organizations, eq(organizations.createdBy, users.id))
        .where(eq(users.id, id))
        .get();
    const none = await creator.get(session, { id: lone.id });
    expect(none).toEqual(await viaDrizzle(lone.id));
    expect(none?.organization).toBeNull();
    const some = await creator.get(session, { id: founder.id });
    expect(some).toEqual(await viaDrizzle(founder.id));
    expect(some?.organization?.id).toBe(org.id);
  });

  it("builds its statement once, binds only values, and runs in the unit of work's session", async () => {
    const first = membership.toSQL({ organizationId: "a", userId: "b" });
    const second = membership.toSQL({ organizationId: "c", userId: "d" });
    expect(first.sql).toBe(second.sql);
    expect(first.sql).toMatch(/inner join "organizations"/);
    expect(first.params).toEqual(["a", "b", 1]);
    expect(second.params).toEqual(["c", "d", 1]);
    await expect(
      membership.get(openDatabaseSession(env.DB, "first-primary"), { organizationId: "a" } as {
        organizationId: string;
        userId: string;
      }),
    ).rejects.toThrow(/placeholder "userId"/);

    const { user } = await createUser();
    const org = await createOrg(user);
    const session = openDatabaseSession(env.DB, "first-primary");
    expect(session.bookmark()).toBeNull();
    expect(await membership.get(session, { organizationId: org.id, userId: user.id })).toMatchObject({
      role: "owner",
    });
    expect(session.bookmark()).toMatch(BOOKMARK_SHAPE);
  });
});
