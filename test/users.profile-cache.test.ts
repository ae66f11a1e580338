/**
 * GET /users/me from the isolate's memory (src/modules/users/profile-cache.ts): held to the
 * promise of a read without a bookmark (a replica's), never looser. Requests go through the
 * Worker's handler in this isolate (apiWith) so a faked clock applies to its code, with a D1
 * binding that counts the statements run on `users`.
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { D1_BOOKMARK_HEADER } from "../src/db/bookmarks";
import { getDb } from "../src/db/client";
import { users } from "../src/db/schema";
import { noteStatement, tableWriteGeneration } from "../src/db/table-writes";
import type { Bindings } from "../src/env";
import { ExpiringMap } from "../src/lib/expiring-set";
import { forgetCachedProfiles, PROFILE_CACHE_MS } from "../src/modules/users/profile-cache";
import type { UserDto } from "../src/modules/users/users.schemas";
import { person } from "./support/factories";
import { apiWith, jsonOf, problemOf } from "./support/http";

/** The real local D1, counting the reads of `users` its sessions prepare. */
function countingD1() {
  const reads: string[] = [];
  const binding = {
    withSession(start: string) {
      const session = env.DB.withSession(start);
      return {
        prepare(query: string) {
          if (/^select .* from "users"/i.test(query)) reads.push(query);
          return session.prepare(query);
        },
        batch: (statements: D1PreparedStatement[]) => session.batch(statements),
        getBookmark: () => session.getBookmark(),
      };
    },
  };
  return { DB: binding as unknown as D1Database, reads };
}

/** GET /users/me through the Worker in this isolate, with `vars` over the bindings. */
const profileOf = async (token: string, vars: Partial<Bindings> = {}, headers: Record<string, string> = {}) =>
  jsonOf<UserDto>(await apiWith(vars, "GET", "/api/v1/users/me", { token, headers }), 200);

const rename = (userId: string, firstName: string) =>
  getDb(env).update(users).set({ firstName }).where(eq(users.id, userId));

beforeEach(() => forgetCachedProfiles());
afterEach(() => vi.useRealTimers());

describe("GET /users/me from memory", () => {
  it("reads the row once, then answers from memory within PROFILE_CACHE_MS", async () => {
    const ada = await person({ firstName: "Ada" });
    const d1 = countingD1();
    for (let i = 0; i < 3; i++) {
      const me = await profileOf(ada.token, { DB: d1.DB });
      expect(me).toMatchObject({ id: ada.user.id, first_name: "Ada" });
    }
    expect(d1.reads).toHaveLength(1);
  });

  it("answers this isolate's own write at once, without a bookmark", async () => {
    const ada = await person({ firstName: "Ada" });
    const d1 = countingD1();
    await apiWith({ DB: d1.DB }, "GET", "/api/v1/users/me", { token: ada.token });
    const patched = await apiWith({ DB: d1.DB }, "PATCH", "/api/v1/users/me", {
      token: ada.token,
      body: { first_name: "Augusta" },
    });
    expect(patched.status).toBe(200);
    const me = await profileOf(ada.token, { DB: d1.DB });
    expect(me.first_name).toBe("Augusta");
  });

  it("any write to users in this isolate makes every remembered row stale (a sign-in's last_login_at too)", async () => {
    const [ada, alan] = [await person({ firstName: "Ada" }), await person({ firstName: "Alan" })];
    const d1 = countingD1();
    await apiWith({ DB: d1.DB }, "GET", "/api/v1/users/me", { token: ada.token });
    await rename(ada.user.id, "changed elsewhere");
    // A sign-in of somebody else, through the API: it writes users.last_login_at in this isolate.
    const login = await apiWith({ DB: d1.DB }, "POST", "/api/v1/auth/login", {
      body: { email: alan.user.email, password: alan.password },
    });
    expect(login.status).toBe(200);
    const me = await profileOf(ada.token, { DB: d1.DB });
    expect(me.first_name).toBe("changed elsewhere");
  });

  it("a write this isolate did not make shows after at most PROFILE_CACHE_MS", async () => {
    const ada = await person({ firstName: "Ada" });
    vi.useFakeTimers({ toFake: ["Date"] });
    await apiWith({}, "GET", "/api/v1/users/me", { token: ada.token });
    // As another isolate, a script or `wrangler d1 execute` would: around this isolate's sessions.
    await env.DB.prepare("UPDATE users SET first_name = 'Elsewhere' WHERE id = ?").bind(ada.user.id).run();
    vi.setSystemTime(Date.now() + PROFILE_CACHE_MS - 1);
    const within = await profileOf(ada.token);
    expect(within.first_name).toBe("Ada");
    vi.setSystemTime(Date.now() + 1);
    const after = await profileOf(ada.token);
    expect(after.first_name).toBe("Elsewhere");
  });

  it("a client that sends X-D1-Bookmark reads D1, never memory", async () => {
    const ada = await person({ firstName: "Ada" });
    const first = await apiWith({}, "GET", "/api/v1/users/me", { token: ada.token });
    const bookmark = first.headers.get(D1_BOOKMARK_HEADER);
    expect(bookmark).not.toBeNull();
    await env.DB.prepare("UPDATE users SET first_name = 'Elsewhere' WHERE id = ?").bind(ada.user.id).run();
    const d1 = countingD1();
    const me = await profileOf(ada.token, { DB: d1.DB }, { [D1_BOOKMARK_HEADER]: bookmark as string });
    expect(me.first_name).toBe("Elsewhere");
    expect(d1.reads).toHaveLength(1);
  });
});

