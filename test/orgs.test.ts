/**
 * Organizations and memberships through HTTP: create, list, read, rename,
 * delete, roles and the last-owner rule, the personal organization of every new
 * account, and what account erasure does to organizations.
 */
import { env } from "cloudflare:workers";
import { and, eq, is } from "drizzle-orm";
import { getTableConfig, SQLiteTable } from "drizzle-orm/sqlite-core";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import * as schema from "../src/db/schema";
import { apiKeys, invitations, memberships, organizations, users } from "../src/db/schema";
import { TENANT_TABLES } from "../src/db/tenant-databases";
import type { MemberDto, OrgDto } from "../src/modules/orgs/orgs.schemas";
import { slugify } from "../src/modules/orgs/orgs.service";
import { type AuthTokensBody, createUser, type Person, person } from "./support/factories";
import { api, as, fieldsOf, jsonOf, type Page, problemOf } from "./support/http";
import { addMember, createApiKey, createInvitation, createOrg } from "./support/orgs";
import { securitySuite } from "./support/security";

vi.setConfig({ testTimeout: 30_000 });

const db = getDb(env);
const membershipOf = (organizationId: string, userId: string) =>
  db
    .select()
    .from(memberships)
    .where(and(eq(memberships.organizationId, organizationId), eq(memberships.userId, userId)))
    .get();

describe("POST /orgs", () => {
  let me: Person;
  beforeAll(async () => {
    me = await person();
  });

  it("creates an organization owned by the caller, with Location and a slug derived from the name", async () => {
    const res = await me.api.post("/api/v1/orgs", { body: { name: "  Zoë's Café & Bar  " } });
    const org = await jsonOf<OrgDto>(res, 201);
    expect(res.headers.get("location")).toBe(`/api/v1/orgs/${org.id}`);
    expect(org).toMatchObject({
      name: "Zoë's Café & Bar",
      slug: "zoes-cafe-bar",
      role: "owner",
      is_personal: false,
    });
    expect((await membershipOf(org.id, me.user.id))?.role).toBe("owner");

    // The same name again gets a suffixed slug rather than a conflict.
    const again = await jsonOf<OrgDto>(
      await me.api.post("/api/v1/orgs", { body: { name: "Zoë's Café & Bar" } }),
      201,
    );
    expect(again.slug).toMatch(/^zoes-cafe-bar-[a-z0-9]{6}$/);
  });

  it("takes an explicit slug (lower-cased), and answers 409 slug_taken when it is in use", async () => {
    const org = await jsonOf<OrgDto>(
      await me.api.post("/api/v1/orgs", { body: { name: "Acme", slug: "ACME-Robotics" } }),
      201,
    );
    expect(org.slug).toBe("acme-robotics");
    const taken = await problemOf(
      await me.api.post("/api/v1/orgs", { body: { name: "Other", slug: "acme-robotics" } }),
      409,
    );
    expect(taken.code).toBe("slug_taken");
    expect(fieldsOf(taken)).toEqual(["/slug"]);
  });

  it("settles races on one slug by the unique index: one wins, the others get 409 or their own slug", async () => {
    const slug = `race-${crypto.randomUUID().slice(0, 8)}`;
    const explicit = await Promise.all(
      Array.from({ length: 5 }, () => me.api.post("/api/v1/orgs", { body: { name: "Race", slug } })),
    );
    expect(explicit.map((res) => res.status).sort()).toEqual([201, 409, 409, 409, 409]);
    const name = `Derived ${crypto.randomUUID().slice(0, 8)}`;
    const derived = await Promise.all(
      Array.from({ length: 5 }, () => me.api.post("/api/v1/orgs", { body: { name } })),
    );
    const slugs = await Promise.all(derived.map(async (res) => (await jsonOf<OrgDto>(res, 201)).slug));
    expect(new Set(slugs).size).toBe(5);
  });

  it.each([
    ["no name", {}, "/name"],
    ["an empty name", { name: "   " }, "/name"],
    ["a name over 120 characters", { name: "x".repeat(121) }, "/name"],
    ["a control character in the name", { name: "Acme\nInc" }, "/name"],
    ["a slug with spaces", { name: "Acme", slug: "acme robotics" }, "/slug"],
    ["a slug too short", { name: "Acme", slug: "ab" }, "/slug"],
    ["a slug ending with '-'", { name: "Acme", slug: "acme-" }, "/slug"],
    ["a number for a name", { name: 42 }, "/name"],
    ["an unknown field", { name: "Acme", owner_id: "someone" }, "/owner_id"],
  ])("refuses %s with 400 naming the field", async (_label, body, field) => {
    const problem = await problemOf(await me.api.post("/api/v1/orgs", { body }), 400);
    expect(problem.code).toBe("validation_failed");
    expect(fieldsOf(problem)).toContain(field);
  });

  it("is for people: an API key gets 403", async () => {
    const org = await createOrg(me.user);
    const { secret } = await createApiKey(org, { scopes: ["org:read"] });
    const res = await api("POST", "/api/v1/orgs", { token: secret, body: { name: "By a key" } });
    expect((await problemOf(res, 403)).code).toBe("forbidden");
  });
});

