/**
 * Who may call which organization route, as one table: for every route, each
 * role, a signed-in non-member, an API key of the organization with and without
 * the scope the route needs, and an API key of another organization, with the
 * status each must get. A refused call (403/404) must change nothing.
 *
 * Adding a route is one row. Then IDOR: another organization's ids in every path
 * parameter (and slipped into bodies) are 404 / 400, and change nothing.
 */
import { env } from "cloudflare:workers";
import { and, asc, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { apiKeys, invitations, memberships, type Organization, organizations } from "../src/db/schema";
import { ALL_SCOPES, API_KEY_SCOPE_NAMES, type ApiKeyScope } from "../src/modules/orgs/permissions";
import {
  authorizationMatrix,
  type MatrixCaller,
  type MatrixKey,
  type MatrixPerson,
  type MatrixRow,
} from "./support/authz-matrix";
import { createUser, signIn, type TestUser } from "./support/factories";
import { api } from "./support/http";
import { addMember, createApiKey, createInvitation, createOrg, type TestApiKey } from "./support/orgs";

vi.setConfig({ testTimeout: 60_000 });

const db = getDb(env);

/** One organization's worth of targets, fresh for every case so that no call depends on another. */
type Fixture = {
  org: Organization;
  /** A member (role `member`) whom member routes act on. */
  subject: TestUser;
  invitationId: string;
  targetKey: TestApiKey;
  keys: Record<MatrixKey, string>;
};

type Row = MatrixRow<Fixture, ApiKeyScope | null>;

const base = (f: Fixture) => `/api/v1/orgs/${f.org.id}`;
let emailSeq = 0;

const TABLE: Row[] = [
  {
    route: "POST /orgs",
    method: "POST",
    path: () => "/api/v1/orgs",
    body: () => ({ name: "New org" }),
    scope: null,
    // Anyone signed in creates their own organization; keys belong to one and cannot.
    expect: [201, 201, 201, 201, 201, 403, 403, 403],
  },
  {
    route: "GET /orgs",
    method: "GET",
    path: () => "/api/v1/orgs",
    scope: "org:read",
    // Everyone lists their own organizations; a key of another org lists that org.
    expect: [200, 200, 200, 200, 200, 200, 403, 200],
  },
  {
    route: "GET /orgs/{org_id}",
    method: "GET",
    path: base,
    scope: "org:read",
    expect: [200, 200, 200, 200, 404, 200, 403, 404],
  },
  {
    route: "PATCH /orgs/{org_id}",
    method: "PATCH",
    path: base,
    body: () => ({ name: "Renamed" }),
    scope: null,
    expect: [200, 200, 403, 403, 404, 403, 403, 404],
  },
  {
    route: "DELETE /orgs/{org_id}",
    method: "DELETE",
    path: base,
    scope: null,
    expect: [204, 403, 403, 403, 404, 403, 403, 404],
  },
  {
    route: "GET /orgs/{org_id}/members",
    method: "GET",
    path: (f) => `${base(f)}/members`,
    scope: "org:read",
    expect: [200, 200, 200, 200, 404, 200, 403, 404],
  },
  {
    route: "PATCH /orgs/{org_id}/members/{user_id}",
    method: "PATCH",
    path: (f) => `${base(f)}/members/${f.subject.user.id}`,
    body: () => ({ role: "billing" }),
    scope: null,
    expect: [200, 200, 403, 403, 404, 403, 403, 404],
  },
  {
    route: "DELETE /orgs/{org_id}/members/{user_id}",
    method: "DELETE",
    path: (f) => `${base(f)}/members/${f.subject.user.id}`,
    scope: null,
    expect: [204, 204, 403, 403, 404, 403, 403, 404],
  },
  {
    route: "POST /orgs/{org_id}/invitations",
    method: "POST",
    path: (f) => `${base(f)}/invitations`,
    body: () => ({ email: `matrix-${++emailSeq}@example.test`, role: "member" }),
    scope: null,
    expect: [201, 201, 403, 403, 404, 403, 403, 404],
  },
  {
    route: "GET /orgs/{org_id}/invitations",
    method: "GET",
    path: (f) => `${base(f)}/invitations`,
    scope: null,
    expect: [200, 200, 403, 403, 404, 403, 403, 404],
  },
  {
    route: "GET /orgs/{org_id}/invitations/{invitation_id}",
    method: "GET",
    path: (f) => `${base(f)}/invitations/${f.invitationId}`,
    scope: null,
    expect: [200, 200, 403, 403, 404, 403, 403, 404],
  },
  {
    route: "DELETE /orgs/{org_id}/invitations/{invitation_id}",
    method: "DELETE",
    path: (f) => `${base(f)}/invitations/${f.invitationId}`,
    scope: null,
    expect: [204, 204, 403, 403, 404, 403, 403, 404],
  },
  {
    route: "POST /orgs/{org_id}/api-keys",
    method: "POST",
    path: (f) => `${base(f)}/api-keys`,
    body: () => ({ name: "Matrix key", scopes: ["org:read"] }),
    scope: null,
    expect: [201, 201, 403, 403, 404, 403, 403, 404],
  },
  {
    route: "GET /orgs/{org_id}/api-keys",
    method: "GET",
    path: (f) => `${base(f)}/api-keys`,
    scope: null,
    expect: [200, 200, 403, 403, 404, 403, 403, 404],
  },
  {
    route: "GET /orgs/{org_id}/api-keys/{key_id}",
    method: "GET",
    path: (f) => `${base(f)}/api-keys/${f.targetKey.key.id}`,
    scope: null,
    expect: [200, 200, 403, 403, 404, 403, 403, 404],
  },
  {
    route: "PATCH /orgs/{org_id}/api-keys/{key_id}",
    method: "PATCH",
    path: (f) => `${base(f)}/api-keys/${f.targetKey.key.id}`,
    body: () => ({ name: "Renamed key" }),
    scope: null,
    expect: [200, 200, 403, 403, 404, 403, 403, 404],
  },
  {
    route: "DELETE /orgs/{org_id}/api-keys/{key_id}",
    method: "DELETE",
    path: (f) => `${base(f)}/api-keys/${f.targetKey.key.id}`,
    scope: null,
    expect: [204, 204, 403, 403, 404, 403, 403, 404],
  },
  {
    route: "POST /orgs/{org_id}/api-keys/{key_id}/rotate",
    method: "POST",
    path: (f) => `${base(f)}/api-keys/${f.targetKey.key.id}/rotate`,
    body: () => ({ grace_period_seconds: 60 }),
    scope: null,
    expect: [200, 200, 403, 403, 404, 403, 403, 404],
  },
];

const people: Partial<Record<MatrixPerson, { account: TestUser; token: string }>> = {};
let subject: TestUser;

beforeAll(async () => {
  for (const role of ["owner", "admin", "member", "billing", "non_member"] as const) {
    // Verified, as people who invite must be: the matrix is about roles, not verification.
    const account = await createUser({ emailVerifiedAt: new Date() });
    people[role] = { account, token: (await signIn(account.user)).accessToken };
  }
  subject = await createUser();
});

/** Keys with exactly the route's scope, with every scope but it, and of another organization with all. */
function keyScopes(scope: ApiKeyScope | null): { with: ApiKeyScope[]; without: ApiKeyScope[] } {
  if (scope === null) return { with: [...API_KEY_SCOPE_NAMES], without: ["tasks:read"] };
  // Every other scope, but not `*`, which holds them all.
  return { with: [scope], without: API_KEY_SCOPE_NAMES.filter((s) => s !== scope && s !== ALL_SCOPES) };
}

async function fixture(scope: ApiKeyScope | null): Promise<Fixture> {
  const owner = people.owner?.account.user;
  if (!owner) throw new Error("fixture before beforeAll");
  const org = await createOrg(owner);
  for (const role of ["admin", "member", "billing"] as const) {
    const account = people[role]?.account;
    if (account) await addMember(org, account.user, role);
  }
  await addMember(org, subject.user, "member");
  const { invitation } = await createInvitation(org, {
    email: `invited-${crypto.randomUUID()}@example.test`,
  });
  const otherOrg = await createOrg(owner);
  const scopes = keyScopes(scope);
  return {
    org,
    subject,
    invitationId: invitation.id,
    targetKey: await createApiKey(org, { scopes: ["org:read"] }),
    keys: {
      key_with_scope: (await createApiKey(org, { scopes: scopes.with })).secret,
      key_without_scope: (await createApiKey(org, { scopes: scopes.without })).secret,
      key_other_org: (await createApiKey(otherOrg, { scopes: [...API_KEY_SCOPE_NAMES] })).secret,
    },
  };
}

function credentials(caller: MatrixCaller, f: Fixture): Record<string, string> {
  const token = caller.startsWith("key_")
    ? f.keys[caller as MatrixKey]
    : people[caller as MatrixPerson]?.token;
  return { authorization: `Bearer ${token}` };
}

/**
 * Everything the organization holds, as it would show a change. The use of an API
 * key stamps its last_used_* columns, which is bookkeeping, not a change.
 */
async function snapshot(organizationId: string) {
  const [org, members, invites, keys] = await db.batch([
    db.select().from(organizations).where(eq(organizations.id, organizationId)),
    db
      .select()
      .from(memberships)
      .where(eq(memberships.organizationId, organizationId))
      .orderBy(asc(memberships.userId)),
    db
      .select()
      .from(invitations)
      .where(eq(invitations.organizationId, organizationId))
      .orderBy(asc(invitations.id)),
    db
      .select({
        id: apiKeys.id,
        name: apiKeys.name,
        prefix: apiKeys.prefix,
        scopes: apiKeys.scopes,
        revokedAt: apiKeys.revokedAt,
        expiresAt: apiKeys.expiresAt,
        updatedAt: apiKeys.updatedAt,
      })
      .from(apiKeys)
      .where(eq(apiKeys.organizationId, organizationId))
      .orderBy(asc(apiKeys.id)),
  ]);
  return { org, members, invites, keys };
}

describe("authorization matrix", () => {
  authorizationMatrix(TABLE, {
    fixture,
    headers: credentials,
    snapshot: (f) => snapshot(f.org.id),
  });

  it("covers every organization route the app mounts", async () => {
    const { createApp } = await import("../src/app");
    const mounted = createApp()
      .routes.filter((r) => r.path.startsWith("/api/v1/orgs") && r.method !== "ALL")
      .map((r) => `${r.method} ${r.path.replace("/api/v1", "").replace(/:(\w+)/g, "{$1}")}`);
    const covered = TABLE.map((row) => row.route);
    // Other modules mount routes under an organization too (billing, credits, webhook endpoints, files): those
    // have their own matrices (test/webhooks.endpoints.test.ts, test/files*.test.ts).
    const ours = mounted.filter((route) => !/\/(billing|credits|webhook-endpoints|files)/.test(route));
    expect(new Set(ours)).toEqual(new Set(covered));
  });
});

describe("IDOR: another organization's ids", () => {
  it("are 404 in every path parameter, refused in bodies, and change nothing", async () => {
    const attacker = await createUser();
    const attackerToken = (await signIn(attacker.user)).accessToken;
    const mine = await createOrg(attacker.user);
    const myKey = await createApiKey(mine, { scopes: [...API_KEY_SCOPE_NAMES] });

    const victimOwner = await createUser();
    const victim = await createOrg(victimOwner.user);
    const victimMember = await createUser();
    await addMember(victim, victimMember.user, "member");
    const { invitation } = await createInvitation(victim, { email: "victim-invite@example.test" });
    const victimKey = await createApiKey(victim, { scopes: ["org:read"] });
    const before = await snapshot(victim.id);
    const mineBefore = await snapshot(mine.id);

    const theirs = `/api/v1/orgs/${victim.id}`;
    const ours = `/api/v1/orgs/${mine.id}`;
    const attempts: Array<[string, string, unknown?]> = [
      ["GET", theirs],
      ["PATCH", theirs, { name: "pwned" }],
      ["DELETE", theirs],
      ["GET", `${theirs}/members`],
      ["PATCH", `${theirs}/members/${victimMember.user.id}`, { role: "owner" }],
      ["DELETE", `${theirs}/members/${victimMember.user.id}`],
      // Their member under my organization.
      ["PATCH", `${ours}/members/${victimMember.user.id}`, { role: "owner" }],
      ["DELETE", `${ours}/members/${victimOwner.user.id}`],
      ["POST", `${theirs}/invitations`, { email: "spy@example.test", role: "owner" }],
      ["GET", `${theirs}/invitations`],
      ["GET", `${theirs}/invitations/${invitation.id}`],
      ["DELETE", `${theirs}/invitations/${invitation.id}`],
      // Their invitation under my organization.
      ["GET", `${ours}/invitations/${invitation.id}`],
      ["DELETE", `${ours}/invitations/${invitation.id}`],
      ["POST", `${theirs}/api-keys`, { name: "backdoor", scopes: ["org:read"] }],
      ["GET", `${theirs}/api-keys`],
      ["GET", `${theirs}/api-keys/${victimKey.key.id}`],
      ["PATCH", `${theirs}/api-keys/${victimKey.key.id}`, { scopes: ["org:read", "tasks:write"] }],
      ["DELETE", `${theirs}/api-keys/${victimKey.key.id}`],
      ["POST", `${theirs}/api-keys/${victimKey.key.id}/rotate`, {}],
      // Their key under my organization.
      ["GET", `${ours}/api-keys/${victimKey.key.id}`],
      ["PATCH", `${ours}/api-keys/${victimKey.key.id}`, { name: "mine now" }],
      ["DELETE", `${ours}/api-keys/${victimKey.key.id}`],
      ["POST", `${ours}/api-keys/${victimKey.key.id}/rotate`, {}],
    ];
    for (const [method, path, body] of attempts) {
      const res = await api(method, path, { token: attackerToken, body });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    // My own API key, with every scope, cannot reach the other organization either.
    for (const path of [theirs, `${theirs}/members`]) {
      const res = await api("GET", path, { token: myKey.secret });
      expect(res.status, `key: GET ${path}`).toBe(404);
    }

    // No body takes an id; one slipped in is an unknown field (400), never obeyed.
    const smuggled: Array<[string, string, unknown]> = [
      ["POST", `${ours}/api-keys`, { name: "k", scopes: ["org:read"], organization_id: victim.id }],
      [
        "POST",
        `${ours}/invitations`,
        { email: "x@example.test", role: "member", organization_id: victim.id },
      ],
      ["PATCH", ours, { name: "x", id: victim.id }],
      ["PATCH", `${ours}/members/${attacker.user.id}`, { role: "owner", user_id: victimOwner.user.id }],
      ["PATCH", `${ours}/api-keys/${myKey.key.id}`, { key_id: victimKey.key.id }],
    ];
    for (const [method, path, body] of smuggled) {
      const res = await api(method, path, { token: attackerToken, body });
      expect(res.status, `${method} ${path}`).toBe(400);
    }

    expect(await snapshot(victim.id)).toEqual(before);
    expect(await snapshot(mine.id)).toEqual(mineBefore);
    // The victim's key still works for the victim.
    expect((await api("GET", theirs, { token: victimKey.secret })).status).toBe(200);
    const stillMember = await db
      .select()
      .from(memberships)
      .where(and(eq(memberships.organizationId, victim.id), eq(memberships.userId, victimMember.user.id)));
    expect(stillMember[0]?.role).toBe("member");
  });
});
