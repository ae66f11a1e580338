/**
 * An organization's files in R2. The client never sends the bytes to these verbs:
 *
 * 1. `createFile` reserves the declared size in the organization's quota (one
 *    conditional INSERT, so concurrent creates cannot overshoot it) and answers an
 *    upload URL for the file's own key (src/lib/storage/transfer-urls.ts);
 * 2. the client PUTs the bytes there (straight to R2, or through this API);
 * 3. `completeFile` reads the object's size and first bytes and holds them to what was
 *    declared (src/lib/file-types.ts): a match makes the file `ready`, a mismatch
 *    removes the object and the file;
 * 4. `fileDownload` hands out a short-lived download URL for a ready file.
 *
 * Every query goes through the OrgContext (`ownedBy`): another organization's file is
 * a 404. Files are tenant data: each query reaches the organization's own database
 * through `filesDatabase()` (src/db/tenant-databases.ts), never `octx.db`. Objects are
 * removed through object purges (src/lib/storage/object-purges.ts), in the same batch
 * as the row, in that same database.
 */
import { and, eq, type SQL, sql } from "drizzle-orm";
import type { Database } from "../../db/client";
import { insertWhere } from "../../db/insert-where";
import { type FileRow, type FileStatus, files } from "../../db/schema";
import { isInSharedDatabase, orgDatabase, tenantDatabases } from "../../db/tenant-databases";
import { checkFileContent, FILE_SAMPLE_BYTES, type FileMediaType } from "../../lib/file-types";
import { uuidv7 } from "../../lib/ids";
import type { SortTerm } from "../../lib/list-query";
import { serializeError } from "../../lib/logger";
import { keysetPage, listPage, type Page } from "../../lib/pagination";
import { ProblemError, problems } from "../../lib/problem";
import { sanitizeFileName } from "../../lib/storage/file-names";
import { deleteRowsAndPurgeObjects, purgeObjectsOfRows } from "../../lib/storage/object-purges";
import { readObjectStart } from "../../lib/storage/object-sample";
import {
  type DownloadInstructions,
  downloadInstructions,
  type UploadInstructions,
  uploadInstructions,
} from "../../lib/storage/transfer-urls";
import { uploadNotReceived } from "../../lib/storage/upload-problems";
import type { AccountErasureStep } from "../auth/accounts";
import { type OrgContext, ownedBy } from "../orgs/org-context";
import type { OrganizationDeletionStep } from "../orgs/orgs.service";
import type { CreateFileInput, FileDto } from "./files.schemas";

/** The database that holds the organization's files (TENANT_DATABASES routes it). */
const filesDatabase = (octx: OrgContext): Database => orgDatabase(octx, octx.organization.id);

/** Where a file's bytes live: the ids only, never the file's name. */
export const fileKey = (organizationId: string, fileId: string) => `files/${organizationId}/${fileId}`;

export function toFileDto(file: FileRow): FileDto {
  return {
    id: file.id,
    name: file.name,
    content_type: file.contentType as FileMediaType,
    size: file.size,
    status: file.status,
    created_by: file.createdBy,
    created_at: file.createdAt.toISOString(),
    upload_expires_at: file.uploadExpiresAt.toISOString(),
    completed_at: file.completedAt?.toISOString() ?? null,
  };
}

const quotaExceeded = (quota: number, used: number, requested: number) =>
  new ProblemError({
    status: 409,
    code: "storage_quota_exceeded",
    detail: `The organization holds ${used} of its ${quota} bytes (uploads in progress included); ${requested} more do not fit. Delete files or ask for a larger quota.`,
    extensions: { quota_bytes: quota, used_bytes: used, requested_bytes: requested },
  });

/** The bytes an organization holds: ready files and the reservations of pending ones. */
const usedBytes = (organizationId: string) =>
  sql`(select coalesce(sum(${files.size}), 0) from ${files} where ${files.organizationId} = ${organizationId})`;

async function usedBytesOf(octx: OrgContext): Promise<number> {
  const row = await filesDatabase(octx).get<{ used: number }>(
    sql`select ${usedBytes(octx.organization.id)} as used`,
  );
  return Number(row?.used ?? 0);
}

