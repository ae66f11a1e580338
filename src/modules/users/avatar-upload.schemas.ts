/** The large-avatar upload flow's request and answer (POST /users/me/avatar/upload). */
import { z } from "@hono/zod-openapi";
import { IMAGE_MEDIA_TYPES, type ImageMediaType } from "../../lib/image-type";
import { declaredMediaType, UploadSchema, uploadExample } from "../../lib/storage/upload-schema";
import { AVATAR_UPLOAD_MAX_BYTES } from "./avatar-upload.service";
import { USER_ID_EXAMPLE } from "./users.schemas";

export const AVATAR_UPLOAD_ID_EXAMPLE = "0190c6d7-1a2b-7c3d-8e4f-5a6b7c8d9e0f";

export const StartAvatarUploadSchema = z
  .strictObject({
    content_type: declaredMediaType(
      IMAGE_MEDIA_TYPES as [ImageMediaType, ...ImageMediaType[]],
      "The image's type; complete checks the bytes against it.",
      "image/jpeg",
    ),
    size: z
      .number()
      .int()
      .positive()
      .max(AVATAR_UPLOAD_MAX_BYTES, `At most ${AVATAR_UPLOAD_MAX_BYTES} bytes (20 MiB).`)
      .openapi({ description: "Exactly how many bytes will be uploaded; at most 20 MiB.", example: 3481920 }),
  })
  .openapi("StartAvatarUploadRequest", { example: { content_type: "image/jpeg", size: 3481920 } });

export const AvatarUploadSchema = z
  .object({
    id: z
      .uuid()
      .openapi({ description: "The upload; complete it at `/users/me/avatar/upload/{id}/complete`." }),
    content_type: z.enum(IMAGE_MEDIA_TYPES),
    size: z.number().int(),
    upload: UploadSchema,
  })
  .openapi("AvatarUpload", {
    example: {
      id: AVATAR_UPLOAD_ID_EXAMPLE,
      content_type: "image/jpeg",
      size: 3481920,
      upload: uploadExample(`avatars/${USER_ID_EXAMPLE}/${AVATAR_UPLOAD_ID_EXAMPLE}.jpg`, "image/jpeg"),
    },
  });

export const AvatarUploadParams = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, example: AVATAR_UPLOAD_ID_EXAMPLE }),
});
