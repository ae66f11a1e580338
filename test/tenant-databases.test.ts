/**
 * The sharding seam (src/db/tenant-databases.ts, docs/SCALING.md): one organization routed
 * to a second D1 database (TENANT_DB_EXAMPLE) by TENANT_DATABASES, every files route working
 * there, its rows in that database and not in the shared one, another organization in the
 * shared database unaffected; file ids that cross organizations or databases are 404s; the
 * organization's deletion, account erasure and the crons reach the second database; and the
 * setting itself is checked when the configuration is read.
 *
 * The routing is given per request (apiWith) with the routed organization's id, so this file
 * means the same in both test projects (vitest.config.ts).
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { Organization } from "../src/db/schema";
import { isInSharedDatabase, orgDatabase, tenantDatabases } from "../src/db/tenant-databases";
import { type Bindings, ConfigError, getConfig } from "../src/env";
import { createServiceContext } from "../src/lib/context";
import { uuidv7 } from "../src/lib/ids";
import { systemPrincipal } from "../src/lib/principal";
import { purgeObjectsJob } from "../src/lib/storage/object-purges.cron";
import { UPLOAD_GRACE_SECONDS } from "../src/lib/storage/transfer-urls";
import { eraseAccount } from "../src/modules/auth/accounts";
import { purgeStaleFileUploads } from "../src/modules/files/files.cron";
import { type Person, person } from "./support/factories";
import {
  type CreatedFileDto,
  type DownloadDto,
  type FileDto,
  fetchDownload,
  filesPath,
  PDF,
  putUpload,
} from "./support/files";
import { apiWith, jsonOf, type Page, problemOf } from "./support/http";
import { addMember, createOrg } from "./support/orgs";

const TENANT_DB = env.TENANT_DB_EXAMPLE as D1Database;
const SHARED_DB = env.DB;

let owner: Person;
/** Routed to TENANT_DB_EXAMPLE. */
let routed: Organization;
/** In the shared database. */
let shared: Organization;
let routing: { TENANT_DATABASES: string };

beforeAll(async () => {
  owner = await person();
  routed = await createOrg(owner.user);
  shared = await createOrg(owner.user);
  routing = { TENANT_DATABASES: JSON.stringify({ [routed.id]: "TENANT_DB_EXAMPLE" }) };
});

/** The Worker's bindings with this file's routing: what a deployment with it configured sees. */
const routedEnv = () => ({ ...env, ...routing }) as Bindings;
const routedContext = () =>
  createServiceContext({ env: routedEnv(), principal: systemPrincipal("test"), requestId: uuidv7() });

const call = (method: string, path: string, body?: unknown, token = owner.token) =>
  apiWith(routing, method, path, { token, ...(body === undefined ? {} : { body }) });

/** The ids of an organization's files as one database holds them, read with plain SQL. */
async function fileIdsIn(db: D1Database, organizationId: string): Promise<string[]> {
  const { results } = await db
    .prepare("select id from files where organization_id = ? order by id")
    .bind(organizationId)
    .all<{ id: string }>();
  return results.map((row) => row.id);
}

async function purgeKeysIn(db: D1Database, organizationId: string): Promise<string[]> {
  const { results } = await db
    .prepare("select r2_key from object_purges where r2_key like ? order by id")
    .bind(`files/${organizationId}/%`)
    .all<{ r2_key: string }>();
  return results.map((row) => row.r2_key);
}

/** Create, PUT, complete through the routed configuration: a ready file. */
async function upload(org: Organization, name: string, token = owner.token): Promise<FileDto> {
  const body = { name, content_type: "application/pdf", size: PDF.length };
  const created = await jsonOf<CreatedFileDto>(await call("POST", filesPath(org.id), body, token), 201);
  expect((await putUpload(created.upload, PDF)).status).toBe(204);
  return jsonOf<FileDto>(
    await call("POST", `${filesPath(org.id)}/${created.id}/complete`, undefined, token),
    200,
  );
}

