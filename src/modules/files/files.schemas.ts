/** Organization files as the API shows them, and what it accepts. */
import { z } from "@hono/zod-openapi";
import { fileStatuses } from "../../db/schema";
import { FILE_MEDIA_TYPES, type FileMediaType } from "../../lib/file-types";
import { listQuery } from "../../lib/list-query";
import { pageSchema } from "../../lib/pagination";
import { MAX_FILE_NAME_LENGTH } from "../../lib/storage/file-names";
import { declaredMediaType, UploadSchema, uploadExample } from "../../lib/storage/upload-schema";
import { ORG_ID_EXAMPLE } from "../orgs/orgs.schemas";
import { USER_ID_EXAMPLE } from "../users/users.schemas";

export const FILE_ID_EXAMPLE = "0190c6d6-8a9b-7c0d-9e1f-2a3b4c5d6e7f";

export const fileExample = {
  id: FILE_ID_EXAMPLE,
  name: "Q3 report.pdf",
  content_type: "application/pdf",
  size: 482113,
  status: "ready" as const,
  created_by: USER_ID_EXAMPLE,
  created_at: "2026-11-21T08:30:00.000Z",
  upload_expires_at: "2026-11-21T08:45:00.000Z",
  completed_at: "2026-11-21T08:30:04.000Z",
};

export const FileSchema = z
  .object({
    id: z.uuid(),
    name: z.string().openapi({ description: "The name downloads are saved under (sanitised at creation)." }),
    content_type: z.enum(FILE_MEDIA_TYPES),
    size: z.number().int().openapi({ description: "Bytes." }),
    status: z.enum(fileStatuses).openapi({
      description:
        "`pending` until `complete` has checked the uploaded bytes, then `ready`. Only ready files can be downloaded.",
    }),
    created_by: z
      .uuid()
      .nullable()
      .openapi({ description: "The member who created it; null for an API key or an erased account." }),
    created_at: z.iso.datetime(),
    upload_expires_at: z.iso
      .datetime()
      .openapi({ description: "When the upload URL given at creation stops being accepted." }),
    completed_at: z.iso.datetime().nullable(),
  })
  .openapi("File", { example: fileExample });

export type FileDto = z.infer<typeof FileSchema>;

export const CreatedFileSchema = FileSchema.extend({ upload: UploadSchema }).openapi("CreatedFile", {
  example: {
    ...fileExample,
    status: "pending",
    completed_at: null,
    upload: uploadExample(`files/${ORG_ID_EXAMPLE}/${FILE_ID_EXAMPLE}`, "application/pdf"),
  },
});

export const FILE_NAME_EXAMPLE = "Q3 report.pdf";

export const CreateFileSchema = z
  .strictObject({
    name: z
      .string()
      .trim()
      .min(1, { abort: true })
      .max(MAX_FILE_NAME_LENGTH, { abort: true })
      .regex(/^[^\p{Cc}]*$/u, "Control characters are not allowed.")
      .openapi({
        description:
          "The file's name, shown in lists and used for downloads. Stored sanitised: `/ \\ < > : \" | ? *` become `_`, invisible format characters (bidi overrides) are dropped, trailing dots and spaces trimmed.",
        example: FILE_NAME_EXAMPLE,
      }),
    content_type: declaredMediaType(
      FILE_MEDIA_TYPES as [FileMediaType, ...FileMediaType[]],
      "What the file is; `complete` checks the uploaded bytes against it (magic number, or UTF-8 text).",
      "application/pdf",
    ),
    size: z.number().int().positive().openapi({
      description:
        "Exactly how many bytes will be uploaded; at most FILES_MAX_SIZE, within the organization's quota.",
      example: 482113,
    }),
  })
  .openapi("CreateFileRequest", {
    example: { name: FILE_NAME_EXAMPLE, content_type: "application/pdf", size: 482113 },
  });

export type CreateFileInput = z.infer<typeof CreateFileSchema>;

export const DownloadSchema = z
  .object({
    url: z.url().openapi({ description: "GET it (a browser link works): the file, as an attachment." }),
    expires_at: z.iso.datetime().openapi({ description: "The URL is refused after this (5 minutes)." }),
  })
  .openapi("FileDownload", {
    example: {
      url: "http://localhost:8787/api/v1/files/download?token=eyJvcCI6ImdldCIsImtpZCI6…",
      expires_at: "2026-11-21T09:05:00.000Z",
    },
  });

export const FileParams = z.object({
  org_id: z.uuid().openapi({ param: { name: "org_id", in: "path" }, example: ORG_ID_EXAMPLE }),
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, example: FILE_ID_EXAMPLE }),
});

export const FILE_SORT_FIELDS = ["created_at", "name", "size"] as const;

export const ListFilesQuery = listQuery({
  sort: FILE_SORT_FIELDS,
  defaultSort: "-created_at",
  filters: {
    "filter[status]": z.enum(fileStatuses).openapi({
      description: "`ready` (the default) or `pending` (created, not completed yet).",
      example: "ready",
    }),
  },
});

export const FilePageSchema = pageSchema(FileSchema, "FilePage");
