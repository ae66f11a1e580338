/**
 * Large avatars through an upload URL: POST /users/me/avatar/upload, PUT the image to
 * the URL, POST …/upload/{id}/complete; checked as PUT /me/avatar checks its body, a
 * refused image removed, open uploads capped, stale ones swept by the cron, and the
 * account's erasure purging them.
 */
import { env, exports } from "cloudflare:workers";
import type { z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { avatarUploads, objectPurges, users } from "../src/db/schema";
import { purgeObjectsJob } from "../src/lib/storage/object-purges.cron";
import { UPLOAD_GRACE_SECONDS } from "../src/lib/storage/transfer-urls";
import type { AvatarSchema } from "../src/modules/users/avatar.schemas";
import { AVATAR_MAX_BYTES } from "../src/modules/users/avatar.service";
import type { AvatarUploadSchema } from "../src/modules/users/avatar-upload.schemas";
import {
  AVATAR_UPLOAD_MAX_BYTES,
  OPEN_AVATAR_UPLOADS_PER_USER,
} from "../src/modules/users/avatar-upload.service";
import { purgeStaleAvatarUploads } from "../src/modules/users/avatar-uploads.cron";
import type { UserDto } from "../src/modules/users/users.schemas";
import { type Person, person, serviceContext } from "./support/factories";
import { checkPresignedUrl, putUpload } from "./support/files";
import { api, apiWith, fieldsOf, jsonOf, problemOf } from "./support/http";
import { JPEG, PHP_SHELL, PNG, padded, pngClaiming } from "./support/images";
import { createApiKey, createOrg } from "./support/orgs";
import { securitySuite } from "./support/security";

const db = getDb(env);

afterEach(() => {
  vi.useRealTimers();
});

type AvatarUploadDto = z.infer<typeof AvatarUploadSchema>;
type AvatarDto = z.infer<typeof AvatarSchema>;

const START = "/api/v1/users/me/avatar/upload";
const completePath = (id: string) => `${START}/${id}/complete`;

async function start(me: Person, contentType: string, size: number): Promise<AvatarUploadDto> {
  return jsonOf<AvatarUploadDto>(
    await me.api.post(START, { body: { content_type: contentType, size } }),
    201,
  );
}

async function storedKeys(userId: string): Promise<string[]> {
  return (await env.FILES.list({ prefix: `avatars/${userId}/` })).objects.map((o) => o.key).sort();
}

/** A large JPEG: the 1×1 fixture padded with zeros (its header still reads whole). */
const LARGE_JPEG = padded(JPEG, AVATAR_MAX_BYTES + 1_000_000);

describe("POST /users/me/avatar/upload → PUT → complete", () => {
  it("takes an image over PUT /me/avatar's 2 MiB, makes it the avatar and serves it", async () => {
    const me = await person();
    const upload = await start(me, "image/jpeg", LARGE_JPEG.length);
    expect(upload).toMatchObject({ content_type: "image/jpeg", size: LARGE_JPEG.length });
    expect(new URL(upload.upload.url).pathname).toBe("/api/v1/files/upload");
    expect(upload.upload.headers).toEqual({ "Content-Type": "image/jpeg" });

    expect((await putUpload(upload.upload, LARGE_JPEG)).status).toBe(204);
    const avatar = await jsonOf<AvatarDto>(await me.api.post(completePath(upload.id)), 200);
    expect(avatar).toMatchObject({
      avatar_url: `/api/v1/users/${me.user.id}/avatar`,
      content_type: "image/jpeg",
      size: LARGE_JPEG.length,
      width: 1,
      height: 1,
    });
    expect(await storedKeys(me.user.id)).toEqual([`avatars/${me.user.id}/${upload.id}.jpg`]);
    const profile = await jsonOf<UserDto>(await me.api.get("/api/v1/users/me"), 200);
    expect(profile.avatar_url).toBe(avatar.avatar_url);
    const served = await api("GET", `/api/v1/users/${me.user.id}/avatar`);
    expect(served.headers.get("content-type")).toBe("image/jpeg");
    expect(served.headers.get("etag")).toBe(avatar.etag);
    expect(new Uint8Array(await served.arrayBuffer())).toEqual(LARGE_JPEG);
    // Done: the upload is forgotten, and its URL does not write again.
    expect(await db.select().from(avatarUploads).where(eq(avatarUploads.id, upload.id))).toEqual([]);
    expect((await problemOf(await me.api.post(completePath(upload.id)), 404)).code).toBe("not_found");
    expect((await problemOf(await putUpload(upload.upload, LARGE_JPEG), 409)).code).toBe(
      "upload_already_received",
    );
  });

  it("replaces the previous avatar, whichever way it came, and deletes its object", async () => {
    const me = await person();
    expect((await putRaw(me, PNG)).status).toBe(200);
    const [previous] = await storedKeys(me.user.id);
    const upload = await start(me, "image/png", PNG.length);
    expect((await putUpload(upload.upload, PNG)).status).toBe(204);
    expect((await me.api.post(completePath(upload.id))).status).toBe(200);
    expect(await storedKeys(me.user.id)).toEqual([`avatars/${me.user.id}/${upload.id}.png`]);
    expect(previous).not.toBe(`avatars/${me.user.id}/${upload.id}.png`);
    const row = await db.select({ key: users.avatarKey }).from(users).where(eq(users.id, me.user.id)).get();
    expect(row?.key).toBe(`avatars/${me.user.id}/${upload.id}.png`);
  });

  it("answers a presigned R2 URL when R2_S3_* is set", async () => {
    const me = await person();
    const S3 = {
      R2_S3_ENDPOINT: "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com",
      R2_S3_BUCKET: "edge-api-platform-files",
      R2_S3_ACCESS_KEY_ID: "8f2a61d4c0b9e7a35d1f0c2b4a6e8d90",
      R2_S3_SECRET_ACCESS_KEY: "0f9e8d7c6b5a49382716f5e4d3c2b1a00f9e8d7c6b5a49382716f5e4d3c2b1a0",
    };
    const res = await apiWith(S3, "POST", START, {
      token: me.token,
      body: { content_type: "image/png", size: 5000 },
    });
    const upload = await jsonOf<AvatarUploadDto>(res, 201);
    const url = new URL(upload.upload.url);
    expect(url.origin).toBe(S3.R2_S3_ENDPOINT);
    expect(url.pathname).toBe(`/${S3.R2_S3_BUCKET}/avatars/${me.user.id}/${upload.id}.png`);
    const checked = await checkPresignedUrl(upload.upload.url, "PUT", S3.R2_S3_SECRET_ACCESS_KEY, {
      ...upload.upload.headers,
      "content-length": "5000",
    });
    expect(checked.valid).toBe(true);
  });
});

/** PUT /users/me/avatar with a raw PNG body: the small-avatar path. */
function putRaw(me: Person, bytes: Uint8Array) {
  return exports.default.fetch("http://localhost/api/v1/users/me/avatar", {
    method: "PUT",
    headers: {
      authorization: `Bearer ${me.token}`,
      "content-type": "image/png",
      "cf-connecting-ip": "198.51.100.81",
    },
    body: bytes,
  });
}

describe("refusals", () => {
  it("bad input to start is a 400 naming the field", async () => {
    const me = await person();
    const cases: Array<[unknown, string[]]> = [
      [{ content_type: "image/svg+xml", size: 10 }, ["/content_type"]],
      [{ content_type: "application/pdf", size: 10 }, ["/content_type"]],
      [{ content_type: "image/png", size: AVATAR_UPLOAD_MAX_BYTES + 1 }, ["/size"]],
      [{ content_type: "image/png", size: 0 }, ["/size"]],
      [{ content_type: "image/png" }, ["/size"]],
      [{ size: 10 }, ["/content_type"]],
    ];
    for (const [body, fields] of cases) {
      expect(
        fieldsOf(await problemOf(await me.api.post(START, { body }), 400)),
        JSON.stringify(body),
      ).toEqual(fields);
    }
    expect(
      (await me.api.post(START, { body: { content_type: "IMAGE/PNG", size: AVATAR_UPLOAD_MAX_BYTES } }))
        .status,
    ).toBe(201);
  });

  it("complete before the upload: 409 upload_not_received; someone else's upload: 404", async () => {
    const me = await person();
    const upload = await start(me, "image/png", PNG.length);
    expect((await problemOf(await me.api.post(completePath(upload.id)), 409)).code).toBe(
      "upload_not_received",
    );
    const other = await person();
    expect((await problemOf(await other.api.post(completePath(upload.id)), 404)).code).toBe("not_found");
    expect((await problemOf(await me.api.post(completePath("nope")), 400)).code).toBe("validation_failed");
  });

  const hostile: Array<[string, string, Uint8Array, number, string]> = [
    ["a PHP script declared as PNG", "image/png", PHP_SHELL, 415, "unsupported_media_type"],
    ["a PNG declared as JPEG", "image/jpeg", PNG, 415, "media_type_mismatch"],
    ["an image of 5000×5000 pixels", "image/png", pngClaiming(5000, 5000), 400, "invalid_image"],
    ["a PNG cut inside its header", "image/png", PNG.subarray(0, 20), 400, "invalid_image"],
  ];
  for (const [label, declared, bytes, status, code] of hostile) {
    it(`${label}: ${status} ${code}, the upload removed and the old avatar kept`, async () => {
      const me = await person();
      expect((await putRaw(me, PNG)).status).toBe(200);
      const [kept] = await storedKeys(me.user.id);
      const upload = await start(me, declared, bytes.length);
      expect((await putUpload(upload.upload, bytes)).status).toBe(204);
      expect((await problemOf(await me.api.post(completePath(upload.id)), status)).code).toBe(code);
      expect(await storedKeys(me.user.id)).toEqual([kept]);
      expect(await db.select().from(avatarUploads).where(eq(avatarUploads.id, upload.id))).toEqual([]);
      const row = await db.select({ key: users.avatarKey }).from(users).where(eq(users.id, me.user.id)).get();
      expect(row?.key).toBe(kept);
    });
  }

  it(`at most ${OPEN_AVATAR_UPLOADS_PER_USER} open uploads: then 429 with Retry-After`, async () => {
    const me = await person();
    for (let i = 0; i < OPEN_AVATAR_UPLOADS_PER_USER; i++) await start(me, "image/png", 100);
    const res = await me.api.post(START, { body: { content_type: "image/png", size: 100 } });
    expect((await problemOf(res, 429)).code).toBe("too_many_avatar_uploads");
    const retryAfter = Number(res.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    // Once their URLs have expired, they no longer count.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 15 * 60_000 + 1000);
    const later = await person();
    expect((await later.api.post(START, { body: { content_type: "image/png", size: 100 } })).status).toBe(
      201,
    );
  });

  it("API keys cannot: 403", async () => {
    const me = await person();
    const key = await createApiKey(await createOrg(me.user), { scopes: ["*"] });
    const res = await api("POST", START, {
      token: key.secret,
      body: { content_type: "image/png", size: 10 },
    });
    expect(res.status).toBe(403);
  });
});

describe("clean-up", () => {
  it("the cron sweeps uploads nobody completed, with their objects", async () => {
    const me = await person();
    const upload = await start(me, "image/png", PNG.length);
    expect((await putUpload(upload.upload, PNG)).status).toBe(204);
    const fresh = await start(me, "image/png", PNG.length);
    await db
      .update(avatarUploads)
      .set({ expiresAt: new Date(Date.parse(upload.upload.expires_at) + 30 * 60_000) })
      .where(eq(avatarUploads.id, fresh.id));
    const runAt = new Date(Date.parse(upload.upload.expires_at) + UPLOAD_GRACE_SECONDS * 1000 + 1000);
    const ctx = serviceContext();
    await purgeStaleAvatarUploads(ctx, runAt);
    await purgeObjectsJob.run(ctx, runAt);
    const left = await db
      .select({ id: avatarUploads.id })
      .from(avatarUploads)
      .where(eq(avatarUploads.userId, me.user.id));
    expect(left.map((row) => row.id)).toEqual([fresh.id]);
    expect(await storedKeys(me.user.id)).toEqual([]);
  });

  it("erasing the account empties the prefix and purges open uploads again after their URLs expire", async () => {
    const me = await person();
    const upload = await start(me, "image/png", PNG.length);
    expect((await putUpload(upload.upload, PNG)).status).toBe(204);
    expect((await me.api.delete("/api/v1/users/me")).status).toBe(204);
    expect(await storedKeys(me.user.id)).toEqual([]);
    // A late upload through the still-valid URL lands, and is swept once the URL has expired.
    expect((await putUpload(upload.upload, PNG)).status).toBe(204);
    const key = `avatars/${me.user.id}/${upload.id}.png`;
    const purges = await db.select().from(objectPurges).where(eq(objectPurges.r2Key, key));
    expect(purges.length).toBeGreaterThan(0);
    await purgeObjectsJob.run(
      serviceContext(),
      new Date(Date.parse(upload.upload.expires_at) + UPLOAD_GRACE_SECONDS * 1000 + 1),
    );
    expect(await storedKeys(me.user.id)).toEqual([]);
  });
});

securitySuite("POST /api/v1/users/me/avatar/upload", {
  method: "POST",
  path: START,
  body: { content_type: "image/png", size: 10 },
});
securitySuite("POST /api/v1/users/me/avatar/upload/{id}/complete", {
  method: "POST",
  path: completePath(crypto.randomUUID()),
});
