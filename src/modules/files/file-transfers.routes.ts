/**
 * The on-API ends of upload and download URLs (src/lib/storage/transfer-urls.ts), for
 * deployments without R2's S3 API. No Authorization: the signed token in the path is
 * the credential, so a browser can use the URL as it is. The token travels in the query,
 * not the path: request logs and problem `instance`s carry the path only.
 */
import { z } from "@hono/zod-openapi";
import { FILE_MEDIA_TYPES } from "../../lib/file-types";
import { defineRoute, problemResponse, problemResponses } from "../../lib/openapi";
import { MAX_TRANSFER_TOKEN_LENGTH } from "../../lib/storage/transfer-tokens";

const tags = ["Files"];

const TokenQuery = z.object({
  token: z
    .string()
    .min(1)
    .max(MAX_TRANSFER_TOKEN_LENGTH)
    .openapi({
      param: { name: "token", in: "query" },
      description: "The signed token of a URL this API answered; never built by hand.",
      example: "eyJvcCI6InB1dCIsImtpZCI6ImRldi0xYTJiM2M0ZCIsImtleSI6ImZpbGVzLy4uLiJ9.q9v…",
    }),
});

const badToken = problemResponse(
  403,
  "The token was altered, is for the other direction, or is not this server's (`signed_url_invalid`); or it expired (`signed_url_expired`).",
);

const binary = { schema: { type: "string" as const, format: "binary" } };

export const receiveUpload = defineRoute({
  method: "put",
  path: "/upload",
  tags,
  summary: "Upload a file's bytes (on-API upload URL)",
  description:
    "The `upload.url` of POST /orgs/{org_id}/files (and of POST /users/me/avatar/upload) when R2's S3 API is not configured. Send the headers the API gave (`Content-Type`: the declared type) and exactly the declared number of bytes; the body streams into R2. Single use: once the bytes are stored, the URL answers 409. Valid for 15 minutes (an upload that started in time may finish later).",
  request: {
    query: TokenQuery,
    body: {
      required: true,
      // One wildcard entry, not one per type: a JSON type here would make defineRoute parse the body as JSON.
      description: `The file's bytes, exactly the declared size, with the declared Content-Type (${FILE_MEDIA_TYPES.join(", ")}).`,
      content: { "*/*": binary },
    },
  },
  responses: {
    204: {
      description: "Stored. Now complete the upload.",
      headers: { ETag: { description: "The stored object's ETag.", schema: { type: "string" } } },
    },
    400: problemResponse(
      400,
      "The body is shorter than declared (`upload_size_mismatch`, with `declared_size`), or `token` is missing or over 4096 characters (`validation_failed`).",
    ),
    403: badToken,
    409: problemResponse(409, "The URL was already used: the bytes are stored (`upload_already_received`)."),
    413: problemResponse(413, "The body is longer than declared (`payload_too_large`, with `max_bytes`)."),
    415: problemResponse(
      415,
      "The Content-Type is not the declared type (`unsupported_media_type`, with `accepted_media_types`).",
    ),
    ...problemResponses(429),
  },
});

export const serveDownload = defineRoute({
  method: "get",
  path: "/download",
  tags,
  summary: "Download a file (on-API download URL)",
  description:
    "The `url` of GET /orgs/{org_id}/files/{id}/download when R2's S3 API is not configured. Streams the file from R2 as an attachment under its name (`Content-Disposition`), with its stored type, `X-Content-Type-Options: nosniff`, a sandboxing Content-Security-Policy and `Cache-Control: private, no-store`. Valid for 5 minutes.",
  request: { query: TokenQuery },
  responses: {
    200: {
      description: "The file, as an attachment.",
      headers: {
        "Content-Disposition": {
          description: "`attachment; filename=\"…\"; filename*=UTF-8''…`",
          schema: { type: "string" },
        },
        ETag: { description: "The object's ETag.", schema: { type: "string" } },
      },
      content: Object.fromEntries(FILE_MEDIA_TYPES.map((type) => [type, binary])),
    },
    403: badToken,
    404: problemResponse(404, "The file was deleted since the URL was made (`not_found`)."),
    ...problemResponses(400, 429),
  },
});
