/**
 * Where a client sends an upload and fetches a download, in one of two modes chosen
 * by configuration alone:
 *
 * - **presigned** (all four R2_S3_* set): S3 SigV4 URLs straight to R2; the bytes
 *   never pass through the Worker (s3-presign.ts).
 * - **on-API** (otherwise, e.g. on a laptop with local R2): URLs on this API,
 *   `PUT /api/v1/files/upload?token=…` and `GET /api/v1/files/download?token=…`, whose
 *   tokens are signed and short-lived (transfer-tokens.ts), in the query so that request
 *   logs and problem `instance`s (which carry the path) never hold one; the Worker streams the
 *   bytes between the client and R2 (receive-upload.ts, the files module's handlers).
 *
 * Either way an upload URL writes one key, once, with the declared size and type, and
 * a download URL reads one key as an attachment, for minutes.
 */
import type { ServiceContext } from "../context";
import { attachmentDisposition } from "./file-names";
import { presignS3Url } from "./s3-presign";
import { signTransferToken } from "./transfer-tokens";

/** How long an upload URL is accepted (checked when the request starts; a slow upload may end later). */
export const UPLOAD_URL_TTL_SECONDS = 15 * 60;
/** Downloads are private: a URL is for the click that asked for it. */
export const DOWNLOAD_URL_TTL_SECONDS = 5 * 60;
/**
 * How long after its URL expired an upload may still be completed, and before the cron
 * removes an upload nobody completed: room for a slow upload that started in time.
 */
export const UPLOAD_GRACE_SECONDS = 60 * 60;

export const UPLOAD_PATH = "/api/v1/files/upload";
export const DOWNLOAD_PATH = "/api/v1/files/download";

export type UploadTarget = {
  /** The R2 key the URL may write: chosen by the server, never from client input. */
  key: string;
  contentType: string;
  size: number;
};

/** The `upload` object the API answers: PUT the exact bytes to `url` with `headers`. */
export type UploadInstructions = {
  url: string;
  method: "PUT";
  headers: Record<string, string>;
  expiresAt: Date;
};

export type DownloadTarget = { key: string; contentType: string; filename: string };
export type DownloadInstructions = { url: string; expiresAt: Date };

function apiUrl(ctx: ServiceContext, path: string, token: string): string {
  const url = new URL(path, ctx.config.APP_URL);
  url.searchParams.set("token", token);
  return url.toString();
}

/**
 * An upload URL for `target`, valid UPLOAD_URL_TTL_SECONDS from `now`. Presigned, it
 * binds Content-Type, Content-Length and `If-None-Match: *` (R2 then refuses a second
 * write to the key); on-API, the token binds the key, size and type, and the handler
 * refuses a second write the same way.
 */
export async function uploadInstructions(
  ctx: ServiceContext,
  target: UploadTarget,
  now: number = Date.now(),
): Promise<UploadInstructions> {
  const expiresAt = new Date(now + UPLOAD_URL_TTL_SECONDS * 1000);
  const credentials = ctx.config.r2S3;
  if (credentials) {
    const headers = { "Content-Type": target.contentType, "If-None-Match": "*" };
    const url = await presignS3Url(credentials, {
      method: "PUT",
      key: target.key,
      expiresInSeconds: UPLOAD_URL_TTL_SECONDS,
      // Content-Length is signed but not handed out: HTTP clients set it from the body themselves.
      headers: { ...headers, "Content-Length": String(target.size) },
      now,
    });
    return { url, method: "PUT", headers, expiresAt };
  }
  const token = await signTransferToken(ctx.config.JWT_PRIVATE_KEYS, {
    op: "put",
    key: target.key,
    contentType: target.contentType,
    size: target.size,
    expiresAt: expiresAt.getTime(),
  });
  return {
    url: apiUrl(ctx, UPLOAD_PATH, token),
    method: "PUT",
    headers: { "Content-Type": target.contentType },
    expiresAt,
  };
}

/** A download URL for `target`, valid DOWNLOAD_URL_TTL_SECONDS from `now`, that saves the file as `filename`. */
export async function downloadInstructions(
  ctx: ServiceContext,
  target: DownloadTarget,
  now: number = Date.now(),
): Promise<DownloadInstructions> {
  const expiresAt = new Date(now + DOWNLOAD_URL_TTL_SECONDS * 1000);
  const credentials = ctx.config.r2S3;
  if (credentials) {
    const url = await presignS3Url(credentials, {
      method: "GET",
      key: target.key,
      expiresInSeconds: DOWNLOAD_URL_TTL_SECONDS,
      // R2 answers with these instead of the object's own headers.
      query: {
        "response-content-disposition": attachmentDisposition(target.filename),
        "response-content-type": target.contentType,
        "response-cache-control": "private, no-store",
      },
      now,
    });
    return { url, expiresAt };
  }
  const token = await signTransferToken(ctx.config.JWT_PRIVATE_KEYS, {
    op: "get",
    key: target.key,
    contentType: target.contentType,
    filename: target.filename,
    expiresAt: expiresAt.getTime(),
  });
  return { url: apiUrl(ctx, DOWNLOAD_PATH, token), expiresAt };
}