/** POST /orgs/{org_id}/files: the pending file and where to upload its bytes. */
export async function createFile(
  octx: OrgContext,
  input: CreateFileInput,
  now: number = Date.now(),
): Promise<{ file: FileRow; upload: UploadInstructions }> {
  const name = sanitizeFileName(input.name);
  if (name === null) {
    throw problems.validation([
      {
        pointer: "/name",
        detail: "The name has no usable characters once path and reserved characters are removed.",
      },
    ]);
  }
  const maxSize = octx.config.FILES_MAX_SIZE;
  if (input.size > maxSize) {
    throw problems.validation([
      { pointer: "/size", detail: `Files may have at most ${maxSize} bytes (FILES_MAX_SIZE).` },
    ]);
  }
  const organizationId = octx.organization.id;
  const id = uuidv7(now);
  const key = fileKey(organizationId, id);
  const upload = await uploadInstructions(
    octx,
    { key, contentType: input.content_type, size: input.size },
    now,
  );
  const quota = octx.config.FILES_ORG_QUOTA_BYTES;
  const [file] = await insertWhere(
    filesDatabase(octx),
    files,
    {
      id,
      organizationId,
      name,
      contentType: input.content_type,
      size: input.size,
      status: "pending",
      r2Key: key,
      createdBy: octx.actor.kind === "member" ? octx.actor.userId : null,
      createdAt: new Date(now),
      uploadExpiresAt: upload.expiresAt,
      completedAt: null,
    },
    // Evaluated inside the INSERT: two creates racing for the last bytes cannot both pass.
    sql`${usedBytes(organizationId)} + ${input.size} <= ${quota}`,
  ).returning();
  if (!file) throw quotaExceeded(quota, await usedBytesOf(octx), input.size);
  return { file, upload };
}

async function findFile(octx: OrgContext, id: string): Promise<FileRow> {
  const file = await filesDatabase(octx)
    .select()
    .from(files)
    .where(and(eq(files.id, id), ownedBy(octx, files.organizationId)))
    .get();
  if (!file) throw problems.notFound("file");
  return file;
}

export const getFile = findFile;

export type ListFilesInput = { limit: number; cursor?: string; sort: SortTerm[]; status?: FileStatus };

/** GET /orgs/{org_id}/files: ready files unless `status` asks for pending ones. */
export async function listFiles(octx: OrgContext, input: ListFilesInput): Promise<Page<FileRow>> {
  const page = keysetPage<FileRow>({
    sort: input.sort,
    columns: {
      created_at: { column: files.createdAt, read: (row) => row.createdAt.getTime() },
      name: { column: files.name, read: (row) => row.name },
      size: { column: files.size, read: (row) => row.size },
    },
    tiebreaker: { column: files.id, read: (row) => row.id },
    limit: input.limit,
    cursor: input.cursor,
  });
  const where = and(ownedBy(octx, files.organizationId), eq(files.status, input.status ?? "ready"));
  const db = filesDatabase(octx);
  return listPage(db, page, { rows: db.select().from(files).$dynamic(), countFrom: files, where });
}

/**
 * The file's row goes, and its object with it: purged at once (and once more when its
 * upload URL has expired, in case a late upload writes the key again), all in one
 * batch; then deleted right away as well, so nothing waits for the cron.
 */
async function removeFile(octx: OrgContext, file: FileRow): Promise<void> {
  const where = and(eq(files.id, file.id), ownedBy(octx, files.organizationId)) as SQL;
  await deleteRowsAndPurgeObjects(filesDatabase(octx), {
    from: files,
    key: files.r2Key,
    uploadExpiresAt: files.uploadExpiresAt,
    where,
  });
  try {
    await octx.env.FILES.delete(file.r2Key);
  } catch (error) {
    // The purge row is committed: the cron deletes it on its next run.
    octx.logger.warn("could not delete a file's object now; the cron will", {
      key: file.r2Key,
      error: serializeError(error),
    });
  }
}

