/**
 * Avatars on R2 through HTTP: upload (raw body and multipart), serve with ETag and
 * 304, replace, delete, erase with the account, and every hostile upload refused
 * with nothing stored — proved by listing the user's R2 prefix after each one.
 */
import { env, exports } from "cloudflare:workers";
import type { z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { users } from "../src/db/schema";
import type { AvatarSchema } from "../src/modules/users/avatar.schemas";
import { AVATAR_MAX_BYTES } from "../src/modules/users/avatar.service";
import type { UserDto } from "../src/modules/users/users.schemas";
import { createUser, signIn, type TestUser, type Tokens } from "./support/factories";
import { api, as, jsonOf, problemOf } from "./support/http";
import { GIF, JPEG, PHP_SHELL, PNG, padded, pngClaiming, WEBP } from "./support/images";
import { securitySuite } from "./support/security";

const db = getDb(env);

afterEach(() => {
  vi.restoreAllMocks();
});

/** PUT /users/me/avatar: where the stored image is served, and what it is. */
type AvatarDto = z.infer<typeof AvatarSchema>;

function put(token: string, body: BodyInit | null, headers: Record<string, string> = {}) {
  return exports.default.fetch("http://localhost/api/v1/users/me/avatar", {
    method: "PUT",
    headers: { authorization: `Bearer ${token}`, "cf-connecting-ip": "198.51.100.80", ...headers },
    body,
    // A stream body needs a half-duplex request.
    ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
  } as RequestInit);
}

const putRaw = (token: string, bytes: Uint8Array, contentType: string) =>
  put(token, bytes, { "content-type": contentType });

function putFile(
  token: string,
  bytes: Uint8Array,
  filename: string,
  type: string,
  extra?: (form: FormData) => void,
) {
  const form = new FormData();
  form.append("file", new File([bytes], filename, { type }));
  extra?.(form);
  return put(token, form);
}

const getAvatar = (userId: string, headers: Record<string, string> = {}) =>
  api("GET", `/api/v1/users/${userId}/avatar`, { headers });

async function storedKeys(userId: string): Promise<string[]> {
  return (await env.FILES.list({ prefix: `avatars/${userId}/` })).objects.map((object) => object.key).sort();
}

async function avatarKeyOf(userId: string) {
  return (
    (await db.select({ key: users.avatarKey }).from(users).where(eq(users.id, userId)).get())?.key ?? null
  );
}

const bytesOf = async (res: Response) => new Uint8Array(await res.arrayBuffer());

describe("PUT /users/me/avatar → GET /users/{id}/avatar", () => {
  let account: TestUser;
  let tokens: Tokens;
  beforeAll(async () => {
    account = await createUser();
    tokens = await signIn(account.user);
  });

  it("stores a raw PNG under avatars/{user_id}/{uuid}.png and serves it publicly with ETag, Cache-Control and 304", async () => {
    const stored = await jsonOf<AvatarDto>(await putRaw(tokens.accessToken, PNG, "image/png"), 200);
    expect(stored).toMatchObject({
      avatar_url: `/api/v1/users/${account.user.id}/avatar`,
      content_type: "image/png",
      size: PNG.length,
      width: 1,
      height: 1,
    });
    const keys = await storedKeys(account.user.id);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(
      new RegExp(
        `^avatars/${account.user.id}/[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\\.png$`,
      ),
    );
    const me = await jsonOf<UserDto>(await as(tokens.accessToken).get("/api/v1/users/me"), 200);
    expect(me.avatar_url).toBe(stored.avatar_url);

    // No token needed: <img src> sends none.
    const served = await getAvatar(account.user.id);
    expect(served.status).toBe(200);
    expect(served.headers.get("content-type")).toBe("image/png");
    expect(served.headers.get("etag")).toBe(stored.etag);
    expect(served.headers.get("cross-origin-resource-policy")).toBe("cross-origin");
    expect(served.headers.get("cache-control")).toBe("public, max-age=300");
    expect(served.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await bytesOf(served)).toEqual(PNG);

    const notModified = await getAvatar(account.user.id, { "if-none-match": stored.etag });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get("etag")).toBe(stored.etag);
    expect(await notModified.text()).toBe("");
    expect((await getAvatar(account.user.id, { "if-none-match": '"something-else"' })).status).toBe(200);
  });

  it("replaces it from a multipart form: the new object is stored and the row switched before the old one is deleted", async () => {
    const before = await storedKeys(account.user.id);
    expect(before).toHaveLength(1);
    const oldKey = before[0] as string;
    const order: string[] = [];
    const put = env.FILES.put.bind(env.FILES);
    const remove = env.FILES.delete.bind(env.FILES);
    vi.spyOn(env.FILES, "put").mockImplementation(async (key, value, options) => {
      order.push(`put ${key}`);
      return put(key, value, options);
    });
    vi.spyOn(env.FILES, "delete").mockImplementation(async (keys) => {
      order.push(`delete ${String(keys)} (row points at ${await avatarKeyOf(account.user.id)})`);
      return remove(keys);
    });

    const stored = await jsonOf<AvatarDto>(
      await putFile(tokens.accessToken, GIF, "me.gif", "image/gif"),
      200,
    );
    vi.restoreAllMocks();
    const after = await storedKeys(account.user.id);
    expect(after).toHaveLength(1);
    const newKey = after[0] as string;
    expect(newKey).toMatch(/\.gif$/);
    expect(order).toEqual([`put ${newKey}`, `delete ${oldKey} (row points at ${newKey})`]);
    expect(stored.content_type).toBe("image/gif");
    const served = await getAvatar(account.user.id);
    expect(served.headers.get("content-type")).toBe("image/gif");
    expect(await bytesOf(served)).toEqual(GIF);
  });

  it("accepts JPEG and WebP too", async () => {
    for (const [bytes, type] of [
      [JPEG, "image/jpeg"],
      [WEBP, "image/webp"],
    ] as const) {
      const stored = await jsonOf<AvatarDto>(
        await putRaw(tokens.accessToken, bytes, `${type}; charset=binary`),
        200,
      );
      expect(stored.content_type).toBe(type);
      expect(await storedKeys(account.user.id)).toHaveLength(1);
    }
  });
});

