/**
 * Avatars in R2, under `avatars/{user_id}/{uuid}.{ext}`. An upload is accepted
 * only when its bytes are a PNG, JPEG, WebP or GIF whose header reads whole, and
 * that type is the one the client declared. A replacement is stored under a new
 * key first, the row is switched to it, and only then is the old object deleted:
 * a failure at any step leaves the previous avatar in place. Images too large for one
 * request body go through the upload-URL path (avatar-upload.service.ts), which ends
 * with the same checks and the same switch.
 */
import { and, eq, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { users } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { uuidv7 } from "../../lib/ids";
import {
  IMAGE_MEDIA_TYPES,
  type ImageMediaType,
  type ImageType,
  inspectImage,
  isImageMediaType,
} from "../../lib/image-type";
import { serializeError } from "../../lib/logger";
import { currentUser } from "../../lib/principal";
import { ProblemError, problems } from "../../lib/problem";
import { findUserById } from "../auth/accounts";
import { avatarUrl } from "./user.dto";

export const AVATAR_MAX_BYTES = 2 * 1024 * 1024;
/** Bigger images gain nothing as an avatar and can be decompression bombs for the apps that show them. */
export const AVATAR_MAX_SIDE = 4096;
/** Public (an avatar is shown to other people, in <img> tags that send no token), revalidated after 5 minutes. */
export const AVATAR_CACHE_CONTROL = "public, max-age=300";

export const avatarPrefix = (userId: string) => `avatars/${userId}/`;

export const invalidImage = (detail: string) =>
  new ProblemError({ status: 400, code: "invalid_image", detail });

export const unsupportedImage = (detail: string) =>
  new ProblemError({
    status: 415,
    code: "unsupported_media_type",
    detail,
    extensions: { accepted_media_types: IMAGE_MEDIA_TYPES },
  });

export type AvatarUpload = { bytes: Uint8Array; declaredType: string };

export type StoredAvatar = {
  key: string;
  /** What the profile's `avatar_url` is now. */
  url: string;
  contentType: ImageMediaType;
  size: number;
  width: number;
  height: number;
  etag: string;
  uploadedAt: Date;
};

export type CheckedImage = { type: ImageType; width: number; height: number };

/**
 * The checks of an avatar's bytes, in the order a client can act on them: emptiness,
 * type, agreement, header. `sampled`: `bytes` are only the first bytes of a larger
 * upload (the large-upload path), so a header that runs past them is not "cut short".
 */
export function checkAvatarImage(declaredType: string, bytes: Uint8Array, sampled = false): CheckedImage {
  const declared = declaredType.split(";")[0]?.trim().toLowerCase() ?? "";
  if (!isImageMediaType(declared)) {
    throw unsupportedImage(
      `Declare the image as one of ${IMAGE_MEDIA_TYPES.join(", ")} (got "${declared || "nothing"}").`,
    );
  }
  const image = inspectImage(bytes, AVATAR_MAX_SIDE);
  if (!image.ok && image.reason === "empty") throw invalidImage(image.detail);
  if (!image.ok && image.reason === "unknown") throw unsupportedImage(image.detail);
  // A recognised signature of another type is a mismatch even when its header is cut short.
  const actual = image.type;
  if (actual && actual.mediaType !== declared) {
    throw new ProblemError({
      status: 415,
      code: "media_type_mismatch",
      detail: `The content is ${actual.mediaType} but was declared as ${declared}.`,
      extensions: { declared_media_type: declared, detected_media_type: actual.mediaType },
    });
  }
  if (!image.ok && image.reason === "truncated" && sampled) {
    throw invalidImage(
      `The ${image.type?.extension.toUpperCase() ?? "image"} header does not end within the bytes read.`,
    );
  }
  if (!image.ok) throw invalidImage(image.detail);
  return image;
}

/**
 * Points the profile at `key`, then deletes the object it replaces. One transaction:
 * the key read is the one this update replaces, so each replaced object is deleted
 * exactly once. `when` guards the update (e.g. "the upload is still there") and
 * `alsoInBatch` rides in the transaction; false when nothing was switched (the
 * account, or what `when` needs, is gone).
 */
export async function installAvatar(
  ctx: ServiceContext,
  userId: string,
  key: string,
  options: { when?: SQL; alsoInBatch?: BatchItem<"sqlite">[] } = {},
): Promise<boolean> {
  const [[before], [after]] = await ctx.db.batch([
    ctx.db.select({ avatarKey: users.avatarKey }).from(users).where(eq(users.id, userId)),
    ctx.db
      .update(users)
      .set({ avatarKey: key, updatedAt: new Date() })
      .where(and(eq(users.id, userId), options.when))
      .returning({ id: users.id }),
    ...(options.alsoInBatch ?? []),
  ]);
  if (!after) return false;
  if (before?.avatarKey && before.avatarKey !== key) await deleteObject(ctx, before.avatarKey);
  return true;
}

/** PUT /users/me/avatar. */
export async function setAvatar(ctx: ServiceContext, upload: AvatarUpload): Promise<StoredAvatar> {
  const { userId } = currentUser(ctx);
  if (upload.bytes.length > AVATAR_MAX_BYTES) throw problems.payloadTooLarge(AVATAR_MAX_BYTES);
  const image = checkAvatarImage(upload.declaredType, upload.bytes);
  const key = `${avatarPrefix(userId)}${uuidv7()}.${image.type.extension}`;
  const object = await ctx.env.FILES.put(key, upload.bytes, {
    httpMetadata: { contentType: image.type.mediaType, cacheControl: AVATAR_CACHE_CONTROL },
    customMetadata: { user_id: userId, width: String(image.width), height: String(image.height) },
  });
  if (!(await installAvatar(ctx, userId, key))) {
    await deleteObject(ctx, key);
    throw problems.unauthorized("The account no longer exists.", "invalid_token");
  }
  return storedAvatar(userId, key, image, object);
}

/** What PUT /me/avatar (and the large-upload path's complete) answers about the avatar now stored. */
export function storedAvatar(
  userId: string,
  key: string,
  image: CheckedImage,
  object: R2Object,
): StoredAvatar {
  return {
    key,
    url: avatarUrl({ id: userId, avatarKey: key }) ?? "",
    contentType: image.type.mediaType,
    size: object.size,
    width: image.width,
    height: image.height,
    etag: object.httpEtag,
    uploadedAt: object.uploaded,
  };
}

/** DELETE /users/me/avatar: idempotent. */
export async function removeAvatar(ctx: ServiceContext): Promise<void> {
  const { userId } = currentUser(ctx);
  const [[before]] = await ctx.db.batch([
    ctx.db.select({ avatarKey: users.avatarKey }).from(users).where(eq(users.id, userId)),
    ctx.db.update(users).set({ avatarKey: null, updatedAt: new Date() }).where(eq(users.id, userId)),
  ]);
  if (before?.avatarKey) await deleteObject(ctx, before.avatarKey);
}

/**
 * GET /users/{id}/avatar: the object with its body, or without it (`notModified`)
 * when `ifNoneMatch` names its current ETag. 404 when the user or avatar is absent.
 */
export async function readAvatar(
  ctx: ServiceContext,
  userId: string,
  ifNoneMatch?: string,
): Promise<{ object: R2Object; body: ReadableStream | null }> {
  const user = await findUserById(ctx, userId);
  if (!user?.avatarKey) throw problems.notFound("avatar");
  const conditions = new Headers();
  if (ifNoneMatch) conditions.set("if-none-match", ifNoneMatch);
  const object = await ctx.env.FILES.get(user.avatarKey, { onlyIf: conditions });
  if (!object) throw problems.notFound("avatar");
  return { object, body: "body" in object ? object.body : null };
}

export async function deleteObject(ctx: ServiceContext, key: string): Promise<void> {
  try {
    await ctx.env.FILES.delete(key);
  } catch (error) {
    // The row no longer points at it: an orphan to sweep, not a failed request.
    ctx.logger.error("could not delete a replaced avatar from R2", { key, error: serializeError(error) });
  }
}

/** Account erasure step: every object under the user's prefix (current avatar and any orphan). */
export async function deleteAllAvatars(ctx: ServiceContext, userId: string): Promise<void> {
  let cursor: string | undefined;
  do {
    const listed = await ctx.env.FILES.list({ prefix: avatarPrefix(userId), cursor });
    if (listed.objects.length > 0) await ctx.env.FILES.delete(listed.objects.map((object) => object.key));
    cursor = listed.truncated ? listed.cursor : undefined;
  } while (cursor);
}