/** DELETE /orgs/{org_id}/files/{id}: a pending or ready file, and its object. */
export async function deleteFile(octx: OrgContext, id: string): Promise<void> {
  await removeFile(octx, await findFile(octx, id));
}

function contentMismatch(file: FileRow, detail: string, extensions: Record<string, unknown>) {
  return new ProblemError({
    status: 422,
    code: "file_content_mismatch",
    detail: `${detail} The upload was removed; create the file again.`,
    extensions: { declared_content_type: file.contentType, declared_size: file.size, ...extensions },
  });
}

/**
 * POST /orgs/{org_id}/files/{id}/complete: the uploaded object must be the declared
 * size and its content the declared type, then the file is `ready`. Idempotent: a
 * ready file answers as it is. A mismatch removes the object and the file (422).
 */
export async function completeFile(octx: OrgContext, id: string): Promise<FileRow> {
  const file = await findFile(octx, id);
  if (file.status === "ready") return file;
  const head = await octx.env.FILES.head(file.r2Key);
  if (!head) throw uploadNotReceived();
  if (head.size !== file.size) {
    await removeFile(octx, file);
    throw contentMismatch(file, `The upload is ${head.size} bytes, not the ${file.size} declared.`, {
      actual_size: head.size,
    });
  }
  const sample = await readObjectStart(octx.env.FILES, file.r2Key, head.size, FILE_SAMPLE_BYTES);
  if (!sample) throw uploadNotReceived();
  const check = checkFileContent(file.contentType as FileMediaType, sample, sample.length >= head.size);
  if (!check.ok) {
    await removeFile(octx, file);
    throw contentMismatch(file, check.detail, { detected_content_type: check.detected });
  }
  const [ready] = await filesDatabase(octx)
    .update(files)
    .set({ status: "ready", completedAt: new Date() })
    .where(and(eq(files.id, file.id), ownedBy(octx, files.organizationId), eq(files.status, "pending")))
    .returning();
  // A concurrent complete got there first (or a delete did: then this is a 404).
  return ready ?? findFile(octx, id);
}

const fileNotReady = () =>
  new ProblemError({
    status: 409,
    code: "file_not_ready",
    detail: "The file is still pending: upload its bytes and complete it before downloading.",
  });

/** GET /orgs/{org_id}/files/{id}/download: a short-lived URL that saves the file under its name. */
export async function fileDownload(octx: OrgContext, id: string): Promise<DownloadInstructions> {
  const file = await findFile(octx, id);
  if (file.status !== "ready") throw fileNotReady();
  return downloadInstructions(octx, { key: file.r2Key, contentType: file.contentType, filename: file.name });
}

/**
 * Organization deletion step: the organization's rows go and their objects are purged
 * (by the next cron run). In the shared database both are statements of the deletion's
 * own batch, so they happen only if the organization is deleted. A tenant database
 * cannot join that batch: its rows go in a batch of their own first, so a deletion
 * never leaves files behind that no organization owns (if the directory's batch then
 * fails, the organization stays without its files, and deleting it again finishes).
 */
export const purgeFilesOfDeletedOrganization: OrganizationDeletionStep = async (octx) => {
  const db = filesDatabase(octx);
  const rows = {
    from: files,
    key: files.r2Key,
    uploadExpiresAt: files.uploadExpiresAt,
    where: ownedBy(octx, files.organizationId),
  };
  if (!isInSharedDatabase(octx, octx.organization.id)) {
    await deleteRowsAndPurgeObjects(db, rows);
    return [];
  }
  return [purgeObjectsOfRows(db, rows), db.delete(files).where(rows.where)];
};

/**
 * Account erasure step: the files the person created stay with their organization, no
 * longer naming them. In the shared database a statement of the erasure's batch; in
 * each tenant database an UPDATE of its own (what `ON DELETE SET NULL` did before files
 * could live apart from `users`).
 */
export const forgetFileCreator: AccountErasureStep = async (ctx, userId) => {
  const statements = [];
  for (const { db, shared } of tenantDatabases(ctx)) {
    const forget = db.update(files).set({ createdBy: null }).where(eq(files.createdBy, userId));
    if (shared) statements.push(forget);
    else await forget;
  }
  return statements;
};
