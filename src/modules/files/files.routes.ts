import {
  defineRoute,
  jsonContent,
  jsonRequestBody,
  problemResponse,
  problemResponses,
  SECURITY,
} from "../../lib/openapi";
import { requireOrgAccess } from "../../middleware/require";
import { OrgIdParams } from "../orgs/orgs.schemas";
import {
  CreatedFileSchema,
  CreateFileSchema,
  DownloadSchema,
  FILE_ID_EXAMPLE,
  FilePageSchema,
  FileParams,
  FileSchema,
  fileExample,
  ListFilesQuery,
} from "./files.schemas";

const tags = ["Files"];
const read = requireOrgAccess("files:read");
const write = requireOrgAccess("files:write");
const notFound = problemResponse(
  404,
  "No such organization or file, or you are not in the organization (another organization's file is a 404 too).",
);
const cannotRead = problemResponse(
  403,
  "An API key without the `files:read` scope (`insufficient_scope`), or a member whose organization requires MFA (`mfa_required`).",
);
const cannotWrite = problemResponse(
  403,
  "The `billing` role (`forbidden`), an API key without the `files:write` scope (`insufficient_scope`), or a member whose organization requires MFA (`mfa_required`).",
);

export const createFile = defineRoute({
  method: "post",
  path: "/{org_id}/files",
  tags,
  summary: "Start a file upload",
  description:
    "Owners, admins and members (API keys: `files:write`). Reserves `size` bytes of the organization's quota (`FILES_ORG_QUOTA_BYTES`, uploads in progress included) and answers the pending file with `upload`: PUT exactly `size` bytes to `upload.url` with `upload.headers` before `upload.expires_at` (15 minutes), then call `complete`. The URL is presigned to R2 when R2's S3 API is configured, otherwise on this API (`PUT /api/v1/files/upload?token=…`); either way it writes this file once. A pending file nobody completes is removed an hour after its URL expired. See docs/files.md.",
  security: SECURITY.bearerOrApiKey,
  middleware: [write],
  request: { params: OrgIdParams, body: jsonRequestBody(CreateFileSchema) },
  responses: {
    201: {
      ...jsonContent(CreatedFileSchema, "Created (pending); upload the bytes to `upload.url`."),
      headers: { Location: { description: "The new file.", schema: { type: "string" } } },
    },
    400: problemResponse(
      400,
      "A missing, unknown or malformed field (`validation_failed`, naming it): a `content_type` not on the list, a `size` over FILES_MAX_SIZE, a `name` with control characters or nothing usable.",
    ),
    403: cannotWrite,
    404: notFound,
    409: problemResponse(
      409,
      "The organization's quota has no room for `size` more bytes (`storage_quota_exceeded`, with `quota_bytes`, `used_bytes`, `requested_bytes`).",
    ),
    ...problemResponses(401),
  },
});

export const completeFile = defineRoute({
  method: "post",
  path: "/{org_id}/files/{id}/complete",
  tags,
  summary: "Complete a file upload",
  description:
    "Checks the uploaded object: its size must be the declared `size`, and its first bytes must be the declared `content_type` (magic number for images, PDF and ZIP-based formats; UTF-8 text without NUL bytes for text/plain and text/csv; the start of a JSON value, or a JSON document that parses, for application/json). Then the file is `ready`. Idempotent: completing a ready file answers it again. A mismatch removes the object and the file (422 `file_content_mismatch`).",
  security: SECURITY.bearerOrApiKey,
  middleware: [write],
  request: { params: FileParams },
  responses: {
    200: jsonContent(FileSchema, "The file, ready.", fileExample),
    403: cannotWrite,
    404: notFound,
    409: problemResponse(409, "Nothing was uploaded yet (`upload_not_received`): PUT the bytes first."),
    422: problemResponse(
      422,
      "The uploaded bytes are not what was declared (`file_content_mismatch`, with `declared_content_type`, `detected_content_type`, `declared_size`): the object and the file were removed.",
    ),
    ...problemResponses(400, 401),
  },
});

export const listFiles = defineRoute({
  method: "get",
  path: "/{org_id}/files",
  tags,
  summary: "List files",
  description:
    "Every member (API keys: `files:read`). Ready files by default; `filter[status]=pending` lists uploads in progress. Sort by `created_at` (default, newest first), `name` or `size`; cursor pages with an RFC 8288 `Link` header.",
  security: SECURITY.bearerOrApiKey,
  middleware: [read],
  request: { params: OrgIdParams, query: ListFilesQuery },
  responses: {
    200: {
      ...jsonContent(FilePageSchema, "One page of files.", {
        data: [fileExample],
        meta: { next: null, prev: null, total: 1 },
      }),
      headers: {
        Link: {
          description: 'Next and previous pages (rel="next", rel="prev").',
          schema: { type: "string" },
        },
      },
    },
    400: problemResponse(
      400,
      "An unknown filter or sort field, a bad `limit` (`validation_failed`), or a cursor this API did not issue (`invalid_cursor`).",
    ),
    403: cannotRead,
    404: notFound,
    ...problemResponses(401),
  },
});

export const getFile = defineRoute({
  method: "get",
  path: "/{org_id}/files/{id}",
  tags,
  summary: "Read a file",
  description: "Every member (API keys: `files:read`); pending files too.",
  security: SECURITY.bearerOrApiKey,
  middleware: [read],
  request: { params: FileParams },
  responses: {
    200: jsonContent(FileSchema, "The file.", fileExample),
    403: cannotRead,
    404: notFound,
    ...problemResponses(400, 401),
  },
});

export const deleteFile = defineRoute({
  method: "delete",
  path: "/{org_id}/files/{id}",
  tags,
  summary: "Delete a file",
  description:
    "Owners, admins and members (API keys: `files:write`); pending or ready. The object is deleted from R2 with it, and the quota it held is free at once.",
  security: SECURITY.bearerOrApiKey,
  middleware: [write],
  request: { params: FileParams },
  responses: {
    204: { description: "Deleted." },
    403: cannotWrite,
    404: notFound,
    ...problemResponses(400, 401),
  },
});

export const downloadFile = defineRoute({
  method: "get",
  path: "/{org_id}/files/{id}/download",
  tags,
  summary: "Get a download URL",
  description: `Every member (API keys: \`files:read\`). A private, signed URL valid for 5 minutes that serves the file as an attachment under its name: presigned to R2 when R2's S3 API is configured, otherwise on this API (\`GET /api/v1/files/download?token=…\`). Only ready files; e.g. \`/api/v1/orgs/{org_id}/files/${FILE_ID_EXAMPLE}/download\`.`,
  security: SECURITY.bearerOrApiKey,
  middleware: [read],
  request: { params: FileParams },
  responses: {
    200: jsonContent(DownloadSchema, "Where to download the file, until `expires_at`."),
    403: cannotRead,
    404: notFound,
    409: problemResponse(409, "The file is still pending (`file_not_ready`)."),
    ...problemResponses(400, 401),
  },
});
