/** The `upload` object every upload-URL flow answers (organization files, large avatars), and its mapping. */
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