describe("what memory never decides", () => {
  it("each token gets its own account's row, however the requests interleave", async () => {
    const people = [
      await person({ firstName: "Ada" }),
      await person({ firstName: "Alan" }),
      await person({ firstName: "Grace" }),
    ];
    for (let round = 0; round < 3; round++) {
      for (const someone of people) {
        const me = await profileOf(someone.token);
        expect(me.id).toBe(someone.user.id);
        expect(me.email).toBe(someone.user.email);
      }
    }
  });

  it("a signed-out session is refused though its account's row is remembered", async () => {
    const ada = await person();
    expect((await apiWith({}, "GET", "/api/v1/users/me", { token: ada.token })).status).toBe(200);
    expect((await apiWith({}, "POST", "/api/v1/auth/logout", { token: ada.token })).status).toBe(204);
    const res = await apiWith({}, "GET", "/api/v1/users/me", { token: ada.token });
    expect((await problemOf(res, 401)).code).toBe("invalid_token");
  });

  it("a deleted account's token is refused though its row was remembered", async () => {
    const ada = await person();
    expect((await apiWith({}, "GET", "/api/v1/users/me", { token: ada.token })).status).toBe(200);
    const deleted = await apiWith({}, "DELETE", "/api/v1/users/me", { token: ada.token });
    expect(deleted.status).toBe(204);
    expect((await apiWith({}, "GET", "/api/v1/users/me", { token: ada.token })).status).toBe(401);
  });
});

describe("which statements count as writes (src/db/table-writes.ts)", () => {
  it.each([
    ['insert into "users" ("id") values (?)', true],
    ['insert or ignore into "users" ("id") values (?)', true],
    ['update "users" set "first_name" = ? where "users"."id" = ?', true],
    ['delete from "users" where "users"."id" = ?', true],
    ["UPDATE users SET first_name = 'x'", true],
    ['with "x" as (select 1) update "sessions" set "revoked_at" = ?', true],
    ['select "id" from "users" where "users"."id" = ?', false],
    ['update "user_identities" set "email" = ?', false],
    ['insert into "sessions" ("user_id") select "id" from "users"', false],
  ])("%s → a write to users: %s", (statement, counts) => {
    const before = tableWriteGeneration("users");
    noteStatement(statement);
    expect(tableWriteGeneration("users") !== before).toBe(counts);
  });
});

describe("ExpiringMap", () => {
  it("forgets an entry at its moment, and keeps at most `limit` entries, the oldest going first", () => {
    const map = new ExpiringMap<number>(2);
    map.set("a", 1, 100, 0);
    expect(map.get("a", 99)).toBe(1);
    expect(map.get("a", 100)).toBeUndefined();
    map.set("a", 1, 100, 0);
    map.set("b", 2, 100, 0);
    map.set("c", 3, 100, 0);
    expect(map.size).toBe(2);
    expect([map.get("a", 1), map.get("b", 1), map.get("c", 1)]).toEqual([undefined, 2, 3]);
  });
});
