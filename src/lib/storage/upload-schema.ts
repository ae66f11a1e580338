/** What every upload-URL flow (organization files, large avatars) takes and answers: the declared type, the `upload` object. */
import { z } from "@hono/zod-openapi";
import type { UploadInstructions } from "./transfer-urls";

export const UploadSchema = z
  .object({
    url: z.url().openapi({ description: "Where to PUT the bytes." }),
    method: z.literal("PUT"),
    headers: z.record(z.string(), z.string()).openapi({
      description:
        "Send exactly these headers with the PUT (they are part of the URL's signature). The body must be exactly the declared size; HTTP clients set Content-Length from it.",
    }),
    expires_at: z.iso.datetime().openapi({
      description: "The URL is refused after this (15 minutes); an upload started before may finish.",
    }),
  })
  .openapi("Upload", {
    description:
      "A short-lived, single-use URL for the bytes: presigned to R2 when R2's S3 API is configured (R2_S3_*), otherwise on this API (`PUT /api/v1/files/upload?token=…`).",
  });

export type UploadDto = z.infer<typeof UploadSchema>;

export const toUploadDto = (upload: UploadInstructions): UploadDto => ({
  url: upload.url,
  method: upload.method,
  headers: upload.headers,
  expires_at: upload.expiresAt.toISOString(),
});

/** An `upload` in OpenAPI examples: the presigned form (on-API URLs look like `http://localhost:8787/api/v1/files/upload?token=eyJ…`). */
export const uploadExample = (key: string, contentType: string): UploadDto => ({
  url: `https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com/edge-api-platform-files/${key}?X-Amz-Expires=900&X-Amz-Date=20261121T083000Z&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=…&X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost%3Bif-none-match&X-Amz-Signature=…`,
  method: "PUT",
  headers: { "Content-Type": contentType, "If-None-Match": "*" },
  expires_at: "2026-11-21T08:45:00.000Z",
});

/**
 * The declared `content_type` of an upload: one of `types`, in any letter case, with
 * any parameters dropped (`Image/PNG; x=y` is `image/png`); otherwise a 400 naming the
 * field and listing the accepted types.
 */
export function declaredMediaType<const T extends readonly [string, ...string[]]>(
  types: T,
  description: string,
  example: T[number],
) {
  return z
    .string()
    .trim()
    .toLowerCase()
    .transform((value) => value.split(";")[0]?.trim() ?? "")
    .pipe(z.enum(types, { error: () => `Use one of ${types.join(", ")}.` }))
    .openapi({ type: "string", enum: [...types], description, example });
}