describe("slugify", () => {
  it.each([
    ["Acme Robotics", "acme-robotics"],
    ["  --Ünïcödé--  ", "unicode"],
    ["AB", "ab-org"],
    ["!!!", "org"],
    ["a".repeat(60), "a".repeat(40)],
  ])("%s → %s", (name, slug) => {
    expect(slugify(name)).toBe(slug);
  });
});

describe("GET /orgs", () => {
  it("lists the caller's organizations with their role, in cursor pages, and nobody else's", async () => {
    const me = await person();
    const stranger = await person();
    const mine = await createOrg(me.user, { name: "B mine" });
    const joined = await createOrg(stranger.user, { name: "A joined" });
    await addMember(joined, me.user, "billing");
    await createOrg(stranger.user, { name: "C not mine" });

    const first = await me.api.get("/api/v1/orgs?limit=1&sort=name");
    const page1 = await jsonOf<Page<OrgDto>>(first, 200);
    expect(page1.meta.total).toBe(2);
    expect(page1.data.map((org) => [org.name, org.role])).toEqual([["A joined", "billing"]]);
    expect(first.headers.get("link")).toContain('rel="next"');
    const page2 = await jsonOf<Page<OrgDto>>(
      await me.api.get(`/api/v1/orgs?limit=1&sort=name&cursor=${page1.meta.next}`),
      200,
    );
    expect(page2.data.map((org) => [org.id, org.role])).toEqual([[mine.id, "owner"]]);
    expect(page2.meta.next).toBeNull();
  });

  it("shows an API key its own organization only, with role null", async () => {
    const me = await person();
    const org = await createOrg(me.user);
    await createOrg(me.user);
    const { secret } = await createApiKey(org, { scopes: ["org:read"] });
    const page = await jsonOf<Page<OrgDto>>(await api("GET", "/api/v1/orgs", { token: secret }), 200);
    expect(page.data.map((o) => [o.id, o.role])).toEqual([[org.id, null]]);
    expect(page.meta.total).toBe(1);
  });

  it("refuses an unknown sort field and a filter it does not have", async () => {
    const me = await person();
    expect(fieldsOf(await problemOf(await me.api.get("/api/v1/orgs?sort=owner"), 400))).toEqual(["sort"]);
    expect(fieldsOf(await problemOf(await me.api.get("/api/v1/orgs?filter[slug]=x"), 400))).toEqual([
      "filter[slug]",
    ]);
  });
});