describe("an organization routed to a second database", () => {
  it("creates, completes, lists, reads, downloads and deletes its files there, and only there", async () => {
    const file = await upload(routed, "routed.pdf");
    expect(file).toMatchObject({ status: "ready", created_by: owner.user.id });
    expect(await fileIdsIn(TENANT_DB, routed.id)).toEqual([file.id]);
    expect(await fileIdsIn(SHARED_DB, routed.id)).toEqual([]);

    const page = await jsonOf<Page<FileDto>>(await call("GET", filesPath(routed.id)), 200);
    expect(page.data.map((f) => f.id)).toEqual([file.id]);
    expect(page.meta.total).toBe(1);
    expect(await jsonOf<FileDto>(await call("GET", `${filesPath(routed.id)}/${file.id}`), 200)).toEqual(file);
    const download = await jsonOf<DownloadDto>(
      await call("GET", `${filesPath(routed.id)}/${file.id}/download`),
      200,
    );
    const served = await fetchDownload(download.url);
    expect(served.status).toBe(200);
    expect(new Uint8Array(await served.arrayBuffer())).toEqual(PDF);

    expect((await call("DELETE", `${filesPath(routed.id)}/${file.id}`)).status).toBe(204);
    expect(await fileIdsIn(TENANT_DB, routed.id)).toEqual([]);
    // The object's purge is written beside the row it replaced: in the tenant database.
    expect(await purgeKeysIn(TENANT_DB, routed.id)).toContain(`files/${routed.id}/${file.id}`);
    expect(await purgeKeysIn(SHARED_DB, routed.id)).toEqual([]);
    expect((await call("GET", `${filesPath(routed.id)}/${file.id}`)).status).toBe(404);
  });

  it("counts the quota in its own database", async () => {
    const org = await createOrg(owner.user);
    const vars = {
      TENANT_DATABASES: JSON.stringify({ [org.id]: "TENANT_DB_EXAMPLE" }),
      FILES_ORG_QUOTA_BYTES: "1000",
    };
    const create = (size: number) =>
      apiWith(vars, "POST", filesPath(org.id), {
        token: owner.token,
        body: { name: "q.txt", content_type: "text/plain", size },
      });
    expect((await create(600)).status).toBe(201);
    expect(await problemOf(await create(401), 409)).toMatchObject({
      code: "storage_quota_exceeded",
      used_bytes: 600,
      requested_bytes: 401,
    });
    expect((await create(400)).status).toBe(201);
    expect(await fileIdsIn(TENANT_DB, org.id)).toHaveLength(2);
    expect(await fileIdsIn(SHARED_DB, org.id)).toEqual([]);
  });

  it("leaves an organization in the shared database where it was", async () => {
    const file = await upload(shared, "shared.pdf");
    expect(await fileIdsIn(SHARED_DB, shared.id)).toEqual([file.id]);
    expect(await fileIdsIn(TENANT_DB, shared.id)).toEqual([]);
    const page = await jsonOf<Page<FileDto>>(await call("GET", filesPath(shared.id)), 200);
    expect(page.data.map((f) => f.id)).toEqual([file.id]);
  });
});

describe("file ids across organizations and databases", () => {
  it("answers 404 for a routed organization's file through a shared organization's path, and back", async () => {
    const inRouted = await upload(routed, "a.pdf");
    const inShared = await upload(shared, "b.pdf");
    // The same person owns both: only the file's organization can make these 404s.
    for (const [org, id] of [
      [shared, inRouted.id],
      [routed, inShared.id],
    ] as const) {
      for (const [method, suffix] of [
        ["GET", ""],
        ["GET", "/download"],
        ["POST", "/complete"],
        ["DELETE", ""],
      ] as const) {
        const problem = await problemOf(await call(method, `${filesPath(org.id)}/${id}${suffix}`), 404);
        expect(problem.code).toBe("not_found");
      }
    }
    expect(await fileIdsIn(TENANT_DB, routed.id)).toContain(inRouted.id);
    expect(await fileIdsIn(SHARED_DB, shared.id)).toContain(inShared.id);
  });

  it("answers 404 between two organizations routed to the same database", async () => {
    const neighbour = await createOrg(owner.user);
    const both = { TENANT_DATABASES: JSON.stringify({ "*": "TENANT_DB_EXAMPLE" }) };
    const file = await upload(routed, "mine.pdf");
    const res = await apiWith(both, "GET", `${filesPath(neighbour.id)}/${file.id}`, { token: owner.token });
    expect((await problemOf(res, 404)).code).toBe("not_found");
    const list = await apiWith(both, "GET", filesPath(neighbour.id), { token: owner.token });
    expect((await jsonOf<Page<FileDto>>(list, 200)).data).toEqual([]);
  });

  it("answers 404 to a member of another organization using the routed organization's path", async () => {
    const file = await upload(routed, "private.pdf");
    const stranger = await person();
    const res = await call("GET", `${filesPath(routed.id)}/${file.id}`, undefined, stranger.token);
    expect((await problemOf(res, 404)).code).toBe("not_found");
  });
});

