import type { RouteHandler, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../../app-env";
import { IMAGE_MEDIA_TYPES, isImageMediaType } from "../../lib/image-type";
import { problems } from "../../lib/problem";
import type * as routes from "./avatar.routes";
import type { AvatarSchema } from "./avatar.schemas";
import * as avatars from "./avatar.service";

const ACCEPTED_UPLOAD_TYPES = [...IMAGE_MEDIA_TYPES, "multipart/form-data"];

/** The single `file` part of a multipart form, strictly: no other fields, exactly one file. */
async function fileFromMultipart(c: Context<AppEnv>): Promise<avatars.AvatarUpload> {
  let form: FormData;
  try {
    form = await c.req.raw.formData();
  } catch {
    throw problems.validation(
      [{ pointer: "/file", detail: "The multipart body could not be read." }],
      "Malformed multipart body.",
    );
  }
  const unknown = [...new Set([...form.keys()].filter((name) => name !== "file"))];
  if (unknown.length > 0) {
    throw problems.validation(
      unknown.map((name) => ({ pointer: `/${name}`, detail: "Unknown field; only `file` is accepted." })),
      "The form has fields other than `file`.",
    );
  }
  const parts = form.getAll("file");
  const [part] = parts;
  if (parts.length !== 1 || part === undefined || typeof part === "string") {
    throw problems.validation(
      [{ pointer: "/file", detail: parts.length > 1 ? "Send one file." : "Attach the image as a file." }],
      "The `file` field must hold exactly one file.",
    );
  }
  if (part.size > avatars.AVATAR_MAX_BYTES) throw problems.payloadTooLarge(avatars.AVATAR_MAX_BYTES);
  return { bytes: new Uint8Array(await part.arrayBuffer()), declaredType: part.type };
}

export const uploadAvatar: RouteHandler<typeof routes.uploadAvatar, AppEnv> = async (c) => {
  const declared = (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  let upload: avatars.AvatarUpload;
  if (declared === "multipart/form-data") upload = await fileFromMultipart(c);
  else if (isImageMediaType(declared))
    upload = { bytes: new Uint8Array(await c.req.arrayBuffer()), declaredType: declared };
  else throw problems.unsupportedMediaType(ACCEPTED_UPLOAD_TYPES);
  const stored = await avatars.setAvatar(c.get("ctx"), upload);
  return c.json(toAvatarDto(stored), 200);
};

/** The Avatar answer of PUT /me/avatar and of the large-upload path's complete. */
export function toAvatarDto(stored: avatars.StoredAvatar): z.infer<typeof AvatarSchema> {
  return {
    avatar_url: stored.url,
    content_type: stored.contentType,
    size: stored.size,
    width: stored.width,
    height: stored.height,
    etag: stored.etag,
    uploaded_at: stored.uploadedAt.toISOString(),
  };
}

export const deleteAvatar: RouteHandler<typeof routes.deleteAvatar, AppEnv> = async (c) => {
  await avatars.removeAvatar(c.get("ctx"));
  return c.body(null, 204);
};

export const getAvatar: RouteHandler<typeof routes.getAvatar, AppEnv> = async (c) => {
  const { object, body } = await avatars.readAvatar(
    c.get("ctx"),
    c.req.valid("param").id,
    c.req.header("if-none-match"),
  );
  const headers = new Headers({
    ETag: object.httpEtag,
    "Cache-Control": avatars.AVATAR_CACHE_CONTROL,
    "Last-Modified": object.uploaded.toUTCString(),
    // Public images: any web app may show them in an <img>, whatever site it is served from.
    "Cross-Origin-Resource-Policy": "cross-origin",
  });
  if (body === null) return c.body(null, 304, Object.fromEntries(headers));
  headers.set("Content-Type", object.httpMetadata?.contentType ?? "application/octet-stream");
  headers.set("Content-Length", String(object.size));
  headers.set("Content-Disposition", `inline; filename="avatar.${object.key.split(".").pop() ?? "img"}"`);
  return c.body(body, 200, Object.fromEntries(headers));
};