describe("hostile uploads: refused, nothing stored, the old avatar stays", () => {
  let account: TestUser;
  let token: string;
  let original: { keys: string[]; etag: string };
  beforeAll(async () => {
    account = await createUser();
    token = (await signIn(account.user)).accessToken;
    const stored = await jsonOf<AvatarDto>(await putRaw(token, PNG, "image/png"), 200);
    original = { keys: await storedKeys(account.user.id), etag: stored.etag };
  });

  /** After a refused upload: the prefix still holds only the original, and it is still what is served. */
  async function expectUntouched() {
    expect(await storedKeys(account.user.id)).toEqual(original.keys);
    expect(await avatarKeyOf(account.user.id)).toBe(original.keys[0]);
    const served = await getAvatar(account.user.id);
    expect(served.headers.get("etag")).toBe(original.etag);
    expect(await bytesOf(served)).toEqual(PNG);
  }

  it("a PHP file renamed .png → 415", async () => {
    const asFile = await problemOf(await putFile(token, PHP_SHELL, "avatar.png", "image/png"), 415);
    expect(asFile.code).toBe("unsupported_media_type");
    expect(asFile.detail).toBe("The content is not a PNG, JPEG, WebP or GIF image.");
    expect((await problemOf(await putRaw(token, PHP_SHELL, "image/png"), 415)).code).toBe(
      "unsupported_media_type",
    );
    await expectUntouched();
  });

  it("a PNG declared as JPEG → 415 media_type_mismatch", async () => {
    const raw = await problemOf(await putRaw(token, PNG, "image/jpeg"), 415);
    expect(raw).toMatchObject({
      code: "media_type_mismatch",
      declared_media_type: "image/jpeg",
      detected_media_type: "image/png",
    });
    expect((await problemOf(await putFile(token, PNG, "photo.jpg", "image/jpeg"), 415)).code).toBe(
      "media_type_mismatch",
    );
    await expectUntouched();
  });

  it("2 MiB + 1 byte → 413, whether sent with a length, streamed, or as a multipart file", async () => {
    const tooBig = padded(PNG, AVATAR_MAX_BYTES + 1);
    const raw = await problemOf(await putRaw(token, tooBig, "image/png"), 413);
    expect(raw).toMatchObject({ code: "payload_too_large", max_bytes: AVATAR_MAX_BYTES });

    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let offset = 0; offset < tooBig.length; offset += 64 * 1024) {
          controller.enqueue(tooBig.subarray(offset, offset + 64 * 1024));
        }
        controller.close();
      },
    });
    expect((await problemOf(await put(token, stream, { "content-type": "image/png" }), 413)).code).toBe(
      "payload_too_large",
    );
    expect((await problemOf(await putFile(token, tooBig, "big.png", "image/png"), 413)).code).toBe(
      "payload_too_large",
    );
    await expectUntouched();
  });

  it("exactly 2 MiB is accepted (the limit is inclusive)", async () => {
    const other = await createUser();
    const otherToken = (await signIn(other.user)).accessToken;
    const stored = await jsonOf<AvatarDto>(
      await putRaw(otherToken, padded(PNG, AVATAR_MAX_BYTES), "image/png"),
      200,
    );
    expect(stored.size).toBe(AVATAR_MAX_BYTES);
  });

  it("an empty body → 400 invalid_image", async () => {
    const empty = await problemOf(await putRaw(token, new Uint8Array(), "image/png"), 400);
    expect(empty).toMatchObject({ code: "invalid_image", detail: "The upload is empty." });
    expect((await problemOf(await put(token, null, { "content-type": "image/png" }), 400)).code).toBe(
      "invalid_image",
    );
    expect((await problemOf(await putFile(token, new Uint8Array(), "a.png", "image/png"), 400)).code).toBe(
      "invalid_image",
    );
    await expectUntouched();
  });

  it("a truncated image header → 400 invalid_image", async () => {
    for (const cut of [PNG.subarray(0, 4), PNG.subarray(0, 20)]) {
      const problem = await problemOf(await putRaw(token, cut, "image/png"), 400);
      expect(problem).toMatchObject({ code: "invalid_image", detail: "The PNG header is cut short." });
    }
    expect((await problemOf(await putRaw(token, GIF.subarray(0, 10), "image/gif"), 400)).code).toBe(
      "invalid_image",
    );
    await expectUntouched();
  });

  it("an image too large in pixels → 400 invalid_image", async () => {
    const problem = await problemOf(await putRaw(token, pngClaiming(20_000, 20_000), "image/png"), 400);
    expect(problem.code).toBe("invalid_image");
    expect(problem.detail).toContain("at most 4096×4096");
    await expectUntouched();
  });

  it("a body that is not declared as an accepted image type → 415", async () => {
    for (const contentType of ["text/plain", "image/svg+xml", "application/octet-stream", "image/jpg"]) {
      const problem = await problemOf(await putRaw(token, PNG, contentType), 415);
      expect(problem.code, contentType).toBe("unsupported_media_type");
      expect(problem.accepted_media_types).toEqual(
        expect.arrayContaining(["image/png", "multipart/form-data"]),
      );
    }
    expect((await problemOf(await put(token, PNG), 415)).code).toBe("unsupported_media_type");
    // A multipart file part that does not declare an image type.
    expect((await problemOf(await putFile(token, PNG, "a.png", "application/octet-stream"), 415)).code).toBe(
      "unsupported_media_type",
    );
    await expectUntouched();
  });

  it("a multipart form without exactly one `file`, or with other fields → 400 naming the field", async () => {
    const extra = await problemOf(
      await putFile(token, PNG, "a.png", "image/png", (form) => form.append("user_id", "someone-else")),
      400,
    );
    expect(extra.errors?.map((error) => error.pointer)).toEqual(["/user_id"]);
    const two = await problemOf(
      await putFile(token, PNG, "a.png", "image/png", (form) =>
        form.append("file", new File([GIF], "b.gif")),
      ),
      400,
    );
    expect(two.errors?.map((error) => error.pointer)).toEqual(["/file"]);
    const notAFile = new FormData();
    notAFile.append("file", "just text");
    expect((await problemOf(await put(token, notAFile), 400)).errors?.map((error) => error.pointer)).toEqual([
      "/file",
    ]);
    const broken = await put(token, "--nope\r\n\r\n", {
      "content-type": "multipart/form-data; boundary=xyz",
    });
    expect((await problemOf(broken, 400)).code).toBe("validation_failed");
    await expectUntouched();
  });
});