describe("what used to cascade", () => {
  it("deletes a routed organization's files in its database when the organization is deleted", async () => {
    const admin = await person();
    const org = await createOrg(admin.user);
    const vars = { TENANT_DATABASES: JSON.stringify({ [org.id]: "TENANT_DB_EXAMPLE" }) };
    const body = { name: "a.pdf", content_type: "application/pdf", size: PDF.length };
    const ready = await jsonOf<CreatedFileDto>(
      await apiWith(vars, "POST", filesPath(org.id), { token: admin.token, body }),
      201,
    );
    await putUpload(ready.upload, PDF);
    expect(await fileIdsIn(TENANT_DB, org.id)).toEqual([ready.id]);

    expect((await apiWith(vars, "DELETE", `/api/v1/orgs/${org.id}`, { token: admin.token })).status).toBe(
      204,
    );
    expect(await fileIdsIn(TENANT_DB, org.id)).toEqual([]);
    expect(await purgeKeysIn(TENANT_DB, org.id)).toContain(`files/${org.id}/${ready.id}`);
    // The tenant database's purges are swept by the cron like the shared one's.
    const ctx = createServiceContext({
      env: { ...env, ...vars } as Bindings,
      principal: systemPrincipal("test"),
      requestId: uuidv7(),
    });
    await purgeObjectsJob.run(ctx, new Date());
    expect(await env.FILES.head(`files/${org.id}/${ready.id}`)).toBeNull();
  });

  it("clears created_by in the tenant database when the person who uploaded is erased", async () => {
    const member = await person();
    await addMember(routed, member.user, "member");
    const file = await upload(routed, "by-member.pdf", member.token);
    expect(file.created_by).toBe(member.user.id);
    await eraseAccount(routedContext(), member.user.id);
    const kept = await jsonOf<FileDto>(await call("GET", `${filesPath(routed.id)}/${file.id}`), 200);
    expect(kept).toMatchObject({ id: file.id, status: "ready", created_by: null });
  });
});

describe("crons over every tenant database", () => {
  it("sweeps an upload nobody completed from the routed organization's database", async () => {
    const body = { name: "never.pdf", content_type: "application/pdf", size: PDF.length };
    const created = await jsonOf<CreatedFileDto>(await call("POST", filesPath(routed.id), body), 201);
    const sweepAt = new Date(Date.parse(created.upload.expires_at) + UPLOAD_GRACE_SECONDS * 1000 + 1000);
    expect(await purgeStaleFileUploads(routedContext(), sweepAt)).toBeGreaterThanOrEqual(1);
    expect(await fileIdsIn(TENANT_DB, routed.id)).not.toContain(created.id);
    expect(await purgeKeysIn(TENANT_DB, routed.id)).toContain(`files/${routed.id}/${created.id}`);
  });
});

describe("the seam", () => {
  it("routes by id (in any case), `*` for everyone else, the shared database by default", () => {
    const other = uuidv7();
    const config = (value: string) => getConfig({ ...env, TENANT_DATABASES: value } as Bindings);
    const ctx = (value: string) => ({ db: routedContext().db, env: env as Bindings, config: config(value) });
    const byId = ctx(JSON.stringify({ [routed.id.toUpperCase()]: "TENANT_DB_EXAMPLE" }));
    expect(isInSharedDatabase(byId, routed.id)).toBe(false);
    expect(isInSharedDatabase(byId, other)).toBe(true);
    expect(orgDatabase(byId, other)).toBe(byId.db);
    expect(orgDatabase(byId, routed.id)).not.toBe(byId.db);
    // One drizzle instance per binding, as getDb keeps one for DB.
    expect(orgDatabase(byId, routed.id)).toBe(orgDatabase(byId, routed.id));
    const everyone = ctx(JSON.stringify({ "*": "TENANT_DB_EXAMPLE", [routed.id]: "DB" }));
    expect(isInSharedDatabase(everyone, other)).toBe(false);
    expect(isInSharedDatabase(everyone, routed.id)).toBe(true);
    expect(tenantDatabases(everyone).map((d) => [d.binding, d.shared])).toEqual([
      ["DB", true],
      ["TENANT_DB_EXAMPLE", false],
    ]);
    expect(tenantDatabases(ctx("{}")).map((d) => d.binding)).toEqual(["DB"]);
  });

  it.each([
    ["not JSON", "{routed", "TENANT_DATABASES"],
    ["an array", '["TENANT_DB_EXAMPLE"]', "TENANT_DATABASES"],
    ["a key that is not an organization id", '{"acme":"TENANT_DB_EXAMPLE"}', "organization id"],
    [
      "a binding that does not exist",
      `{"${uuidv7()}":"TENANT_DB_MISSING"}`,
      '"TENANT_DB_MISSING" is not a D1',
    ],
    ["a binding that is not D1 (R2)", `{"${uuidv7()}":"FILES"}`, '"FILES" is not a D1 binding'],
    ["a binding name with SQL in it", `{"${uuidv7()}":"DB; drop table files"}`, "name of a D1 binding"],
  ])("refuses %s as a configuration error that says why", (_, value, message) => {
    const read = () => getConfig({ ...env, TENANT_DATABASES: value } as Bindings);
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(message);
  });

  it("answers a configuration problem, not the file, when the setting is wrong", async () => {
    const vars = { TENANT_DATABASES: JSON.stringify({ [routed.id]: "TENANT_DB_MISSING" }) };
    const res = await apiWith(vars, "GET", filesPath(routed.id), { token: owner.token });
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect((await problemOf(res, 500)).code).toBe("configuration_error");
  });
});
