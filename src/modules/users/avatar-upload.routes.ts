import {
  defineRoute,
  jsonContent,
  jsonRequestBody,
  problemResponse,
  problemResponses,
  SECURITY,
} from "../../lib/openapi";
import { requireUser } from "../../middleware/require";
import { AvatarSchema } from "./avatar.schemas";
import { AvatarUploadParams, AvatarUploadSchema, StartAvatarUploadSchema } from "./avatar-upload.schemas";

const tags = ["Users"];

export const startAvatarUpload = defineRoute({
  method: "post",
  path: "/me/avatar/upload",
  tags,
  summary: "Start a large avatar upload",
  description:
    "For images over PUT /me/avatar's 2 MiB (up to 20 MiB; still at most 4096×4096 pixels). Answers an upload URL as POST /orgs/{org_id}/files does: PUT exactly `size` bytes to `upload.url` with `upload.headers` within 15 minutes (presigned to R2 when R2's S3 API is configured, otherwise on this API), then POST `/users/me/avatar/upload/{id}/complete`. At most 5 uploads open at once.",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { body: jsonRequestBody(StartAvatarUploadSchema) },
  responses: {
    201: jsonContent(AvatarUploadSchema, "Upload the image to `upload.url`, then complete."),
    400: problemResponse(
      400,
      "`content_type` not an accepted image type, `size` missing, not a positive integer or over 20 MiB (`validation_failed`, naming the field).",
    ),
    429: problemResponse(
      429,
      "Five uploads are open already (`too_many_avatar_uploads`, with `Retry-After`); or a rate limit.",
    ),
    ...problemResponses(401, 403),
  },
});

export const completeAvatarUpload = defineRoute({
  method: "post",
  path: "/me/avatar/upload/{id}/complete",
  tags,
  summary: "Complete a large avatar upload",
  description:
    "Checks the uploaded image as PUT /me/avatar checks its body (magic bytes, the declared type, a whole header, at most 4096×4096), then makes it the avatar and deletes the previous one. A refused image is removed; answer and codes are those of PUT /me/avatar.",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { params: AvatarUploadParams },
  responses: {
    200: jsonContent(AvatarSchema, "Stored; the profile's `avatar_url` serves it."),
    400: problemResponse(
      400,
      "The image header is cut short or impossible, or the upload is not the declared size (`invalid_image`; the upload was removed); a malformed id (`validation_failed`).",
    ),
    404: problemResponse(
      404,
      "No such upload of yours (completed already, or removed after its URL expired).",
    ),
    409: problemResponse(409, "Nothing was uploaded yet (`upload_not_received`)."),
    415: problemResponse(
      415,
      "Not a PNG, JPEG, WebP or GIF (`unsupported_media_type`), or another image type than declared (`media_type_mismatch`); the upload was removed.",
    ),
    ...problemResponses(401, 403),
  },
});
