/**
 * Organization files through HTTP, in on-API mode (no R2_S3_*, local R2): create, PUT
 * the bytes to the upload URL, complete, list, download through the signed URL; every
 * way an upload URL or a complete can be refused, with R2 listed after each refusal to
 * show that nothing was left behind.
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type Organization, objectPurges } from "../src/db/schema";
import { FILE_SAMPLE_BYTES } from "../src/lib/file-types";
import { UPLOAD_URL_TTL_SECONDS } from "../src/lib/storage/transfer-urls";
import { type Person, person } from "./support/factories";
import {
  CSV,
  createFile,
  type DownloadDto,
  EMPTY_ZIP,
  type FileDto,
  fetchDownload,
  filesPath,
  PDF,
  putUpload,
  streamOf,
  uploadFile,
} from "./support/files";
import { api, apiWith, fieldsOf, jsonOf, type Page, problemOf } from "./support/http";
import { GIF, JPEG, PHP_SHELL, PNG, padded, WEBP } from "./support/images";
import { createOrg } from "./support/orgs";
import { tenantDatabaseOf } from "./support/tenant-databases";

afterEach(() => {
  vi.useRealTimers();
});

let owner: Person;
let org: Organization;
beforeAll(async () => {
  owner = await person();
  org = await createOrg(owner.user);
});

const keyOf = (orgId: string, fileId: string) => `files/${orgId}/${fileId}`;
const stored = async (orgId: string, fileId: string) => env.FILES.head(keyOf(orgId, fileId));
const complete = (id: string, orgId = org.id, token = owner.token) =>
  api("POST", `${filesPath(orgId)}/${id}/complete`, { token });
const getOne = (id: string) => api("GET", `${filesPath(org.id)}/${id}`, { token: owner.token });
const bytesOf = async (res: Response) => new Uint8Array(await res.arrayBuffer());

async function downloadUrl(id: string): Promise<DownloadDto> {
  return jsonOf<DownloadDto>(
    await api("GET", `${filesPath(org.id)}/${id}/download`, { token: owner.token }),
    200,
  );
}

describe("create → PUT → complete → list → download", () => {
  it("stores the bytes under files/{org_id}/{id} and serves them back as an attachment", async () => {
    const before = Date.now();
    const res = await api("POST", filesPath(org.id), {
      token: owner.token,
      body: { name: "Q3 report.pdf", content_type: "application/pdf", size: PDF.length },
    });
    const created = await jsonOf<
      FileDto & {
        upload: { url: string; method: string; headers: Record<string, string>; expires_at: string };
      }
    >(res, 201);
    expect(res.headers.get("location")).toBe(`${filesPath(org.id)}/${created.id}`);
    expect(created).toMatchObject({
      name: "Q3 report.pdf",
      content_type: "application/pdf",
      size: PDF.length,
      status: "pending",
      created_by: owner.user.id,
      completed_at: null,
    });
    // On-API mode: a URL on this API with the token in the query, the declared type to send, 15 minutes.
    const url = new URL(created.upload.url);
    expect(url.origin).toBe("http://localhost:8787");
    expect(url.pathname).toBe("/api/v1/files/upload");
    expect(url.searchParams.get("token")).toMatch(/^[\w-]+\.[\w-]+$/);
    expect(created.upload.method).toBe("PUT");
    expect(created.upload.headers).toEqual({ "Content-Type": "application/pdf" });
    const expiresAt = Date.parse(created.upload.expires_at);
    expect(expiresAt).toBeGreaterThanOrEqual(before + UPLOAD_URL_TTL_SECONDS * 1000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + UPLOAD_URL_TTL_SECONDS * 1000);
    expect(created.upload_expires_at).toBe(created.upload.expires_at);

    // Pending files are listed only when asked for, and cannot be downloaded yet.
    const ready = await jsonOf<Page<FileDto>>(await owner.api.get(filesPath(org.id)), 200);
    expect(ready.data.map((f) => f.id)).not.toContain(created.id);
    const pending = await jsonOf<Page<FileDto>>(
      await owner.api.get(`${filesPath(org.id)}?filter[status]=pending`),
      200,
    );
    expect(pending.data.map((f) => f.id)).toContain(created.id);
    expect(
      (await problemOf(await owner.api.get(`${filesPath(org.id)}/${created.id}/download`), 409)).code,
    ).toBe("file_not_ready");

    const put = await putUpload(created.upload, PDF);
    expect(put.status).toBe(204);
    const object = await stored(org.id, created.id);
    expect(object?.size).toBe(PDF.length);
    expect(put.headers.get("etag")).toBe(object?.httpEtag);
    expect(object?.httpMetadata?.contentType).toBe("application/pdf");

    const done = await jsonOf<FileDto>(await complete(created.id), 200);
    expect(done).toMatchObject({ id: created.id, status: "ready" });
    expect(Date.parse(done.completed_at ?? "")).toBeGreaterThanOrEqual(before);
    // Completing again answers the same file.
    expect(await jsonOf<FileDto>(await complete(created.id), 200)).toEqual(done);
    expect(await jsonOf<FileDto>(await getOne(created.id), 200)).toEqual(done);

    const listed = await jsonOf<Page<FileDto>>(await owner.api.get(filesPath(org.id)), 200);
    expect(listed.data.find((f) => f.id === created.id)).toEqual(done);

    const before2 = Date.now();
    const dlRes = await owner.api.get(`${filesPath(org.id)}/${created.id}/download`);
    expect(dlRes.headers.get("cache-control")).toBe("no-store");
    const download = await jsonOf<DownloadDto>(dlRes, 200);
    expect(new URL(download.url).pathname).toBe("/api/v1/files/download");
    expect(Date.parse(download.expires_at)).toBeGreaterThanOrEqual(before2 + 5 * 60_000);
    expect(Date.parse(download.expires_at)).toBeLessThanOrEqual(Date.now() + 5 * 60_000);

    const served = await fetchDownload(download.url);
    expect(served.status).toBe(200);
    expect(served.headers.get("content-type")).toBe("application/pdf");
    expect(served.headers.get("content-length")).toBe(String(PDF.length));
    expect(served.headers.get("content-disposition")).toBe(
      `attachment; filename="Q3 report.pdf"; filename*=UTF-8''Q3%20report.pdf`,
    );
    expect(served.headers.get("x-content-type-options")).toBe("nosniff");
    expect(served.headers.get("content-security-policy")).toBe(
      "default-src 'none'; sandbox; frame-ancestors 'none'",
    );
    expect(served.headers.get("cache-control")).toBe("private, no-store");
    expect(served.headers.get("etag")).toBe(object?.httpEtag);
    expect(await bytesOf(served)).toEqual(PDF);
  });

  it("accepts every checkable type, and serves text as UTF-8", async () => {
    const cases: Array<[string, string, Uint8Array]> = [
      ["photo.png", "image/png", PNG],
      ["photo.jpg", "image/jpeg", JPEG],
      ["anim.gif", "image/gif", GIF],
      ["photo.webp", "image/webp", WEBP],
      ["archive.zip", "application/zip", EMPTY_ZIP],
      ["sheet.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", EMPTY_ZIP],
      ["notes.txt", "text/plain", new TextEncoder().encode("héllo\n")],
      ["data.csv", "text/csv", CSV],
      ["data.json", "application/json", new TextEncoder().encode('{"a":[1,2,{"b":null}]}')],
    ];
    for (const [name, type, bytes] of cases) {
      const file = await uploadFile(owner.token, org.id, name, type, bytes);
      expect(file, name).toMatchObject({ status: "ready", content_type: type, size: bytes.length });
      const served = await fetchDownload((await downloadUrl(file.id)).url);
      expect(served.headers.get("content-type"), name).toBe(
        type.startsWith("text/") || type === "application/json" ? `${type}; charset=utf-8` : type,
      );
      expect(await bytesOf(served), name).toEqual(bytes);
    }
  });

  it("takes the content type in any case and with parameters, and a streamed (chunked) body", async () => {
    const bytes = padded(PNG, 10_000);
    const created = await createFile(owner.token, org.id, {
      name: "big.png",
      content_type: "Image/PNG; charset=binary",
      size: bytes.length,
    });
    expect(created.content_type).toBe("image/png");
    expect((await putUpload(created.upload, streamOf(bytes, 999))).status).toBe(204);
    expect((await jsonOf<FileDto>(await complete(created.id), 200)).status).toBe("ready");
    expect(await bytesOf(await fetchDownload((await downloadUrl(created.id)).url))).toEqual(bytes);
  });

  it("checks only the first bytes of a large file", async () => {
    const bytes = padded(PDF, FILE_SAMPLE_BYTES * 3 + 17);
    const file = await uploadFile(owner.token, org.id, "large.pdf", "application/pdf", bytes);
    expect(file.status).toBe("ready");
    expect((await stored(org.id, file.id))?.size).toBe(bytes.length);
  });
});

describe("names", () => {
  const named = async (name: string) =>
    createFile(owner.token, org.id, { name, content_type: "text/plain", size: 3 });

  it("are sanitised: no path, no reserved or invisible characters, no trailing dots", async () => {
    expect((await named("../../etc/passwd")).name).toBe(".._.._etc_passwd");
    expect((await named('C:\\Users\\me\\a<b>:"c"|d?.txt')).name).toBe("C__Users_me_a_b___c__d_.txt");
    // A right-to-left override that would show "invoice_txt.exe" as "invoice_exe.txt".
    expect((await named("invoice_\u202Etxt.exe")).name).toBe("invoice_txt.exe");
    expect((await named("  spaced   out name .  ")).name).toBe("spaced out name");
    expect((await named(".gitignore")).name).toBe(".gitignore");
  });

  it("are sent back in Content-Disposition safely: an ASCII fallback, and the stored name UTF-8 encoded", async () => {
    const file = await uploadFile(
      owner.token,
      org.id,
      'Rapport "final" 100% – ünïcode.txt',
      "text/plain",
      new TextEncoder().encode("ok"),
    );
    const served = await fetchDownload((await downloadUrl(file.id)).url);
    expect(served.headers.get("content-disposition")).toBe(
      `attachment; filename="Rapport _final_ 100_ _ _n_code.txt"; filename*=UTF-8''Rapport%20_final_%20100%25%20%E2%80%93%20%C3%BCn%C3%AFcode.txt`,
    );
  });

  it("with nothing usable left, or control characters, are a 400 naming /name", async () => {
    for (const name of ["///", "..", " . ", "a\u0000b", "line\nbreak", "", "x".repeat(256)]) {
      const res = await owner.api.post(filesPath(org.id), {
        body: { name, content_type: "text/plain", size: 3 },
      });
      expect(fieldsOf(await problemOf(res, 400)), JSON.stringify(name)).toEqual(["/name"]);
    }
  });
});

describe("create: bad input is a 400 naming the field, never a 500", () => {
  const valid = { name: "a.pdf", content_type: "application/pdf", size: 10 };
  const cases: Array<[string, unknown, string[]]> = [
    ["an SVG", { ...valid, content_type: "image/svg+xml" }, ["/content_type"]],
    ["HTML", { ...valid, content_type: "text/html" }, ["/content_type"]],
    ["no type", { name: "a", size: 1 }, ["/content_type"]],
    ["a number as type", { ...valid, content_type: 5 }, ["/content_type"]],
    ["size 0", { ...valid, size: 0 }, ["/size"]],
    ["a negative size", { ...valid, size: -1 }, ["/size"]],
    ["a fractional size", { ...valid, size: 1.5 }, ["/size"]],
    ["a size as a string", { ...valid, size: "10" }, ["/size"]],
    ["no size", { name: "a", content_type: "text/plain" }, ["/size"]],
    ["an unknown field", { ...valid, organization_id: crypto.randomUUID() }, [""]],
  ];
  for (const [label, body, fields] of cases) {
    it(label, async () => {
      const problem = await problemOf(await owner.api.post(filesPath(org.id), { body }), 400);
      expect(problem.code).toBe("validation_failed");
      if (fields[0] === "") expect(problem.errors?.length).toBeGreaterThan(0);
      else expect(fieldsOf(problem)).toEqual(fields);
    });
  }

  it("a size over FILES_MAX_SIZE", async () => {
    const res = await apiWith({ FILES_MAX_SIZE: "1000" }, "POST", filesPath(org.id), {
      token: owner.token,
      body: { ...valid, size: 1001 },
    });
    const problem = await problemOf(res, 400);
    expect(fieldsOf(problem)).toEqual(["/size"]);
    expect(problem.errors?.[0]?.detail).toContain("1000");
    const ok = await apiWith({ FILES_MAX_SIZE: "1000" }, "POST", filesPath(org.id), {
      token: owner.token,
      body: { ...valid, size: 1000 },
    });
    expect(ok.status).toBe(201);
  });

  it("malformed ids are a 400 naming the parameter", async () => {
    for (const path of [
      `/api/v1/orgs/nope/files`,
      `${filesPath(org.id)}/nope`,
      `${filesPath(org.id)}/nope/complete`,
    ]) {
      const res = await api(path.endsWith("complete") ? "POST" : "GET", path, { token: owner.token });
      expect((await problemOf(res, 400)).code, path).toBe("validation_failed");
    }
  });
});

describe("the upload URL refuses", () => {
  async function pending(bytes: Uint8Array = PDF, contentType = "application/pdf") {
    return createFile(owner.token, org.id, { name: "x", content_type: contentType, size: bytes.length });
  }
  const withToken = (url: string, token: string) => {
    const next = new URL(url);
    next.searchParams.set("token", token);
    return next.toString();
  };

  it("a tampered token (payload or signature), a download token, and garbage: 403 signed_url_invalid", async () => {
    const created = await pending();
    const token = new URL(created.upload.url).searchParams.get("token") ?? "";
    const [payload = "", mac = ""] = token.split(".");
    // The payload, with its size changed to let a bigger body through.
    const json = JSON.parse(atob(payload.replaceAll("-", "+").replaceAll("_", "/")));
    const forged = btoa(JSON.stringify({ ...json, size: json.size * 100 }))
      .replaceAll("+", "-")
      .replaceAll("/", "_")
      .replace(/=+$/, "");
    const flipped = mac.slice(0, -2) + (mac.at(-2) === "A" ? "B" : "A") + mac.at(-1);
    const otherFile = await pending();
    const otherMac = (new URL(otherFile.upload.url).searchParams.get("token") ?? "").split(".")[1];
    const download = new URL(
      (await downloadUrl((await uploadFile(owner.token, org.id, "d.pdf", "application/pdf", PDF)).id)).url,
    ).searchParams.get("token");
    for (const [label, bad] of [
      ["forged payload", `${forged}.${mac}`],
      ["flipped signature", `${payload}.${flipped}`],
      ["another token's signature", `${payload}.${otherMac}`],
      ["a download token", download ?? ""],
      ["garbage", "not-a-token"],
      ["three parts", `${payload}.${mac}.x`],
    ] as const) {
      const res = await putUpload({ ...created.upload, url: withToken(created.upload.url, bad) }, PDF);
      expect((await problemOf(res, 403)).code, label).toBe("signed_url_invalid");
    }
    expect(await stored(org.id, created.id)).toBeNull();
    const missing = await putUpload({ ...created.upload, url: created.upload.url.split("?")[0] ?? "" }, PDF);
    expect((await problemOf(missing, 400)).code).toBe("validation_failed");
  });

  it("an expired token: 403 signed_url_expired", async () => {
    const created = await pending();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.parse(created.upload.expires_at) + 1);
    expect((await problemOf(await putUpload(created.upload, PDF), 403)).code).toBe("signed_url_expired");
    vi.useRealTimers();
    expect(await stored(org.id, created.id)).toBeNull();
  });

  it("a second use: 409 upload_already_received, the first bytes kept", async () => {
    const created = await pending();
    expect((await putUpload(created.upload, PDF)).status).toBe(204);
    const other = new Uint8Array(PDF.length).fill(0x41);
    expect((await problemOf(await putUpload(created.upload, other), 409)).code).toBe(
      "upload_already_received",
    );
    const object = await env.FILES.get(keyOf(org.id, created.id));
    expect(new Uint8Array((await object?.arrayBuffer()) ?? new ArrayBuffer(0))).toEqual(PDF);
  });

  it("two uploads at once: one is stored, the other is refused", async () => {
    const created = await pending();
    const other = new Uint8Array(PDF.length).fill(0x41);
    other.set(PDF.subarray(0, 8));
    const results = await Promise.all([putUpload(created.upload, PDF), putUpload(created.upload, other)]);
    expect(results.map((r) => r.status).sort()).toEqual([204, 409]);
    const kept = new Uint8Array(
      (await (await env.FILES.get(keyOf(org.id, created.id)))?.arrayBuffer()) ?? new ArrayBuffer(0),
    );
    expect([PDF, other]).toContainEqual(kept);
  });

  it("a body longer than declared: 413, by Content-Length or counted as it streams; nothing stored", async () => {
    const created = await pending();
    const longer = padded(PDF, PDF.length + 1);
    const byLength = await problemOf(await putUpload(created.upload, longer), 413);
    expect(byLength).toMatchObject({ code: "payload_too_large", max_bytes: PDF.length });
    const streamed = await problemOf(
      await putUpload(created.upload, streamOf(padded(PDF, PDF.length * 50), 16)),
      413,
    );
    expect(streamed.code).toBe("payload_too_large");
    expect(await stored(org.id, created.id)).toBeNull();
    // The URL still works for the right bytes.
    expect((await putUpload(created.upload, PDF)).status).toBe(204);
  });

  it("a body shorter than declared, or none: 400 upload_size_mismatch; nothing stored", async () => {
    const created = await pending();
    const short = PDF.subarray(0, PDF.length - 1);
    expect(await problemOf(await putUpload(created.upload, short), 400)).toMatchObject({
      code: "upload_size_mismatch",
      declared_size: PDF.length,
    });
    expect((await problemOf(await putUpload(created.upload, streamOf(short, 7)), 400)).code).toBe(
      "upload_size_mismatch",
    );
    expect((await problemOf(await putUpload(created.upload, null), 400)).code).toBe("upload_size_mismatch");
    expect(await stored(org.id, created.id)).toBeNull();
  });

  it("another Content-Type than declared: 415", async () => {
    const created = await pending();
    for (const type of ["text/html", "application/octet-stream"]) {
      const problem = await problemOf(await putUpload(created.upload, PDF, { "content-type": type }), 415);
      expect(problem).toMatchObject({
        code: "unsupported_media_type",
        accepted_media_types: ["application/pdf"],
      });
    }
    expect(await stored(org.id, created.id)).toBeNull();
  });
});

describe("complete refuses", () => {
  it("before anything was uploaded: 409 upload_not_received, the file still pending", async () => {
    const created = await createFile(owner.token, org.id, {
      name: "x.pdf",
      content_type: "application/pdf",
      size: 10,
    });
    expect((await problemOf(await complete(created.id), 409)).code).toBe("upload_not_received");
    expect((await jsonOf<FileDto>(await getOne(created.id), 200)).status).toBe("pending");
  });

  const mismatches: Array<[string, string, Uint8Array, string | null]> = [
    ["a PHP script declared as PNG", "image/png", PHP_SHELL, null],
    ["a PNG declared as PDF", "application/pdf", PNG, "image/png"],
    ["a PDF declared as JPEG", "image/jpeg", PDF, "application/pdf"],
    ["a ZIP declared as GIF", "image/gif", EMPTY_ZIP, "application/zip"],
    [
      "a PNG declared as a Word document",
      "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
      PNG,
      "image/png",
    ],
    ["binary declared as text (NUL bytes)", "text/plain", Uint8Array.from([0x68, 0x00, 0x69]), null],
    ["Latin-1 declared as CSV", "text/csv", Uint8Array.from([0x61, 0xe9, 0x0a]), null],
    ["text declared as JSON", "application/json", new TextEncoder().encode("hello"), null],
    ["JSON cut short", "application/json", new TextEncoder().encode('{"a": [1, 2'), null],
    ["a PNG declared as JSON", "application/json", PNG, "image/png"],
  ];
  for (const [label, declared, bytes, detected] of mismatches) {
    it(`${label}: 422 file_content_mismatch, the object and the file removed`, async () => {
      const created = await createFile(owner.token, org.id, {
        name: "x",
        content_type: declared,
        size: bytes.length,
      });
      expect((await putUpload(created.upload, bytes)).status).toBe(204);
      const problem = await problemOf(await complete(created.id), 422);
      expect(problem).toMatchObject({
        code: "file_content_mismatch",
        declared_content_type: declared,
        detected_content_type: detected,
        declared_size: bytes.length,
      });
      expect(await stored(org.id, created.id)).toBeNull();
      expect((await problemOf(await getOne(created.id), 404)).code).toBe("not_found");
      // A late upload through the same URL is swept later: its purge is scheduled.
      const purges = await tenantDatabaseOf(org.id)
        .select()
        .from(objectPurges)
        .where(eq(objectPurges.r2Key, keyOf(org.id, created.id)));
      expect(purges).toHaveLength(2);
    });
  }
});

describe("delete", () => {
  it("removes the file and its object at once; its download URL stops working", async () => {
    const file = await uploadFile(owner.token, org.id, "gone.pdf", "application/pdf", PDF);
    const download = await downloadUrl(file.id);
    expect((await owner.api.delete(`${filesPath(org.id)}/${file.id}`)).status).toBe(204);
    expect(await stored(org.id, file.id)).toBeNull();
    expect((await problemOf(await getOne(file.id), 404)).code).toBe("not_found");
    expect((await problemOf(await fetchDownload(download.url), 404)).code).toBe("not_found");
    expect((await owner.api.delete(`${filesPath(org.id)}/${file.id}`)).status).toBe(404);
  });

  it("works on a pending file too", async () => {
    const created = await createFile(owner.token, org.id, {
      name: "p.pdf",
      content_type: "application/pdf",
      size: 10,
    });
    expect((await owner.api.delete(`${filesPath(org.id)}/${created.id}`)).status).toBe(204);
    expect((await problemOf(await complete(created.id), 404)).code).toBe("not_found");
  });
});

describe("the download URL refuses", () => {
  it("a tampered, expired or upload token with 403", async () => {
    const file = await uploadFile(owner.token, org.id, "secret.pdf", "application/pdf", PDF);
    const download = await downloadUrl(file.id);
    const token = new URL(download.url).searchParams.get("token") ?? "";
    const [payload = "", mac = ""] = token.split(".");
    const json = JSON.parse(atob(payload.replaceAll("-", "+").replaceAll("_", "/")));
    const forged = btoa(JSON.stringify({ ...json, type: "text/html" }))
      .replaceAll("+", "-")
      .replaceAll("/", "_")
      .replace(/=+$/, "");
    const bad = new URL(download.url);
    bad.searchParams.set("token", `${forged}.${mac}`);
    expect((await problemOf(await fetchDownload(bad.toString()), 403)).code).toBe("signed_url_invalid");
    const created = await createFile(owner.token, org.id, {
      name: "u",
      content_type: "application/pdf",
      size: 5,
    });
    bad.searchParams.set("token", new URL(created.upload.url).searchParams.get("token") ?? "");
    expect((await problemOf(await fetchDownload(bad.toString()), 403)).code).toBe("signed_url_invalid");

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.parse(download.expires_at) + 1);
    expect((await problemOf(await fetchDownload(download.url), 403)).code).toBe("signed_url_expired");
  });
});

describe("listing", () => {
  it("pages by cursor, sorts by name and size, and refuses unknown filters and sorts", async () => {
    const other = await person();
    const own = await createOrg(other.user);
    const sizes = [5, 1, 4, 2, 3];
    for (const [i, size] of sizes.entries()) {
      await uploadFile(
        other.token,
        own.id,
        `file-${String.fromCharCode(101 - i)}.txt`,
        "text/plain",
        new TextEncoder().encode("x".repeat(size)),
      );
    }
    await createFile(other.token, own.id, { name: "pending.txt", content_type: "text/plain", size: 9 });

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
      const res = await other.api.get(`${filesPath(own.id)}?limit=2${query}`);
      const page: Page<FileDto> = await jsonOf<Page<FileDto>>(res, 200);
      expect(page.meta.total).toBe(5);
      if (page.meta.next) expect(res.headers.get("link")).toContain('rel="next"');
      seen.push(...page.data.map((f) => f.name));
      cursor = page.meta.next;
    } while (cursor);
    // Newest first by default.
    expect(seen).toEqual(["file-a.txt", "file-b.txt", "file-c.txt", "file-d.txt", "file-e.txt"]);

    const byName = await jsonOf<Page<FileDto>>(await other.api.get(`${filesPath(own.id)}?sort=name`), 200);
    expect(byName.data.map((f) => f.name)).toEqual([...seen].sort());
    const bySize = await jsonOf<Page<FileDto>>(await other.api.get(`${filesPath(own.id)}?sort=-size`), 200);
    expect(bySize.data.map((f) => f.size)).toEqual([5, 4, 3, 2, 1]);
    const pending = await jsonOf<Page<FileDto>>(
      await other.api.get(`${filesPath(own.id)}?filter[status]=pending`),
      200,
    );
    expect(pending.data.map((f) => f.name)).toEqual(["pending.txt"]);

    for (const query of ["filter[name]=x", "sort=owner", "filter[status]=gone", "limit=0", "cursor=zzz"]) {
      const res = await other.api.get(`${filesPath(own.id)}?${query}`);
      expect(res.status, query).toBe(400);
    }
  });
});
