/**
 * /admin/v1/users and /admin/v1/organizations: staff list, read, enable/disable,
 * grant/remove staff, sign out and erase accounts. Each write leaves exactly one
 * audit row (found by the request's X-Request-Id) with the right before/after.
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../src/db/client";
import { sessions, type User, users } from "../src/db/schema";
import type { UserDto } from "../src/modules/users/users.schemas";
import { staffCall } from "./support/audit";
import { createStaff, createUser, loginAs, signIn } from "./support/factories";
import { api, as, jsonOf, type Page, problemOf } from "./support/http";
import { addMember, createOrg } from "./support/orgs";

const db = getDb(env);

let staffUser: User;
let staffToken: string;

beforeAll(async () => {
  staffUser = (await createStaff()).user;
  staffToken = (await signIn(staffUser)).accessToken;
});

describe("GET /admin/v1/users", () => {
  it("searches, filters and sorts every account", async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    await createUser({ email: `zed-${tag}@example.test`, isActive: false });
    await createUser({ email: `amy-${tag}@example.test`, emailVerifiedAt: new Date() });
    const staff = as(staffToken);
    const all = await jsonOf<Page<UserDto>>(await staff.get(`/admin/v1/users?q=${tag}&sort=email`), 200);
    expect(all.data.map((u) => u.email)).toEqual([`amy-${tag}@example.test`, `zed-${tag}@example.test`]);
    const disabled = await jsonOf<Page<UserDto>>(
      await staff.get(`/admin/v1/users?q=${tag}&filter[is_active]=false`),
      200,
    );
    expect(disabled.data.map((u) => u.email)).toEqual([`zed-${tag}@example.test`]);
    const problem = await problemOf(await staff.get("/admin/v1/users?filter[password_hash]=x"), 400);
    expect(problem.errors?.[0]?.parameter).toBe("filter[password_hash]");
  });
});

describe("GET /admin/v1/users/{id}", () => {
  it("shows the account with its live sessions and memberships, never a password hash", async () => {
    const { user } = await createUser();
    await signIn(user);
    await signIn(user);
    const org = await createOrg(user, { name: "Zeta Labs" });
    const body = await jsonOf<Record<string, unknown>>(
      await as(staffToken).get(`/admin/v1/users/${user.id}`),
      200,
    );
    expect(body).toMatchObject({
      id: user.id,
      email: user.email,
      active_sessions: 2,
      organizations: [{ id: org.id, name: "Zeta Labs", slug: org.slug, role: "owner" }],
    });
    expect(JSON.stringify(body)).not.toMatch(/scrypt|password/);
  });

  it("answers 404 for an unknown id and 400 naming a malformed one", async () => {
    await problemOf(await as(staffToken).get(`/admin/v1/users/${crypto.randomUUID()}`), 404);
    const problem = await problemOf(await as(staffToken).get("/admin/v1/users/not-a-uuid"), 400);
    expect(problem.errors?.[0]).toMatchObject({ parameter: "id", location: "path" });
  });
});

describe("PATCH /admin/v1/users/{id}", () => {
  it("disables an account: one audit row, every session revoked at once, sign-in refused", async () => {
    const member = await createUser();
    const device = await signIn(member.user);
    expect((await as(device.accessToken).get("/api/v1/users/me")).status).toBe(200);

    const { res, audit } = await staffCall(staffToken, "PATCH", `/admin/v1/users/${member.user.id}`, {
      is_active: false,
    });
    expect(await jsonOf<UserDto>(res, 200)).toMatchObject({ id: member.user.id, is_active: false });
    const rows = await audit();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      actorType: "user",
      actorId: staffUser.id,
      action: "user.update",
      targetType: "user",
      targetId: member.user.id,
      before: { is_active: true, is_staff: false },
      after: { is_active: false, is_staff: false },
    });

    expect((await problemOf(await as(device.accessToken).get("/api/v1/users/me"), 401)).code).toBe(
      "invalid_token",
    );
    const [session] = await db.select().from(sessions).where(eq(sessions.id, device.sessionId));
    expect(session?.revokedReason).toBe("account_disabled");
    const login = await api("POST", "/api/v1/auth/login", {
      body: { email: member.email, password: member.password },
    });
    expect((await problemOf(login, 403)).code).toBe("account_disabled");
  });

  it("grants staff: the old token (is_staff=false inside) is revoked, a new sign-in carries staff", async () => {
    const member = await createUser();
    const device = await signIn(member.user);
    await problemOf(await as(device.accessToken).get("/admin/v1/summary"), 403);

    const { res, audit } = await staffCall(staffToken, "PATCH", `/admin/v1/users/${member.user.id}`, {
      is_staff: true,
    });
    expect(await jsonOf<UserDto>(res, 200)).toMatchObject({ is_staff: true, is_active: true });
    expect((await audit())[0]).toMatchObject({
      before: { is_active: true, is_staff: false },
      after: { is_active: true, is_staff: true },
    });
    await problemOf(await as(device.accessToken).get("/admin/v1/summary"), 401);
    const fresh = await loginAs(member);
    expect((await as(fresh.access_token).get("/admin/v1/summary")).status).toBe(200);
  });

  it("changes and records nothing when the values are already set", async () => {
    const { user } = await createUser();
    const device = await signIn(user);
    const { res, audit } = await staffCall(staffToken, "PATCH", `/admin/v1/users/${user.id}`, {
      is_active: true,
      is_staff: false,
    });
    await jsonOf(res, 200);
    expect(await audit()).toHaveLength(0);
    expect((await as(device.accessToken).get("/api/v1/users/me")).status).toBe(200);
  });

  it("refuses to let staff disable or demote themselves", async () => {
    for (const body of [{ is_active: false }, { is_staff: false }]) {
      const { res, audit } = await staffCall(staffToken, "PATCH", `/admin/v1/users/${staffUser.id}`, body);
      expect((await problemOf(res, 403)).code).toBe("self_modification");
      expect(await audit()).toHaveLength(0);
    }
  });

  it("answers 400 naming the field for bad bodies, and 404 for unknown users", async () => {
    const { user } = await createUser();
    const cases: Array<[unknown, string]> = [
      [{}, ""],
      [{ is_active: "no" }, "/is_active"],
      [{ is_staff: true, email: "x@example.com" }, ""],
      [{ is_active: null }, "/is_active"],
    ];
    for (const [body, pointer] of cases) {
      const problem = await problemOf(
        (await staffCall(staffToken, "PATCH", `/admin/v1/users/${user.id}`, body)).res,
        400,
      );
      expect(problem.code, JSON.stringify(body)).toBe("validation_failed");
      if (pointer)
        expect(
          problem.errors?.map((e) => e.pointer),
          JSON.stringify(body),
        ).toContain(pointer);
    }
    const unknown = await staffCall(staffToken, "PATCH", `/admin/v1/users/${crypto.randomUUID()}`, {
      is_active: false,
    });
    await problemOf(unknown.res, 404);
    expect(await unknown.audit()).toHaveLength(0);
  });
});

describe("POST /admin/v1/users/{id}/revoke-sessions", () => {
  it("signs the account out everywhere, with one audit row in the same batch", async () => {
    const { user } = await createUser();
    const [a, b] = [await signIn(user), await signIn(user)];
    const { res, audit } = await staffCall(staffToken, "POST", `/admin/v1/users/${user.id}/revoke-sessions`);
    expect(await jsonOf(res, 200)).toEqual({ revoked_sessions: 2 });
    const rows = await audit();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      action: "user.sessions_revoke",
      targetId: user.id,
      before: { active_sessions: 2 },
      after: { active_sessions: 0 },
    });
    for (const device of [a, b]) await problemOf(await as(device.accessToken).get("/api/v1/users/me"), 401);
    await problemOf(
      (await staffCall(staffToken, "POST", `/admin/v1/users/${crypto.randomUUID()}/revoke-sessions`)).res,
      404,
    );
  });
});

describe("DELETE /admin/v1/users/{id}", () => {
  it("erases the account; the audit row survives it and keeps no email", async () => {
    const { user, email } = await createUser();
    const device = await signIn(user);
    const { res, audit } = await staffCall(staffToken, "DELETE", `/admin/v1/users/${user.id}`);
    expect(res.status).toBe(204);
    expect(await db.select().from(users).where(eq(users.id, user.id))).toEqual([]);
    await problemOf(await as(device.accessToken).get("/api/v1/users/me"), 401);
    const rows = await audit();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ action: "user.delete", targetId: user.id, after: null });
    expect(rows[0]?.before).toMatchObject({ id: user.id, is_active: true, is_staff: false });
    expect(JSON.stringify(rows[0])).not.toContain(email);
    await problemOf((await staffCall(staffToken, "DELETE", `/admin/v1/users/${user.id}`)).res, 404);
  });

  it("refuses to let staff delete themselves", async () => {
    const { res, audit } = await staffCall(staffToken, "DELETE", `/admin/v1/users/${staffUser.id}`);
    expect((await problemOf(res, 403)).code).toBe("self_modification");
    expect(await audit()).toHaveLength(0);
  });
});

describe("organizations", () => {
  it("lists every organization with member counts, searchable and filterable", async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    const owner = (await createUser()).user;
    const org = await createOrg(owner, { name: `Acme ${tag}` });
    await addMember(org, (await createUser()).user, "member");
    const page = await jsonOf<Page<{ id: string; member_count: number; is_personal: boolean }>>(
      await as(staffToken).get(`/admin/v1/organizations?q=${tag}&filter[is_personal]=false`),
      200,
    );
    expect(page.data).toEqual([expect.objectContaining({ id: org.id, member_count: 2, is_personal: false })]);
    await problemOf(await as(staffToken).get("/admin/v1/organizations?sort=slug"), 400);
  });

  it("reads one organization with its members, whoever staff is", async () => {
    const owner = (await createUser()).user;
    const member = (await createUser()).user;
    const org = await createOrg(owner);
    await addMember(org, member, "billing");
    const body = await jsonOf<{ members: Array<{ user_id: string; role: string }>; member_count: number }>(
      await as(staffToken).get(`/admin/v1/organizations/${org.id}`),
      200,
    );
    expect(body.member_count).toBe(2);
    expect(body.members.map((m) => [m.user_id, m.role])).toEqual([
      [owner.id, "owner"],
      [member.id, "billing"],
    ]);
    await problemOf(await as(staffToken).get(`/admin/v1/organizations/${crypto.randomUUID()}`), 404);
  });
});
