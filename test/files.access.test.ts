/**
 * Who may touch an organization's files: the permission table as a matrix (each role,
 * a non-member, API keys with and without the scope, a key of another organization),
 * a refused call changing nothing in D1 or R2; another organization's files are 404
 * under every path; and the shared security suite on every route.
 */
import { env } from "cloudflare:workers";
import { asc, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { files, type Organization } from "../src/db/schema";
import { ALL_SCOPES, API_KEY_SCOPE_NAMES, type ApiKeyScope } from "../src/modules/orgs/permissions";
import {
  authorizationMatrix,
  type MatrixCaller,
  type MatrixKey,
  type MatrixPerson,
  type MatrixRow,
} from "./support/authz-matrix";
import { createUser, person, signIn, type TestUser } from "./support/factories";
import { createFile, filesPath, PDF, putUpload, uploadFile } from "./support/files";
import { api, problemOf } from "./support/http";
import { addMember, createApiKey, createOrg } from "./support/orgs";
import { securitySuite } from "./support/security";
import { tenantDatabaseOf } from "./support/tenant-databases";

vi.setConfig({ testTimeout: 60_000 });

type Fixture = {
  org: Organization;
  /** Ready, and a pending file whose bytes are uploaded. */
  readyId: string;
  uploadedId: string;
  keys: Record<MatrixKey, string>;
};

type Row = MatrixRow<Fixture, ApiKeyScope>;

const base = (f: Fixture) => filesPath(f.org.id);

const TABLE: Row[] = [
  {
    route: "POST /orgs/{org_id}/files",
    method: "POST",
    path: base,
    body: () => ({ name: "new.pdf", content_type: "application/pdf", size: 100 }),
    scope: "files:write",
    expect: [201, 201, 201, 403, 404, 201, 403, 404],
  },
  {
    route: "GET /orgs/{org_id}/files",
    method: "GET",
    path: base,
    scope: "files:read",
    expect: [200, 200, 200, 200, 404, 200, 403, 404],
  },
  {
    route: "GET /orgs/{org_id}/files/{id}",
    method: "GET",
    path: (f) => `${base(f)}/${f.readyId}`,
    scope: "files:read",
    expect: [200, 200, 200, 200, 404, 200, 403, 404],
  },
  {
    route: "DELETE /orgs/{org_id}/files/{id}",
    method: "DELETE",
    path: (f) => `${base(f)}/${f.readyId}`,
    scope: "files:write",
    expect: [204, 204, 204, 403, 404, 204, 403, 404],
  },
  {
    route: "POST /orgs/{org_id}/files/{id}/complete",
    method: "POST",
    path: (f) => `${base(f)}/${f.uploadedId}/complete`,
    scope: "files:write",
    expect: [200, 200, 200, 403, 404, 200, 403, 404],
  },
  {
    route: "GET /orgs/{org_id}/files/{id}/download",
    method: "GET",
    path: (f) => `${base(f)}/${f.readyId}/download`,
    scope: "files:read",
    expect: [200, 200, 200, 200, 404, 200, 403, 404],
  },
];

const people: Partial<Record<MatrixPerson, { account: TestUser; token: string }>> = {};

beforeAll(async () => {
  for (const role of ["owner", "admin", "member", "billing", "non_member"] as const) {
    const account = await createUser();
    people[role] = { account, token: (await signIn(account.user)).accessToken };
  }
});

async function fixture(scope: ApiKeyScope): Promise<Fixture> {
  const owner = people.owner;
  if (!owner) throw new Error("fixture before beforeAll");
  const org = await createOrg(owner.account.user);
  for (const role of ["admin", "member", "billing"] as const) {
    const account = people[role]?.account;
    if (account) await addMember(org, account.user, role);
  }
  const ready = await uploadFile(owner.token, org.id, "ready.pdf", "application/pdf", PDF);
  const uploaded = await createFile(owner.token, org.id, {
    name: "uploaded.pdf",
    content_type: "application/pdf",
    size: PDF.length,
  });
  expect((await putUpload(uploaded.upload, PDF)).status).toBe(204);
  const otherOrg = await createOrg(owner.account.user);
  return {
    org,
    readyId: ready.id,
    uploadedId: uploaded.id,
    keys: {
      key_with_scope: (await createApiKey(org, { scopes: [scope] })).secret,
      // Every other scope but `*`, which holds them all.
      key_without_scope: (
        await createApiKey(org, {
          scopes: API_KEY_SCOPE_NAMES.filter((s) => s !== scope && s !== ALL_SCOPES),
        })
      ).secret,
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

/** The organization's files as rows and as R2 objects. */
async function snapshot(organizationId: string) {
  const rows = await tenantDatabaseOf(organizationId)
    .select()
    .from(files)
    .where(eq(files.organizationId, organizationId))
    .orderBy(asc(files.id));
  const objects = (await env.FILES.list({ prefix: `files/${organizationId}/` })).objects.map((o) => o.key);
  return { rows, objects };
}

describe("authorization matrix", () => {
  authorizationMatrix(TABLE, {
    fixture,
    headers: credentials,
    snapshot: (f) => snapshot(f.org.id),
  });

  it("covers every files route the app mounts under an organization", async () => {
    const { createApp } = await import("../src/app");
    const mounted = createApp()
      .routes.filter((r) => /^\/api\/v1\/orgs\/:org_id\/files/.test(r.path) && r.method !== "ALL")
      .map((r) => `${r.method} ${r.path.replace("/api/v1", "").replace(/:(\w+)/g, "{$1}")}`);
    expect(new Set(mounted)).toEqual(new Set(TABLE.map((row) => row.route)));
  });
});

describe("another organization's files", () => {
  it("are 404 under every path, for its members' ids under my organization too, and nothing changes", async () => {
    const me = await person();
    const mine = await createOrg(me.user);
    const myKey = await createApiKey(mine, { scopes: [...API_KEY_SCOPE_NAMES] });
    const victim = await person();
    const theirs = await createOrg(victim.user);
    const file = await uploadFile(victim.token, theirs.id, "private.pdf", "application/pdf", PDF);
    const pending = await createFile(victim.token, theirs.id, {
      name: "p.pdf",
      content_type: "application/pdf",
      size: PDF.length,
    });
    expect((await putUpload(pending.upload, PDF)).status).toBe(204);
    const before = await snapshot(theirs.id);

    const attempts: Array<[string, string, unknown?]> = [];
    for (const orgPath of [filesPath(theirs.id), filesPath(mine.id)]) {
      attempts.push(
        ["GET", `${orgPath}/${file.id}`],
        ["GET", `${orgPath}/${file.id}/download`],
        ["DELETE", `${orgPath}/${file.id}`],
        ["POST", `${orgPath}/${pending.id}/complete`],
      );
    }
    attempts.push(
      ["GET", filesPath(theirs.id)],
      ["POST", filesPath(theirs.id), { name: "x.pdf", content_type: "application/pdf", size: 1 }],
    );
    for (const token of [me.token, myKey.secret]) {
      for (const [method, path, body] of attempts) {
        const res = await api(method, path, { token, body });
        expect((await problemOf(res, 404)).code, `${method} ${path}`).toBe("not_found");
      }
    }
    expect(await snapshot(theirs.id)).toEqual(before);
    // Their file is still theirs.
    expect((await api("GET", `${filesPath(theirs.id)}/${file.id}`, { token: victim.token })).status).toBe(
      200,
    );
  });
});

describe("security", () => {
  let owner: TestUser;
  let ownerToken: string;
  let org: Organization;
  let fileId: string;
  let billingToken: string;
  beforeAll(async () => {
    owner = await createUser();
    ownerToken = (await signIn(owner.user)).accessToken;
    org = await createOrg(owner.user);
    fileId = (await uploadFile(ownerToken, org.id, "s.pdf", "application/pdf", PDF)).id;
    const billing = await createUser();
    await addMember(org, billing.user, "billing");
    billingToken = (await signIn(billing.user)).accessToken;
  });
  const stranger = async () => {
    const someone = await person();
    return { authorization: `Bearer ${someone.token}` };
  };
  const body = { name: "a.pdf", content_type: "application/pdf", size: 10 };

  securitySuite("POST /orgs/{org_id}/files", {
    method: "POST",
    path: () => filesPath(org.id),
    body,
    forbidden: async () => ({ authorization: `Bearer ${billingToken}` }),
    notOwned: async () => ({ path: filesPath(org.id), headers: await stranger() }),
  });
  securitySuite("GET /orgs/{org_id}/files", {
    method: "GET",
    path: () => filesPath(org.id),
    notOwned: async () => ({ path: filesPath(org.id), headers: await stranger() }),
  });
  for (const [method, suffix] of [
    ["GET", ""],
    ["DELETE", ""],
    ["POST", "/complete"],
    ["GET", "/download"],
  ] as const) {
    securitySuite(`${method} /orgs/{org_id}/files/{id}${suffix}`, {
      method,
      path: () => `${filesPath(org.id)}/${fileId}${suffix}`,
      notOwned: async () => ({ path: `${filesPath(org.id)}/${fileId}${suffix}`, headers: await stranger() }),
      ...(method === "GET" ? {} : { forbidden: async () => ({ authorization: `Bearer ${billingToken}` }) }),
    });
  }
});
