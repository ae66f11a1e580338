/**
 * Files and the storage behind them: the per-organization quota (pending uploads
 * included, under concurrent creates), presigned R2 URLs when R2_S3_* is set (their
 * SigV4 signatures recomputed from the spec), the cron that removes uploads nobody
 * completed, R2 purges after a delete (a late upload included) and after the
 * organization's deletion, and the R2_S3_* configuration rules.
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { files, type Organization, objectPurges } from "../src/db/schema";
import { ConfigError, getConfig } from "../src/env";
import { purgeObjectsJob } from "../src/lib/storage/object-purges.cron";
import { UPLOAD_GRACE_SECONDS } from "../src/lib/storage/transfer-urls";
import { purgeStaleFileUploads } from "../src/modules/files/files.cron";
import { wiring } from "../src/modules/wiring";
import { type Person, person, serviceContext } from "./support/factories";
import {
  checkPresignedUrl,
  createFile,
  type DownloadDto,
  type FileDto,
  filesPath,
  PDF,
  putUpload,
  uploadFile,
} from "./support/files";
import { api, apiWith, jsonOf, problemOf } from "./support/http";
import { createOrg } from "./support/orgs";
import { tenantDatabaseOf } from "./support/tenant-databases";

afterEach(() => {
  vi.useRealTimers();
});

let owner: Person;
beforeAll(async () => {
  owner = await person();
});

const keyOf = (orgId: string, fileId: string) => `files/${orgId}/${fileId}`;
const exists = async (key: string) => (await env.FILES.head(key)) !== null;

describe("quota (FILES_ORG_QUOTA_BYTES)", () => {
  const QUOTA = { FILES_ORG_QUOTA_BYTES: "1000" };
  const create = (org: Organization, size: number) =>
    apiWith(QUOTA, "POST", filesPath(org.id), {
      token: owner.token,
      body: { name: "q.txt", content_type: "text/plain", size },
    });

  it("counts pending uploads, refuses what does not fit with the numbers, and frees space on delete", async () => {
    const org = await createOrg(owner.user);
    const first = await jsonOf<FileDto>(await create(org, 600), 201);
    const problem = await problemOf(await create(org, 401), 409);
    expect(problem).toMatchObject({
      code: "storage_quota_exceeded",
      quota_bytes: 1000,
      used_bytes: 600,
      requested_bytes: 401,
    });
    // Exactly up to the quota is fine.
    expect((await create(org, 400)).status).toBe(201);
    expect((await create(org, 1)).status).toBe(409);
    expect((await owner.api.delete(`${filesPath(org.id)}/${first.id}`)).status).toBe(204);
    expect((await create(org, 600)).status).toBe(201);
    // Another organization has its own quota.
    expect((await create(await createOrg(owner.user), 1000)).status).toBe(201);
  });

  it("holds under concurrent creates racing for the last bytes", async () => {
    const org = await createOrg(owner.user);
    expect((await create(org, 600)).status).toBe(201);
    const two = await Promise.all([create(org, 300), create(org, 300)]);
    expect(two.map((res) => res.status).sort()).toEqual([201, 409]);

    const another = await createOrg(owner.user);
    const ten = await Promise.all(Array.from({ length: 10 }, () => create(another, 150)));
    expect(ten.filter((res) => res.status === 201)).toHaveLength(6);
    expect(ten.filter((res) => res.status === 409)).toHaveLength(4);
    const reserved = await tenantDatabaseOf(another.id)
      .select({ size: files.size })
      .from(files)
      .where(eq(files.organizationId, another.id));
    expect(reserved.reduce((sum, row) => sum + row.size, 0)).toBe(900);
  });
});

describe("presigned mode (R2_S3_* set)", () => {
  const S3 = {
    R2_S3_ENDPOINT: "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com",
    R2_S3_BUCKET: "edge-api-platform-files",
    R2_S3_ACCESS_KEY_ID: "8f2a61d4c0b9e7a35d1f0c2b4a6e8d90",
    R2_S3_SECRET_ACCESS_KEY: "0f9e8d7c6b5a49382716f5e4d3c2b1a00f9e8d7c6b5a49382716f5e4d3c2b1a0",
  };

  it("the spec check agrees with AWS's own presigned-URL example", async () => {
    // https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html (GET /test.txt).
    const example =
      "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
    const checked = await checkPresignedUrl(example, "GET", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    expect(checked.valid).toBe(true);
  });

  it("answers an upload URL to R2 that binds the type, the length and If-None-Match: *", async () => {
    const org = await createOrg(owner.user);
    const before = Date.now();
    const created = await createFile(
      owner.token,
      org.id,
      { name: "s3.pdf", content_type: "application/pdf", size: PDF.length },
      S3,
    );
    const url = new URL(created.upload.url);
    expect(url.origin).toBe(S3.R2_S3_ENDPOINT);
    expect(url.pathname).toBe(`/${S3.R2_S3_BUCKET}/${keyOf(org.id, created.id)}`);
    expect(created.upload.method).toBe("PUT");
    expect(created.upload.headers).toEqual({ "Content-Type": "application/pdf", "If-None-Match": "*" });

    const sent = { ...created.upload.headers, "Content-Length": String(PDF.length) };
    const checked = await checkPresignedUrl(created.upload.url, "PUT", S3.R2_S3_SECRET_ACCESS_KEY, sent);
    expect(checked.valid).toBe(true);
    expect(checked.signedHeaders).toEqual(["content-length", "content-type", "host", "if-none-match"]);
    expect(checked.expires).toBe(900);
    expect(checked.credential).toEqual({
      accessKeyId: S3.R2_S3_ACCESS_KEY_ID,
      date: checked.amzDate.slice(0, 8),
      region: "auto",
      service: "s3",
    });
    // Signed at the moment the URL was made (X-Amz-Date has whole seconds), valid as long as it says.
    const signedAt = Date.parse(
      checked.amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z"),
    );
    expect(signedAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    const expiresAt = Date.parse(created.upload.expires_at);
    expect(expiresAt - signedAt).toBeGreaterThanOrEqual(900_000);
    expect(expiresAt - signedAt).toBeLessThan(901_000);

    // R2 would refuse anything else: another length, another type, without If-None-Match, another key.
    const refuse = async (
      headers: Record<string, string>,
      secret = S3.R2_S3_SECRET_ACCESS_KEY,
      method = "PUT",
    ) => (await checkPresignedUrl(created.upload.url, method, secret, headers)).valid;
    expect(await refuse({ ...sent, "Content-Length": String(PDF.length + 1) })).toBe(false);
    expect(await refuse({ ...sent, "Content-Type": "text/html" })).toBe(false);
    expect(await refuse({ ...sent, "If-None-Match": '"etag"' })).toBe(false);
    expect(await refuse(sent, "another-secret")).toBe(false);
    expect(await refuse(sent, S3.R2_S3_SECRET_ACCESS_KEY, "GET")).toBe(false);
    const otherKey = created.upload.url.replace(created.id, crypto.randomUUID());
    expect((await checkPresignedUrl(otherKey, "PUT", S3.R2_S3_SECRET_ACCESS_KEY, sent)).valid).toBe(false);
  });

  it("completes what the client put in R2, and answers a presigned attachment download", async () => {
    const org = await createOrg(owner.user);
    const created = await createFile(
      owner.token,
      org.id,
      { name: "Übersicht 2026.pdf", content_type: "application/pdf", size: PDF.length },
      S3,
    );
    // What R2 does with the client's PUT to the presigned URL.
    await env.FILES.put(keyOf(org.id, created.id), PDF, { httpMetadata: { contentType: "application/pdf" } });
    const done = await jsonOf<FileDto>(
      await apiWith(S3, "POST", `${filesPath(org.id)}/${created.id}/complete`, { token: owner.token }),
      200,
    );
    expect(done.status).toBe("ready");

    const download = await jsonOf<DownloadDto>(
      await apiWith(S3, "GET", `${filesPath(org.id)}/${created.id}/download`, { token: owner.token }),
      200,
    );
    const url = new URL(download.url);
    expect(url.origin).toBe(S3.R2_S3_ENDPOINT);
    expect(url.pathname).toBe(`/${S3.R2_S3_BUCKET}/${keyOf(org.id, created.id)}`);
    expect(url.searchParams.get("response-content-disposition")).toBe(
      `attachment; filename="_bersicht 2026.pdf"; filename*=UTF-8''%C3%9Cbersicht%202026.pdf`,
    );
    expect(url.searchParams.get("response-content-type")).toBe("application/pdf");
    expect(url.searchParams.get("response-cache-control")).toBe("private, no-store");
    const checked = await checkPresignedUrl(download.url, "GET", S3.R2_S3_SECRET_ACCESS_KEY);
    expect(checked.valid).toBe(true);
    expect(checked.signedHeaders).toEqual(["host"]);
    expect(checked.expires).toBe(300);
    // The disposition is signed: a link that asks R2 to show the file inline is refused.
    url.searchParams.set("response-content-disposition", "inline");
    expect((await checkPresignedUrl(url.toString(), "GET", S3.R2_S3_SECRET_ACCESS_KEY)).valid).toBe(false);
  });

  it("checks the content the client put there like the on-API path does", async () => {
    const org = await createOrg(owner.user);
    const created = await createFile(
      owner.token,
      org.id,
      { name: "fake.pdf", content_type: "application/pdf", size: 16 },
      S3,
    );
    await env.FILES.put(
      keyOf(org.id, created.id),
      new TextEncoder().encode("<script>x</script>".slice(0, 16)),
    );
    const problem = await problemOf(
      await apiWith(S3, "POST", `${filesPath(org.id)}/${created.id}/complete`, { token: owner.token }),
      422,
    );
    expect(problem.code).toBe("file_content_mismatch");
    expect(await exists(keyOf(org.id, created.id))).toBe(false);
  });

  it("needs all four variables, or none", () => {
    const { R2_S3_SECRET_ACCESS_KEY: _, ...three } = S3;
    expect(() => getConfig({ ...env, ...three, R2_S3_SECRET_ACCESS_KEY: "" })).toThrow(ConfigError);
    expect(() => getConfig({ ...env, ...three, R2_S3_SECRET_ACCESS_KEY: "" })).toThrow(
      /R2_S3_SECRET_ACCESS_KEY/,
    );
    expect(getConfig({ ...env, ...S3 }).r2S3).toEqual({
      endpoint: S3.R2_S3_ENDPOINT,
      bucket: S3.R2_S3_BUCKET,
      accessKeyId: S3.R2_S3_ACCESS_KEY_ID,
      secretAccessKey: S3.R2_S3_SECRET_ACCESS_KEY,
    });
    expect(getConfig({ ...env }).r2S3).toBeNull();
    expect(() => getConfig({ ...env, ...S3, R2_S3_BUCKET: "Not_A_Bucket" })).toThrow(/R2_S3_BUCKET/);
  });
});

describe("orphaned uploads (cron files.purge_stale_uploads, then storage.purge_objects)", () => {
  it("removes pending files once their URL expired plus the grace, with their objects; nothing else", async () => {
    const org = await createOrg(owner.user);
    const uploaded = await createFile(owner.token, org.id, {
      name: "u.pdf",
      content_type: "application/pdf",
      size: PDF.length,
    });
    expect((await putUpload(uploaded.upload, PDF)).status).toBe(204);
    const never = await createFile(owner.token, org.id, {
      name: "n.pdf",
      content_type: "application/pdf",
      size: 9,
    });
    const ready = await uploadFile(owner.token, org.id, "r.pdf", "application/pdf", PDF);
    const expiry = Date.parse(uploaded.upload.expires_at);
    const late = await createFile(owner.token, org.id, {
      name: "l.pdf",
      content_type: "application/pdf",
      size: 9,
    });
    // One still within its grace at the time the cron runs.
    await tenantDatabaseOf(org.id)
      .update(files)
      .set({ uploadExpiresAt: new Date(expiry + 10 * 60_000) })
      .where(eq(files.id, late.id));

    const ctx = serviceContext();
    const ids = async () =>
      (
        await tenantDatabaseOf(org.id)
          .select({ id: files.id })
          .from(files)
          .where(eq(files.organizationId, org.id))
      )
        .map((r) => r.id)
        .sort();
    // Other files of this test file may be swept too: only this organization's rows are looked at.
    await purgeStaleFileUploads(ctx, new Date(expiry + UPLOAD_GRACE_SECONDS * 1000 - 1000));
    expect(await ids()).toEqual([uploaded.id, never.id, ready.id, late.id].sort());
    const runAt = new Date(Date.parse(never.upload.expires_at) + UPLOAD_GRACE_SECONDS * 1000 + 1000);
    expect(await purgeStaleFileUploads(ctx, runAt)).toBeGreaterThanOrEqual(2);
    expect(await ids()).toEqual([ready.id, late.id].sort());

    // The object goes with the next purge run; the ready file's object stays.
    expect(await exists(keyOf(org.id, uploaded.id))).toBe(true);
    await purgeObjectsJob.run(ctx, runAt);
    expect(await exists(keyOf(org.id, uploaded.id))).toBe(false);
    expect(await exists(keyOf(org.id, ready.id))).toBe(true);
    const purges = await tenantDatabaseOf(org.id)
      .select()
      .from(objectPurges)
      .where(eq(objectPurges.r2Key, keyOf(org.id, uploaded.id)));
    expect(purges).toEqual([]);
  });

  it("are both listed in the wiring, the sweeps before the purge that deletes what they sweep", () => {
    const names = wiring.maintenanceJobs.map((job) => job.name);
    const purge = names.indexOf("storage.purge_objects");
    expect(names.indexOf("files.purge_stale_uploads")).toBeGreaterThan(-1);
    expect(names.indexOf("files.purge_stale_uploads")).toBeLessThan(purge);
    expect(names.indexOf("avatars.purge_stale_uploads")).toBeLessThan(purge);
  });
});

describe("R2 purges", () => {
  it("sweep an object a late upload wrote after its file was deleted", async () => {
    const org = await createOrg(owner.user);
    const created = await createFile(owner.token, org.id, {
      name: "late.pdf",
      content_type: "application/pdf",
      size: PDF.length,
    });
    expect((await owner.api.delete(`${filesPath(org.id)}/${created.id}`)).status).toBe(204);
    // The URL is still valid: the bytes land, but no file points at them.
    expect((await putUpload(created.upload, PDF)).status).toBe(204);
    const ctx = serviceContext();
    await purgeObjectsJob.run(ctx, new Date());
    const sweepAt = new Date(Date.parse(created.upload.expires_at) + UPLOAD_GRACE_SECONDS * 1000 + 1);
    await purgeObjectsJob.run(ctx, sweepAt);
    expect(await exists(keyOf(org.id, created.id))).toBe(false);
    expect(
      await tenantDatabaseOf(org.id)
        .select()
        .from(objectPurges)
        .where(eq(objectPurges.r2Key, keyOf(org.id, created.id))),
    ).toEqual([]);
  });

  it("remove an organization's objects once its deletion has committed", async () => {
    const admin = await person();
    const org = await createOrg(admin.user);
    const ready = await uploadFile(admin.token, org.id, "a.pdf", "application/pdf", PDF);
    const pending = await createFile(admin.token, org.id, {
      name: "b.pdf",
      content_type: "application/pdf",
      size: PDF.length,
    });
    expect((await putUpload(pending.upload, PDF)).status).toBe(204);
    const other = await createOrg(admin.user);
    const kept = await uploadFile(admin.token, other.id, "c.pdf", "application/pdf", PDF);

    expect((await api("DELETE", `/api/v1/orgs/${org.id}`, { token: admin.token })).status).toBe(204);
    expect(
      await tenantDatabaseOf(org.id).select().from(files).where(eq(files.organizationId, org.id)),
    ).toEqual([]);
    await purgeObjectsJob.run(serviceContext(), new Date());
    expect(await exists(keyOf(org.id, ready.id))).toBe(false);
    expect(await exists(keyOf(org.id, pending.id))).toBe(false);
    expect(await exists(keyOf(other.id, kept.id))).toBe(true);
    // Swept again once their upload URLs can no longer write, then forgotten.
    const later = new Date(Date.parse(pending.upload.expires_at) + UPLOAD_GRACE_SECONDS * 1000 + 1);
    await purgeObjectsJob.run(serviceContext(), later);
    const left = await tenantDatabaseOf(org.id).select().from(objectPurges);
    expect(left.filter((row) => row.r2Key.startsWith(`files/${org.id}/`))).toEqual([]);
  });

  it("are not scheduled when the organization's deletion is refused", async () => {
    const admin = await person();
    const org = await createOrg(admin.user, { isPersonal: true });
    const file = await uploadFile(admin.token, org.id, "a.pdf", "application/pdf", PDF);
    expect((await api("DELETE", `/api/v1/orgs/${org.id}`, { token: admin.token })).status).toBe(409);
    expect(
      await tenantDatabaseOf(org.id)
        .select()
        .from(objectPurges)
        .where(eq(objectPurges.r2Key, keyOf(org.id, file.id))),
    ).toEqual([]);
    expect(await exists(keyOf(org.id, file.id))).toBe(true);
  });
});
