import { z } from "@hono/zod-openapi";
import { IMAGE_MEDIA_TYPES } from "../../lib/image-type";
import { AVATAR_MAX_BYTES } from "./avatar.service";
import { USER_ID_EXAMPLE } from "./users.schemas";

export const AvatarSchema = z
  .object({
    avatar_url: z
      .string()
      .openapi({ description: "Where the image is served (also the profile's `avatar_url`)." }),
    content_type: z.enum(IMAGE_MEDIA_TYPES).openapi({ description: "Decided by the file's magic bytes." }),
    size: z.number().int().openapi({ description: "Bytes." }),
    width: z.number().int(),
    height: z.number().int(),
    etag: z.string().openapi({ description: "The `ETag` GET answers with." }),
    uploaded_at: z.iso.datetime(),
  })
  .openapi("Avatar", {
    example: {
      avatar_url: `/api/v1/users/${USER_ID_EXAMPLE}/avatar`,
      content_type: "image/png",
      size: 48213,
      width: 512,
      height: 512,
      etag: '"3f0c8c6a1d2e4b5f9a7c6d5e4f3a2b1c"',
      uploaded_at: "2026-11-21T08:30:00.000Z",
    },
  });

const binary = (mediaType: string) => ({
  schema: {
    type: "string" as const,
    format: "binary",
    description: `The ${mediaType} file itself, at most ${AVATAR_MAX_BYTES} bytes.`,
  },
});

/**
 * Plain OpenAPI schemas, not zod: the route reads the body itself (raw bytes or one
 * multipart part), so no JSON or form validator runs on it.
 */
export const avatarRequestBody = {
  required: true,
  description: `The image as the raw body (Content-Type one of ${IMAGE_MEDIA_TYPES.join(", ")}) or as the \`file\` field of a multipart form. At most 2 MiB; the content must really be that type (magic bytes).`,
  content: {
    ...Object.fromEntries(IMAGE_MEDIA_TYPES.map((type) => [type, binary(type)])),
    "multipart/form-data": {
      schema: {
        type: "object" as const,
        properties: {
          file: {
            type: "string" as const,
            format: "binary",
            description:
              "The image, with its own Content-Type (image/png, image/jpeg, image/webp or image/gif).",
          },
        },
        required: ["file"],
        additionalProperties: false,
      },
    },
  },
};

export const avatarImageResponse = {
  description: "The image. `ETag` identifies this version; send it back as `If-None-Match` to get a 304.",
  headers: {
    ETag: { description: "Version of the image.", schema: { type: "string" as const } },
    "Cache-Control": { description: "`public, max-age=300`.", schema: { type: "string" as const } },
  },
  content: Object.fromEntries(
    IMAGE_MEDIA_TYPES.map((type) => [type, { schema: { type: "string" as const, format: "binary" } }]),
  ),
};