describe("DELETE /users/me/avatar and account erasure", () => {
  it("removes the object and the URL; GET then answers 404; deleting again is still 204", async () => {
    const { user } = await createUser();
    const token = (await signIn(user)).accessToken;
    await jsonOf(await putRaw(token, PNG, "image/png"), 200);
    expect((await as(token).delete("/api/v1/users/me/avatar")).status).toBe(204);
    expect(await storedKeys(user.id)).toEqual([]);
    expect((await jsonOf<UserDto>(await as(token).get("/api/v1/users/me"), 200)).avatar_url).toBeNull();
    expect((await problemOf(await getAvatar(user.id), 404)).code).toBe("not_found");
    expect((await as(token).delete("/api/v1/users/me/avatar")).status).toBe(204);
  });

  it("deleting the account deletes every object under its prefix", async () => {
    const { user } = await createUser();
    const token = (await signIn(user)).accessToken;
    await jsonOf(await putRaw(token, PNG, "image/png"), 200);
    // An orphan from an earlier failure is swept too.
    await env.FILES.put(`avatars/${user.id}/orphan.png`, PNG);
    expect(await storedKeys(user.id)).toHaveLength(2);
    expect((await as(token).delete("/api/v1/users/me")).status).toBe(204);
    expect(await storedKeys(user.id)).toEqual([]);
  });
});

describe("GET /users/{id}/avatar errors", () => {
  it("404 for an unknown user or one without an avatar, 400 for a malformed id", async () => {
    const { user } = await createUser();
    expect((await problemOf(await getAvatar(user.id), 404)).code).toBe("not_found");
    expect((await problemOf(await getAvatar(crypto.randomUUID()), 404)).code).toBe("not_found");
    const malformed = await problemOf(await getAvatar("not-a-uuid"), 400);
    expect(malformed.errors?.[0]).toMatchObject({ parameter: "id", location: "path" });
  });
});

securitySuite("PUT /api/v1/users/me/avatar", { method: "PUT", path: "/api/v1/users/me/avatar" });
securitySuite("DELETE /api/v1/users/me/avatar", { method: "DELETE", path: "/api/v1/users/me/avatar" });
