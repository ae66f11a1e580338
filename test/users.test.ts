/**
 * Profiles, devices and the staff directory, through HTTP, with the shared
 * security suite on every protected route.
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../src/db/client";
import { sessions, users } from "../src/db/schema";
import { uniqueViolation } from "../src/modules/auth/accounts";
import { forgetCachedProfiles } from "../src/modules/users/profile-cache";
import type { SessionDto, UserDto } from "../src/modules/users/users.schemas";
import {
  createStaff,
  createUser,
  DEFAULT_PASSWORD,
  signIn,
  type TestUser,
  type Tokens,
} from "./support/factories";
import { api, as, fieldsOf, jsonOf, type Page, problemOf } from "./support/http";
import { securitySuite } from "./support/security";

const db = getDb(env);

describe("GET /users/me", () => {
  it("answers the profile in the documented shape, avatar_url derived from the avatar key", async () => {
    const { user } = await createUser({ firstName: "Alan", lastName: "Turing" });
    const tokens = await signIn(user);
    const profile = await jsonOf<UserDto>(await as(tokens.accessToken).get("/api/v1/users/me"), 200);
    expect(Object.keys(profile).sort()).toEqual(
      [
        "avatar_url",
        "birth_date",
        "created_at",
        "email",
        "email_verified",
        "first_name",
        "id",
        "is_active",
        "is_staff",
        "last_login_at",
        "last_name",
        "notification_preferences",
        "phone_number",
        "updated_at",
        "username",
      ].sort(),
    );
    expect(profile).toMatchObject({
      id: user.id,
      first_name: "Alan",
      avatar_url: null,
      email_verified: false,
    });
    expect(JSON.stringify(profile)).not.toMatch(/password|scrypt/);

    await db
      .update(users)
      .set({ avatarKey: `avatars/${user.id}/a.png`, emailVerifiedAt: new Date() })
      .where(eq(users.id, user.id));
    // Written around the API: this isolate's remembered profile would hide it for PROFILE_CACHE_MS.
    forgetCachedProfiles();
    const after = await jsonOf<UserDto>(await as(tokens.accessToken).get("/api/v1/users/me"), 200);
    expect(after.avatar_url).toBe(`/api/v1/users/${user.id}/avatar`);
    expect(after.email_verified).toBe(true);
  });
});

describe("PATCH /users/me", () => {
  let account: TestUser;
  let tokens: Tokens;
  beforeAll(async () => {
    account = await createUser();
    tokens = await signIn(account.user);
    await createUser({ username: "Taken_Handle" });
  });
  const patch = (body: unknown) => as(tokens.accessToken).patch("/api/v1/users/me", { body });

  it("changes only the fields sent, and merges notification preferences", async () => {
    const first = await jsonOf<UserDto>(
      await patch({
        username: "New_Handle",
        first_name: "  Katherine ",
        last_name: "Johnson",
        phone_number: "+14155550123",
        birth_date: "1918-08-26",
        notification_preferences: { task_completed: { in_app: true, email: false } },
      }),
      200,
    );
    expect(first).toMatchObject({
      username: "New_Handle",
      first_name: "Katherine",
      last_name: "Johnson",
      phone_number: "+14155550123",
      birth_date: "1918-08-26",
      notification_preferences: { task_completed: { in_app: true, email: false, push: false } },
    });
    const second = await jsonOf<UserDto>(
      await patch({
        notification_preferences: {
          task_completed: { email: true },
          org_invitation: { in_app: false },
          new_comment: { push: false },
        },
      }),
      200,
    );
    // org_invitation was never set: the channels left out keep their defaults (no email, push).
    expect(second.notification_preferences).toEqual({
      task_completed: { in_app: true, email: true, push: false },
      org_invitation: { in_app: false, email: false, push: true },
      new_comment: { in_app: true, email: false, push: false },
    });
    expect(second.first_name).toBe("Katherine");
    const cleared = await jsonOf<UserDto>(await patch({ phone_number: null, username: null }), 200);
    expect(cleared).toMatchObject({ phone_number: null, username: null, last_name: "Johnson" });
  });

  it("refuses a username taken in any letter case with 409", async () => {
    const problem = await problemOf(await patch({ username: "taken_handle" }), 409);
    expect(problem).toMatchObject({ code: "username_taken", errors: [{ pointer: "/username" }] });
  });

  it.each([
    ["a phone number that is not E.164", { phone_number: "0412 345 678" }, "/phone_number"],
    ["a phone number too long", { phone_number: "+1234567890123456" }, "/phone_number"],
    ["a birth date in the future", { birth_date: "2999-01-01" }, "/birth_date"],
    ["a birth date that does not exist", { birth_date: "2023-02-29" }, "/birth_date"],
    ["a birth date in another format", { birth_date: "26/08/1918" }, "/birth_date"],
    ["the email (not changeable here)", { email: "other@example.test" }, "/email"],
    ["a self-granted staff flag", { is_staff: true }, "/is_staff"],
    ["a password", { password: "sneaky new password" }, "/password"],
    ["a first name as a number", { first_name: 42 }, "/first_name"],
    [
      "a notification type that does not exist",
      { notification_preferences: { "task.done": { email: true } } },
      "/notification_preferences/task.done",
    ],
    [
      "a preference with a string flag",
      { notification_preferences: { task_failed: { email: "yes" } } },
      "/notification_preferences/task_failed/email",
    ],
    [
      "an unknown channel",
      { notification_preferences: { task_failed: { sms: true } } },
      "/notification_preferences/task_failed/sms",
    ],
  ])("refuses %s with 400 naming the field", async (_label, body, pointer) => {
    const problem = await problemOf(await patch(body), 400);
    expect(fieldsOf(problem)).toEqual([pointer]);
  });

  it("treats an empty object as no change, and refuses a non-object and malformed JSON", async () => {
    const unchanged = await jsonOf<UserDto>(await patch({}), 200);
    expect(unchanged.last_name).toBe("Johnson");
    expect((await problemOf(await patch([1, 2]), 400)).code).toBe("validation_failed");
    const malformed = await api("PATCH", "/api/v1/users/me", {
      token: tokens.accessToken,
      rawBody: "{",
      headers: { "content-type": "application/json" },
    });
    expect((await problemOf(malformed, 400)).code).toBe("malformed_json");
  });
});

describe("unique indexes", () => {
  it("are recognised in D1's errors, so a race between two sign-ups is a 409 and not a 500", async () => {
    const first = await createUser({ email: "race@example.test", username: "Racer" });
    const insertCopy = (fields: Partial<typeof users.$inferInsert>) =>
      db
        .insert(users)
        .values({ email: `copy-${crypto.randomUUID()}@example.test`, ...fields })
        .then(
          () => null,
          (error: unknown) => error,
        );
    expect(uniqueViolation(await insertCopy({ email: first.email }))).toBe("email");
    expect(uniqueViolation(await insertCopy({ username: "RACER" }))).toBe("username");
    expect(uniqueViolation(new Error("something else"))).toBeNull();
  });
});

describe("devices: GET /users/me/sessions and DELETE /users/me/sessions/{id}", () => {
  let owner: TestUser;
  let stranger: TestUser;
  let laptop: Tokens;
  let phone: Tokens;
  let strangerTokens: Tokens;
  beforeAll(async () => {
    owner = await createUser();
    stranger = await createUser();
    laptop = await signIn(owner.user, {
      userAgent: "Mozilla/5.0 (Macintosh)",
      ip: "203.0.113.5",
      country: "GB",
      city: "London",
    });
    phone = await signIn(owner.user, {
      userAgent: "Mobile Safari",
      ip: "198.51.100.7",
      country: "FR",
      city: "Paris",
    });
    strangerTokens = await signIn(stranger.user);
  });

  it("lists my live sessions with the device facts and marks the current one", async () => {
    const page = await jsonOf<Page<SessionDto>>(
      await as(laptop.accessToken).get("/api/v1/users/me/sessions"),
      200,
    );
    expect(page.meta.total).toBe(2);
    const byId = new Map(page.data.map((session) => [session.id, session]));
    expect(byId.get(laptop.sessionId)).toMatchObject({
      user_agent: "Mozilla/5.0 (Macintosh)",
      ip: "203.0.113.5",
      country: "GB",
      city: "London",
      current: true,
    });
    expect(byId.get(phone.sessionId)).toMatchObject({ country: "FR", city: "Paris", current: false });
    expect(byId.has(strangerTokens.sessionId)).toBe(false);
  });

  it("pages with a cursor and a Link header", async () => {
    const first = await as(laptop.accessToken).get("/api/v1/users/me/sessions?limit=1&sort=created_at");
    const page = await jsonOf<Page<SessionDto>>(first, 200);
    expect(page.data.map((s) => s.id)).toEqual([laptop.sessionId]);
    expect(first.headers.get("link")).toContain('rel="next"');
    const next = await jsonOf<Page<SessionDto>>(
      await as(laptop.accessToken).get(
        `/api/v1/users/me/sessions?limit=1&sort=created_at&cursor=${page.meta.next ?? ""}`,
      ),
      200,
    );
    expect(next.data.map((s) => s.id)).toEqual([phone.sessionId]);
    expect(next.meta.next).toBeNull();
  });

  it("answers 404 for another user's session and changes nothing", async () => {
    const res = await as(laptop.accessToken).delete(`/api/v1/users/me/sessions/${strangerTokens.sessionId}`);
    expect((await problemOf(res, 404)).code).toBe("not_found");
    expect((await as(strangerTokens.accessToken).get("/api/v1/users/me")).status).toBe(200);
    const [row] = await db.select().from(sessions).where(eq(sessions.id, strangerTokens.sessionId));
    expect(row?.revokedAt).toBeNull();
  });

  it("signs a device out: its tokens stop working at once, mine keep working", async () => {
    expect((await as(laptop.accessToken).delete(`/api/v1/users/me/sessions/${phone.sessionId}`)).status).toBe(
      204,
    );
    expect((await as(phone.accessToken).get("/api/v1/users/me")).status).toBe(401);
    const refreshed = await api("POST", "/api/v1/auth/refresh", {
      body: { refresh_token: phone.refreshToken },
    });
    expect(refreshed.status).toBe(401);
    expect((await as(laptop.accessToken).get("/api/v1/users/me")).status).toBe(200);
    // Already revoked: no longer one of my devices.
    expect((await as(laptop.accessToken).delete(`/api/v1/users/me/sessions/${phone.sessionId}`)).status).toBe(
      404,
    );
    const page = await jsonOf<Page<SessionDto>>(
      await as(laptop.accessToken).get("/api/v1/users/me/sessions"),
      200,
    );
    expect(page.data.map((s) => s.id)).toEqual([laptop.sessionId]);
  });

  it("answers a malformed session id with 400 and a bad sort with 400", async () => {
    const badId = await problemOf(
      await as(laptop.accessToken).delete("/api/v1/users/me/sessions/not-a-uuid"),
      400,
    );
    expect(fieldsOf(badId)).toEqual(["id"]);
    const badSort = await problemOf(
      await as(laptop.accessToken).get("/api/v1/users/me/sessions?sort=ip"),
      400,
    );
    expect(fieldsOf(badSort)).toEqual(["sort"]);
  });
});

describe("DELETE /users/me", () => {
  it("erases the account and its sessions, and refuses its tokens at once", async () => {
    const account = await createUser();
    const [one, two] = [await signIn(account.user), await signIn(account.user)];
    expect((await as(one.accessToken).delete("/api/v1/users/me")).status).toBe(204);
    for (const tokens of [one, two]) {
      expect((await as(tokens.accessToken).get("/api/v1/users/me")).status).toBe(401);
    }
    expect(await db.select().from(users).where(eq(users.id, account.user.id))).toEqual([]);
    expect(await db.select().from(sessions).where(eq(sessions.userId, account.user.id))).toEqual([]);
    const login = await api("POST", "/api/v1/auth/login", {
      body: { email: account.email, password: DEFAULT_PASSWORD },
    });
    expect((await problemOf(login, 401)).code).toBe("invalid_credentials");
  });
});

describe("staff directory: GET /users and GET /users/{id}", () => {
  let staffTokens: Tokens;
  let memberTokens: Tokens;
  let member: TestUser;
  const people: TestUser[] = [];
  beforeAll(async () => {
    const staff = await createStaff({ email: "staff-zed@directory.test", firstName: "Zed" });
    staffTokens = await signIn(staff.user);
    member = await createUser({ email: "member@directory.test" });
    memberTokens = await signIn(member.user);
    for (const [email, firstName, verified] of [
      ["ada@directory.test", "Ada", true],
      ["bob@directory.test", "Bob", false],
      ["carol_50%@directory.test", "Carol", true],
    ] as const) {
      people.push(await createUser({ email, firstName, emailVerifiedAt: verified ? new Date() : null }));
    }
  });

  const list = (query: string) => as(staffTokens.accessToken).get(`/api/v1/users${query}`);

  it("lists every account for staff, newest first", async () => {
    const page = await jsonOf<Page<UserDto>>(await list(""), 200);
    expect(page.meta.total).toBeGreaterThanOrEqual(5);
    const created = page.data.map((user) => user.created_at);
    expect([...created].sort().reverse()).toEqual(created);
  });

  it("searches email, username and names, case-insensitively, with % taken literally", async () => {
    const byName = await jsonOf<Page<UserDto>>(await list("?q=aDa"), 200);
    expect(byName.data.map((user) => user.email)).toEqual(["ada@directory.test"]);
    const literal = await jsonOf<Page<UserDto>>(await list(`?q=${encodeURIComponent("50%")}`), 200);
    expect(literal.data.map((user) => user.email)).toEqual(["carol_50%@directory.test"]);
    const none = await jsonOf<Page<UserDto>>(
      await list(`?q=${encodeURIComponent("%")}&filter[is_staff]=false`),
      200,
    );
    expect(none.data.map((user) => user.email)).toEqual(["carol_50%@directory.test"]);
  });

  it("filters and sorts by the documented allowlists", async () => {
    const staffOnly = await jsonOf<Page<UserDto>>(await list("?filter[is_staff]=true"), 200);
    expect(staffOnly.data.every((user) => user.is_staff)).toBe(true);
    expect(staffOnly.data.map((user) => user.email)).toContain("staff-zed@directory.test");

    const verified = await jsonOf<Page<UserDto>>(
      await list("?q=directory.test&filter[email_verified]=true"),
      200,
    );
    expect(verified.data.map((user) => user.email).sort()).toEqual([
      "ada@directory.test",
      "carol_50%@directory.test",
    ]);

    const sorted = await jsonOf<Page<UserDto>>(await list("?q=directory.test&sort=email&limit=2"), 200);
    expect(sorted.data.map((user) => user.email)).toEqual(["ada@directory.test", "bob@directory.test"]);
    expect(sorted.meta.total).toBe(5);
    const rest = await jsonOf<Page<UserDto>>(
      await list(`?q=directory.test&sort=email&limit=2&cursor=${sorted.meta.next ?? ""}`),
      200,
    );
    expect(rest.data.map((user) => user.email)).toEqual([
      "carol_50%@directory.test",
      "member@directory.test",
    ]);
  });

  it.each([
    ["an unknown filter", "?filter[password_hash]=x", "filter[password_hash]"],
    ["an unknown sort", "?sort=last_name", "sort"],
    ["a bad boolean", "?filter[is_active]=maybe", "filter[is_active]"],
    ["a limit over 100", "?limit=101", "limit"],
  ])("refuses %s with 400 naming the parameter", async (_label, query, parameter) => {
    expect(fieldsOf(await problemOf(await list(query), 400))).toEqual([parameter]);
  });

  it("reads one account for staff, and 404 for an id that does not exist", async () => {
    const target = people[0] as TestUser;
    const one = await jsonOf<UserDto>(
      await as(staffTokens.accessToken).get(`/api/v1/users/${target.user.id}`),
      200,
    );
    expect(one.email).toBe("ada@directory.test");
    const missing = await as(staffTokens.accessToken).get(`/api/v1/users/${crypto.randomUUID()}`);
    expect((await problemOf(missing, 404)).code).toBe("not_found");
  });

  it("lets anyone read their own account by id, and no one else's", async () => {
    const own = await as(memberTokens.accessToken).get(`/api/v1/users/${member.user.id}`);
    expect((await jsonOf<UserDto>(own, 200)).id).toBe(member.user.id);
    const other = await as(memberTokens.accessToken).get(`/api/v1/users/${(people[0] as TestUser).user.id}`);
    expect((await problemOf(other, 403)).code).toBe("forbidden");
    // Whether the id exists or not: a non-staff caller learns nothing.
    const ghost = await as(memberTokens.accessToken).get(`/api/v1/users/${crypto.randomUUID()}`);
    expect(ghost.status).toBe(403);
  });

  securitySuite("GET /api/v1/users", {
    method: "GET",
    path: "/api/v1/users",
    forbidden: async () => ({ authorization: `Bearer ${memberTokens.accessToken}` }),
  });
  securitySuite("GET /api/v1/users/{id}", {
    method: "GET",
    path: () => `/api/v1/users/${(people[0] as TestUser).user.id}`,
    forbidden: async () => ({ authorization: `Bearer ${memberTokens.accessToken}` }),
  });
});

securitySuite("GET /api/v1/users/me", { method: "GET", path: "/api/v1/users/me" });
securitySuite("PATCH /api/v1/users/me", {
  method: "PATCH",
  path: "/api/v1/users/me",
  body: { first_name: "X" },
});
securitySuite("DELETE /api/v1/users/me", { method: "DELETE", path: "/api/v1/users/me" });
securitySuite("GET /api/v1/users/me/sessions", { method: "GET", path: "/api/v1/users/me/sessions" });
securitySuite("DELETE /api/v1/users/me/sessions/{id}", {
  method: "DELETE",
  path: `/api/v1/users/me/sessions/${crypto.randomUUID()}`,
  notOwned: async () => {
    const [mine, theirs] = [await createUser(), await createUser()];
    const myTokens = await signIn(mine.user);
    const theirTokens = await signIn(theirs.user);
    return {
      path: `/api/v1/users/me/sessions/${theirTokens.sessionId}`,
      headers: { authorization: `Bearer ${myTokens.accessToken}` },
    };
  },
});
