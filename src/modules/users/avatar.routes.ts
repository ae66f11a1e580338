import type { MiddlewareHandler } from "hono";
import { defineRoute, jsonContent, problemResponse, problemResponses, SECURITY } from "../../lib/openapi";
import { limitBody } from "../../middleware/body-limit";
import { requireUser } from "../../middleware/require";
import { AvatarSchema, avatarImageResponse, avatarRequestBody } from "./avatar.schemas";
import { AVATAR_MAX_BYTES } from "./avatar.service";
import { UserIdParams } from "./users.schemas";

const tags = ["Users"];

/** Room for a multipart envelope (boundaries, part headers) around a file of the maximum size. */
const MULTIPART_OVERHEAD_BYTES = 16 * 1024;

/**
 * 2 MiB for a raw image body, counted while it streams (so 2 MiB + 1 byte is a 413
 * before anything is stored); a multipart body may be a little larger, and its
 * file part is then held to 2 MiB by the service.
 */
function limitAvatarBody(): MiddlewareHandler {
  const raw = limitBody(AVATAR_MAX_BYTES);
  const multipart = limitBody(AVATAR_MAX_BYTES + MULTIPART_OVERHEAD_BYTES);
  return async function limitAvatarBody(c, next) {
    const isMultipart = /^multipart\/form-data\b/i.test(c.req.header("content-type") ?? "");
    return (isMultipart ? multipart : raw)(c, next);
  };
}

export const uploadAvatar = defineRoute({
  method: "put",
  path: "/me/avatar",
  tags,
  summary: "Upload your avatar",
  description:
    "Send the image as the raw body with its Content-Type, or as the `file` field of a multipart form. PNG, JPEG, WebP and GIF, at most 2 MiB and 4096×4096 pixels. The type is decided by the content's magic bytes and must be the declared one. The new image replaces the old one only once it is stored; the old one is then deleted.",
  security: SECURITY.bearer,
  middleware: [requireUser(), limitAvatarBody()],
  request: { body: avatarRequestBody },
  responses: {
    200: jsonContent(AvatarSchema, "Stored; the profile's `avatar_url` serves it."),
    400: problemResponse(
      400,
      "Empty upload, an image header cut short or impossible (`invalid_image`), or a malformed multipart form (`validation_failed`).",
    ),
    413: problemResponse(413, "Larger than 2 MiB (`payload_too_large`)."),
    415: problemResponse(
      415,
      "Not a PNG, JPEG, WebP or GIF, or not declared as one (`unsupported_media_type`); content of another type than declared (`media_type_mismatch`).",
    ),
    ...problemResponses(401, 403),
  },
});

export const deleteAvatar = defineRoute({
  method: "delete",
  path: "/me/avatar",
  tags,
  summary: "Remove your avatar",
  description: "Idempotent: 204 whether or not there was one.",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  responses: {
    204: { description: "Removed (or there was none)." },
    ...problemResponses(401, 403),
  },
});

export const getAvatar = defineRoute({
  method: "get",
  path: "/{id}/avatar",
  tags,
  summary: "A user's avatar image",
  description:
    "Public, so `<img src>` works without a token. Streams the image from R2 with `ETag` and `Cache-Control: public, max-age=300`; `If-None-Match` with the current ETag answers 304 without a body.",
  request: { params: UserIdParams },
  responses: {
    200: avatarImageResponse,
    304: { description: "Not modified: the ETag sent is current." },
    404: problemResponse(404, "No such user, or no avatar."),
    ...problemResponses(400),
  },
});
