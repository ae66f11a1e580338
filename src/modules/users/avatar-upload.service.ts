/**
 * Avatars too large for PUT /users/me/avatar's 2 MiB body (a phone photo), through the
 * same upload URLs as organization files (src/lib/storage/transfer-urls.ts):
 *
 * 1. `startAvatarUpload` records the declared type and size and answers an upload URL
 *    for a fresh key under the user's avatar prefix;
 * 2. the client PUTs the image there (straight to R2, or through this API);
 * 3. `completeAvatarUpload` reads the image's header from R2 and checks it exactly as
 *    PUT /me/avatar does (avatar.service.ts → checkAvatarImage), then switches the
 *    profile to it (installAvatar) and forgets the upload.
 *
 * An upload nobody completes is removed by the cron (avatar-uploads.cron.ts).
 */
import { and, count, eq, gt, min, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { insertWhere } from "../../db/insert-where";
import { type AvatarUpload, avatarUploads } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { uuidv7 } from "../../lib/ids";
import { IMAGE_TYPES, type ImageMediaType } from "../../lib/image-type";
import { currentUser } from "../../lib/principal";
import { ProblemError, problems } from "../../lib/problem";
import { deleteRowsAndPurgeObjects, purgeObjectsOfRows } from "../../lib/storage/object-purges";
import { readObjectStart } from "../../lib/storage/object-sample";
import { type UploadInstructions, uploadInstructions } from "../../lib/storage/transfer-urls";
import { uploadNotReceived } from "../../lib/storage/upload-problems";
import type { AccountErasureStep } from "../auth/accounts";
import {
  avatarPrefix,
  checkAvatarImage,
  deleteObject,
  installAvatar,
  invalidImage,
  type StoredAvatar,
  storedAvatar,
} from "./avatar.service";

/** Largest image the upload-URL path takes (PUT /me/avatar: 2 MiB); the 4096×4096 pixel cap still holds. */
export const AVATAR_UPLOAD_MAX_BYTES = 20 * 1024 * 1024;
/** Image headers come first, but a JPEG may carry large EXIF, XMP and ICC segments before its frame header. */
export const AVATAR_SAMPLE_BYTES = 512 * 1024;
/** Uploads a user may have open at once, so nobody parks many large objects in R2 at a time. */
export const OPEN_AVATAR_UPLOADS_PER_USER = 5;

const tooManyUploads = (retryAfterSeconds: number) =>
  new ProblemError({
    status: 429,
    code: "too_many_avatar_uploads",
    detail: `You have ${OPEN_AVATAR_UPLOADS_PER_USER} avatar uploads open; complete one, or wait until the oldest URL expires.`,
    headers: { "Retry-After": String(retryAfterSeconds) },
  });

/** Seconds until the first of the user's open upload URLs expires (a slot frees). */
async function secondsUntilASlotFrees(ctx: ServiceContext, userId: string, now: number): Promise<number> {
  const [row] = await ctx.db
    .select({ first: min(avatarUploads.expiresAt) })
    .from(avatarUploads)
    .where(and(eq(avatarUploads.userId, userId), gt(avatarUploads.expiresAt, new Date(now))));
  return row?.first ? Math.max(1, Math.ceil((row.first.getTime() - now) / 1000)) : 1;
}

/** POST /users/me/avatar/upload: the upload's id and where to PUT the image. */
export async function startAvatarUpload(
  ctx: ServiceContext,
  input: { content_type: ImageMediaType; size: number },
  now: number = Date.now(),
): Promise<{ upload: AvatarUpload; instructions: UploadInstructions }> {
  const { userId } = currentUser(ctx);
  const id = uuidv7(now);
  const key = `${avatarPrefix(userId)}${id}.${IMAGE_TYPES[input.content_type].extension}`;
  const instructions = await uploadInstructions(
    ctx,
    { key, contentType: input.content_type, size: input.size },
    now,
  );
  const open = ctx.db
    .select({ value: count() })
    .from(avatarUploads)
    .where(and(eq(avatarUploads.userId, userId), gt(avatarUploads.expiresAt, new Date(now))));
  const [upload] = await insertWhere(
    ctx.db,
    avatarUploads,
    {
      id,
      userId,
      r2Key: key,
      contentType: input.content_type,
      size: input.size,
      createdAt: new Date(now),
      expiresAt: instructions.expiresAt,
    },
    sql`(${open}) < ${OPEN_AVATAR_UPLOADS_PER_USER}`,
  ).returning();
  if (!upload) throw tooManyUploads(await secondsUntilASlotFrees(ctx, userId, now));
  return { upload, instructions };
}

/**
 * The upload's row and object go: the object at once, and once more after its URL
 * expired (a late upload could write the key again).
 */
async function discardUpload(ctx: ServiceContext, upload: AvatarUpload): Promise<void> {
  await deleteRowsAndPurgeObjects(ctx.db, {
    from: avatarUploads,
    key: avatarUploads.r2Key,
    uploadExpiresAt: avatarUploads.expiresAt,
    where: eq(avatarUploads.id, upload.id),
  });
  await deleteObject(ctx, upload.r2Key);
}

/**
 * POST /users/me/avatar/upload/{id}/complete: the uploaded image becomes the avatar,
 * or is refused as PUT /me/avatar would refuse it (and removed).
 */
export async function completeAvatarUpload(ctx: ServiceContext, uploadId: string): Promise<StoredAvatar> {
  const { userId } = currentUser(ctx);
  const upload = await ctx.db
    .select()
    .from(avatarUploads)
    .where(and(eq(avatarUploads.id, uploadId), eq(avatarUploads.userId, userId)))
    .get();
  if (!upload) throw problems.notFound("avatar upload");
  const head = await ctx.env.FILES.head(upload.r2Key);
  if (!head) throw uploadNotReceived();
  if (head.size !== upload.size) {
    await discardUpload(ctx, upload);
    throw invalidImage(`The upload is ${head.size} bytes, not the ${upload.size} declared; it was removed.`);
  }
  const sample = await readObjectStart(ctx.env.FILES, upload.r2Key, head.size, AVATAR_SAMPLE_BYTES);
  if (!sample) throw uploadNotReceived();
  let image: ReturnType<typeof checkAvatarImage>;
  try {
    image = checkAvatarImage(upload.contentType, sample, sample.length < head.size);
  } catch (error) {
    await discardUpload(ctx, upload);
    throw error;
  }
  const switched = await installAvatar(ctx, userId, upload.r2Key, {
    // The cron may have given the upload up meanwhile: then its object is being purged.
    when: sql`exists (select 1 from ${avatarUploads} where ${avatarUploads.id} = ${upload.id})`,
    alsoInBatch: [ctx.db.delete(avatarUploads).where(eq(avatarUploads.id, upload.id))],
  });
  if (!switched) throw problems.notFound("avatar upload");
  return storedAvatar(userId, upload.r2Key, image, head);
}

/**
 * Account erasure step: the objects of open uploads are purged again once their URLs
 * have expired (deleteAllAvatars empties the prefix now; a late upload would refill it).
 */
export const purgeAvatarUploadsOfErasedAccount: AccountErasureStep = async (
  ctx,
  userId,
): Promise<BatchItem<"sqlite">[]> => [
  purgeObjectsOfRows(ctx.db, {
    from: avatarUploads,
    key: avatarUploads.r2Key,
    uploadExpiresAt: avatarUploads.expiresAt,
    where: eq(avatarUploads.userId, userId),
  }),
];