describe("the personal organization", () => {
  it("is created for every account that signs up, owned by it", async () => {
    const email = `personal-${crypto.randomUUID().slice(0, 8)}@example.test`;
    const res = await api("POST", "/api/v1/auth/register", {
      body: {
        email,
        password: "correct horse battery staple",
        password_confirm: "correct horse battery staple",
        first_name: "Ada",
      },
    });
    const signup = await jsonOf<AuthTokensBody>(res, 201);
    const page = await jsonOf<Page<OrgDto>>(await as(signup.access_token).get("/api/v1/orgs"), 200);
    expect(page.data).toHaveLength(1);
    expect(page.data[0]).toMatchObject({ name: "Ada's organization", is_personal: true, role: "owner" });
    const org = page.data[0] as OrgDto;
    const deletion = await as(signup.access_token).delete(`/api/v1/orgs/${org.id}`);
    expect((await problemOf(deletion, 409)).code).toBe("personal_organization");
  });
});

describe("GET, PATCH /orgs/{org_id}", () => {
  let owner: Person;
  let admin: Person;
  beforeAll(async () => {
    owner = await person();
    admin = await person();
  });

  it("reads the organization with the caller's role", async () => {
    const org = await createOrg(owner.user, { name: "Readable" });
    await addMember(org, admin.user, "admin");
    const read = await jsonOf<OrgDto>(await admin.api.get(`/api/v1/orgs/${org.id}`), 200);
    expect(read).toMatchObject({ id: org.id, name: "Readable", role: "admin" });
  });

  it("renames and re-slugs; only the fields sent change; a taken slug is 409", async () => {
    const org = await createOrg(owner.user, { name: "Before" });
    const other = await createOrg(owner.user);
    await addMember(org, admin.user, "admin");
    const renamed = await jsonOf<OrgDto>(
      await admin.api.patch(`/api/v1/orgs/${org.id}`, { body: { name: "After" } }),
      200,
    );
    expect(renamed).toMatchObject({ name: "After", slug: org.slug });
    const reslugged = await jsonOf<OrgDto>(
      await admin.api.patch(`/api/v1/orgs/${org.id}`, { body: { slug: "after-slug" } }),
      200,
    );
    expect(reslugged).toMatchObject({ name: "After", slug: "after-slug" });
    const unchanged = await jsonOf<OrgDto>(
      await admin.api.patch(`/api/v1/orgs/${org.id}`, { body: {} }),
      200,
    );
    expect(unchanged.slug).toBe("after-slug");
    const taken = await admin.api.patch(`/api/v1/orgs/${org.id}`, { body: { slug: other.slug } });
    expect((await problemOf(taken, 409)).code).toBe("slug_taken");
    const bad = await admin.api.patch(`/api/v1/orgs/${org.id}`, { body: { name: "", is_personal: true } });
    expect(fieldsOf(await problemOf(bad, 400)).sort()).toEqual(["/is_personal", "/name"]);
  });

  it("answers 400 naming org_id when it is not a UUID", async () => {
    const problem = await problemOf(await owner.api.get("/api/v1/orgs/not-a-uuid"), 400);
    expect(problem.errors).toEqual([{ parameter: "org_id", location: "path", detail: "Invalid UUID" }]);
  });
});

describe("DELETE /orgs/{org_id}", () => {
  it("deletes the organization and everything it owns; its API keys are refused at once", async () => {
    const owner = await person();
    const member = await createUser();
    const org = await createOrg(owner.user);
    await addMember(org, member.user, "member");
    await createInvitation(org, { email: "later@example.test" });
    const { secret } = await createApiKey(org, { scopes: ["org:read"] });
    expect((await api("GET", `/api/v1/orgs/${org.id}`, { token: secret })).status).toBe(200);

    const res = await owner.api.delete(`/api/v1/orgs/${org.id}`);
    expect(res.status).toBe(204);
    expect(await db.select().from(organizations).where(eq(organizations.id, org.id))).toEqual([]);
    expect(await db.select().from(memberships).where(eq(memberships.organizationId, org.id))).toEqual([]);
    expect(await db.select().from(invitations).where(eq(invitations.organizationId, org.id))).toEqual([]);
    expect(await db.select().from(apiKeys).where(eq(apiKeys.organizationId, org.id))).toEqual([]);
    // The member's account is untouched.
    expect(await db.select().from(users).where(eq(users.id, member.user.id))).toHaveLength(1);

    const withKey = await api("GET", `/api/v1/orgs/${org.id}`, { token: secret });
    expect((await problemOf(withKey, 401)).code).toBe("invalid_token");
    expect((await problemOf(await owner.api.get(`/api/v1/orgs/${org.id}`), 404)).code).toBe("not_found");
  });
});

