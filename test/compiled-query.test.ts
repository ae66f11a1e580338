/**
 * src/db/compiled-query.ts: a whole-row read built into SQL once per isolate and run in the unit
 * of work's D1 session. What matters is that it answers exactly what the drizzle query it stands
 * for answers (every column, decoded the same way), that values are bound and never spliced into
 * the SQL, and that it stays inside the session (bookmark, table-write tracking, fallback).
 */
import { env } from "cloudflare:workers";
import { eq, getTableColumns, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb, openDatabaseSession } from "../src/db/client";
import { compiledRowQuery } from "../src/db/compiled-query";
import { users } from "../src/db/schema";
import { tableWriteGeneration } from "../src/db/table-writes";
import { findUserByEmail, findUserById } from "../src/modules/auth/accounts";
import { createUser, serviceContext } from "./support/factories";

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