describe("members", () => {
  let owner: Person;
  let admin: Person;
  let member: Person;
  let billing: Person;
  beforeAll(async () => {
    [owner, admin, member, billing] = await Promise.all([person(), person(), person(), person()]);
  });

  async function team() {
    const org = await createOrg(owner.user);
    await addMember(org, admin.user, "admin");
    await addMember(org, member.user, "member");
    await addMember(org, billing.user, "billing");
    return org;
  }
  const path = (orgId: string, userId: string) => `/api/v1/orgs/${orgId}/members/${userId}`;

  it("lists members with their roles, oldest first, with filter[role]", async () => {
    const org = await team();
    const page = await jsonOf<Page<MemberDto>>(await member.api.get(`/api/v1/orgs/${org.id}/members`), 200);
    expect(page.data.map((m) => m.role)).toEqual(["owner", "admin", "member", "billing"]);
    expect(page.data[1]).toMatchObject({ user_id: admin.user.id, email: admin.email });
    const admins = await jsonOf<Page<MemberDto>>(
      await member.api.get(`/api/v1/orgs/${org.id}/members?filter[role]=admin`),
      200,
    );
    expect(admins.data.map((m) => m.user_id)).toEqual([admin.user.id]);
    expect(
      fieldsOf(await problemOf(await member.api.get(`/api/v1/orgs/${org.id}/members?filter[role]=god`), 400)),
    ).toEqual(["filter[role]"]);
  });

  it("lets admins change roles but never grant, change or remove the owner role", async () => {
    const org = await team();
    const promoted = await admin.api.patch(path(org.id, member.user.id), { body: { role: "admin" } });
    expect(await jsonOf<MemberDto>(promoted, 200)).toMatchObject({ role: "admin" });
    const grantOwner = await admin.api.patch(path(org.id, member.user.id), {
      body: { role: "owner" },
    });
    expect((await problemOf(grantOwner, 403)).code).toBe("forbidden");
    const selfPromote = await admin.api.patch(path(org.id, admin.user.id), {
      body: { role: "owner" },
    });
    expect(selfPromote.status).toBe(403);
    const depose = await admin.api.patch(path(org.id, owner.user.id), { body: { role: "member" } });
    expect(depose.status).toBe(403);
    const removeOwner = await admin.api.delete(path(org.id, owner.user.id));
    expect(removeOwner.status).toBe(403);
    expect((await membershipOf(org.id, owner.user.id))?.role).toBe("owner");
  });

  it("keeps the last owner: no demotion, no leaving (409 last_owner); with two owners either may go", async () => {
    const org = await team();
    const demote = await owner.api.patch(path(org.id, owner.user.id), { body: { role: "admin" } });
    expect((await problemOf(demote, 409)).code).toBe("last_owner");
    const leave = await owner.api.delete(path(org.id, owner.user.id));
    expect((await problemOf(leave, 409)).code).toBe("last_owner");

    await jsonOf(await owner.api.patch(path(org.id, admin.user.id), { body: { role: "owner" } }), 200);
    expect((await owner.api.delete(path(org.id, owner.user.id))).status).toBe(204);
    expect(await membershipOf(org.id, owner.user.id)).toBeUndefined();
  });

  it("never leaves an organization without an owner when two owners demote each other at once", async () => {
    const org = await team();
    await owner.api.patch(path(org.id, admin.user.id), { body: { role: "owner" } });
    const [a, b] = await Promise.all([
      owner.api.patch(path(org.id, admin.user.id), { body: { role: "member" } }),
      admin.api.patch(path(org.id, owner.user.id), { body: { role: "member" } }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const owners = await db
      .select()
      .from(memberships)
      .where(and(eq(memberships.organizationId, org.id), eq(memberships.role, "owner")));
    expect(owners).toHaveLength(1);
  });

  it("lets anyone leave, but only managers remove others", async () => {
    const org = await team();
    const kick = await member.api.delete(path(org.id, billing.user.id));
    expect((await problemOf(kick, 403)).code).toBe("forbidden");
    expect((await billing.api.delete(path(org.id, billing.user.id))).status).toBe(204);
    expect((await admin.api.delete(path(org.id, member.user.id))).status).toBe(204);
    const page = await jsonOf<Page<MemberDto>>(await owner.api.get(`/api/v1/orgs/${org.id}/members`), 200);
    expect(page.data.map((m) => m.role)).toEqual(["owner", "admin"]);
    // A former member has no access any more: 404, not 403.
    expect((await member.api.get(`/api/v1/orgs/${org.id}`)).status).toBe(404);
  });

  it("answers 404 for a user who is not a member, and 400 for a role that does not exist", async () => {
    const org = await team();
    const outsider = await createUser();
    const missing = await owner.api.patch(path(org.id, outsider.user.id), { body: { role: "admin" } });
    expect((await problemOf(missing, 404)).code).toBe("not_found");
    const bad = await owner.api.patch(path(org.id, member.user.id), { body: { role: "superuser" } });
    expect(fieldsOf(await problemOf(bad, 400))).toEqual(["/role"]);
    const badId = await owner.api.delete(path(org.id, "nope"));
    expect(fieldsOf(await problemOf(badId, 400))).toEqual(["user_id"]);
  });
});

describe("account erasure and organizations", () => {
  it("deletes organizations the account was alone in, hands the others to the longest-standing admin", async () => {
    const leaving = await person();
    const [admin, member, coOwner] = [await createUser(), await createUser(), await createUser()];
    const alone = await createOrg(leaving.user, { isPersonal: true });
    const { secret } = await createApiKey(alone, { scopes: ["org:read"] });
    const shared = await createOrg(leaving.user, { isPersonal: true });
    await addMember(shared, member.user, "member");
    await addMember(shared, admin.user, "admin");
    const coOwned = await createOrg(leaving.user);
    await addMember(coOwned, coOwner.user, "owner");
    await addMember(coOwned, member.user, "admin");
    const elsewhere = await createOrg(coOwner.user);
    await addMember(elsewhere, leaving.user, "member");

    expect((await leaving.api.delete("/api/v1/users/me")).status).toBe(204);

    expect(await db.select().from(organizations).where(eq(organizations.id, alone.id))).toEqual([]);
    expect((await api("GET", `/api/v1/orgs/${alone.id}`, { token: secret })).status).toBe(401);
    expect((await membershipOf(shared.id, admin.user.id))?.role).toBe("owner");
    expect((await membershipOf(shared.id, member.user.id))?.role).toBe("member");
    const [sharedRow] = await db.select().from(organizations).where(eq(organizations.id, shared.id));
    expect(sharedRow?.isPersonal).toBe(false);
    expect((await membershipOf(coOwned.id, member.user.id))?.role).toBe("admin");
    expect((await membershipOf(coOwned.id, coOwner.user.id))?.role).toBe("owner");
    expect(await db.select().from(memberships).where(eq(memberships.userId, leaving.user.id))).toEqual([]);
    expect(await db.select().from(organizations).where(eq(organizations.id, elsewhere.id))).toHaveLength(1);
  });

  it("passes ownership to a member, then a billing manager, when there is no admin", async () => {
    const leaving = await person();
    const [billing, member] = [await createUser(), await createUser()];
    const org = await createOrg(leaving.user);
    await addMember(org, billing.user, "billing");
    await addMember(org, member.user, "member");
    expect((await leaving.api.delete("/api/v1/users/me")).status).toBe(204);
    expect((await membershipOf(org.id, member.user.id))?.role).toBe("owner");
    expect((await membershipOf(org.id, billing.user.id))?.role).toBe("billing");
  });
});

describe("tenant data goes with its organization", () => {
  const tablesWith = (column: string) =>
    (Object.values(schema) as unknown[])
      .filter((value): value is SQLiteTable => is(value, SQLiteTable))
      .filter((table) => getTableConfig(table).columns.some((c) => c.name === column));

  it("every directory table with an organization_id references organizations with ON DELETE CASCADE", () => {
    const owned = tablesWith("organization_id")
      .filter((table) => !TENANT_TABLES.includes(table))
      .map((table) => getTableConfig(table));
    expect(owned.map((config) => config.name)).toEqual(expect.arrayContaining(["memberships", "api_keys"]));
    for (const config of owned) {
      const reference = config.foreignKeys.find((fk) =>
        fk.reference().columns.some((column) => column.name === "organization_id"),
      );
      expect(reference?.reference().foreignTable, config.name).toBe(organizations);
      expect(reference?.onDelete, config.name).toBe("cascade");
    }
  });

  it("tenant tables have no foreign keys: their organization and users may be in another database", () => {
    expect(tablesWith("organization_id").filter((table) => TENANT_TABLES.includes(table))).toContain(
      schema.files,
    );
    for (const table of TENANT_TABLES) {
      expect(getTableConfig(table).foreignKeys, getTableConfig(table).name).toEqual([]);
    }
  });
});

describe("security", () => {
  const ids = { org: crypto.randomUUID(), user: crypto.randomUUID() };
  const someoneElses = async (method: string, suffix: string, body?: unknown) => {
    const owner = await createUser();
    const org = await createOrg(owner.user);
    const me = await person();
    return {
      path: `/api/v1/orgs/${org.id}${suffix.replace("{user}", owner.user.id)}`,
      headers: { authorization: `Bearer ${me.tokens.accessToken}` },
      body,
      method,
    };
  };

  securitySuite("POST /api/v1/orgs", { method: "POST", path: "/api/v1/orgs", body: { name: "Acme" } });
  securitySuite("GET /api/v1/orgs", { method: "GET", path: "/api/v1/orgs" });
  securitySuite("GET /api/v1/orgs/{org_id}", {
    method: "GET",
    path: `/api/v1/orgs/${ids.org}`,
    notOwned: () => someoneElses("GET", ""),
  });
  securitySuite("PATCH /api/v1/orgs/{org_id}", {
    method: "PATCH",
    path: `/api/v1/orgs/${ids.org}`,
    body: { name: "X" },
    notOwned: () => someoneElses("PATCH", ""),
  });
  securitySuite("DELETE /api/v1/orgs/{org_id}", {
    method: "DELETE",
    path: `/api/v1/orgs/${ids.org}`,
    notOwned: () => someoneElses("DELETE", ""),
  });
  securitySuite("GET /api/v1/orgs/{org_id}/members", {
    method: "GET",
    path: `/api/v1/orgs/${ids.org}/members`,
    notOwned: () => someoneElses("GET", "/members"),
  });
  securitySuite("PATCH /api/v1/orgs/{org_id}/members/{user_id}", {
    method: "PATCH",
    path: `/api/v1/orgs/${ids.org}/members/${ids.user}`,
    body: { role: "admin" },
    notOwned: () => someoneElses("PATCH", "/members/{user}"),
  });
  securitySuite("DELETE /api/v1/orgs/{org_id}/members/{user_id}", {
    method: "DELETE",
    path: `/api/v1/orgs/${ids.org}/members/${ids.user}`,
    notOwned: () => someoneElses("DELETE", "/members/{user}"),
  });
});
