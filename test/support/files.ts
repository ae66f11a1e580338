/**
 * Files as a client drives them: create (POST /orgs/{org_id}/files), PUT the bytes to
 * the `upload.url` the API answered with its `upload.headers`, complete, download. And
 * an independent AWS Signature Version 4 check of presigned URLs (written from the
 * spec, not with the library the Worker signs with), so a test proves a URL R2 would
 * accept without calling R2.
 */
import { exports } from "cloudflare:workers";
import type { z } from "@hono/zod-openapi";
import type { CreatedFileSchema, DownloadSchema, FileSchema } from "../../src/modules/files/files.schemas";
import { api, apiWith, jsonOf, testIp } from "./http";

export type FileDto = z.infer<typeof FileSchema>;
export type CreatedFileDto = z.infer<typeof CreatedFileSchema>;
export type DownloadDto = z.infer<typeof DownloadSchema>;

const encoder = new TextEncoder();

/** A minimal PDF (its signature is what complete checks). */
export const PDF = encoder.encode(
  "%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
);
/** An empty ZIP archive: just the end-of-central-directory record. */
export const EMPTY_ZIP = Uint8Array.from([0x50, 0x4b, 0x05, 0x06, ...new Array(18).fill(0)]);
export const CSV = encoder.encode("name,amount\nÅsa,12.50\nZoë,7\n");

export const filesPath = (orgId: string) => `/api/v1/orgs/${orgId}/files`;

/** POST /orgs/{org_id}/files as `token` (a person's access token or an API key), asserting 201. */
export async function createFile(
  token: string,
  orgId: string,
  body: { name: string; content_type: string; size: number },
  vars?: Parameters<typeof apiWith>[0],
): Promise<CreatedFileDto> {
  const res = vars
    ? await apiWith(vars, "POST", filesPath(orgId), { token, body })
    : await api("POST", filesPath(orgId), { token, body });
  return jsonOf<CreatedFileDto>(res, 201);
}

/** The PUT a client makes to `upload.url`: exactly `upload.headers`, plus `headers`; a body of bytes or a stream. */
export function putUpload(
  upload: { url: string; method: string; headers: Record<string, string> },
  body: Uint8Array | ReadableStream<Uint8Array> | null,
  headers: Record<string, string> = {},
): Promise<Response> {
  const sent = new Headers(upload.headers);
  // A fresh client address per call: the URLs are anonymous requests, held to the per-IP limit.
  sent.set("cf-connecting-ip", testIp());
  for (const [name, value] of Object.entries(headers)) sent.set(name, value);
  return exports.default.fetch(upload.url, {
    method: upload.method,
    headers: sent,
    body,
    ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
  } as RequestInit);
}

/** A stream of `bytes` in `chunk`-byte pieces, with no Content-Length (chunked, as a browser stream upload). */
export function streamOf(bytes: Uint8Array, chunk = 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + chunk));
      offset += chunk;
    },
  });
}

/** Create, upload and complete: a ready file. */
export async function uploadFile(
  token: string,
  orgId: string,
  name: string,
  contentType: string,
  bytes: Uint8Array,
): Promise<FileDto> {
  const created = await createFile(token, orgId, { name, content_type: contentType, size: bytes.length });
  const put = await putUpload(created.upload, bytes);
  if (put.status !== 204) throw new Error(`upload: ${put.status} ${await put.text()}`);
  return jsonOf<FileDto>(await api("POST", `${filesPath(orgId)}/${created.id}/complete`, { token }), 200);
}

/** The GET a browser makes to a download URL. */
export const fetchDownload = (url: string) =>
  exports.default.fetch(url, { headers: { "cf-connecting-ip": testIp() } });

// ---------------------------------------------------------------------------
// AWS Signature Version 4, query-string form (presigned URLs), from the spec:
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html

const rfc3986 = (value: string) =>
  encodeURIComponent(value).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);

const hex = (buffer: ArrayBuffer) =>
  Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");

async function hmac(key: ArrayBuffer | Uint8Array, message: string): Promise<ArrayBuffer> {
  const imported = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return crypto.subtle.sign("HMAC", imported, encoder.encode(message));
}

export type PresignedParts = {
  /** The canonical request the signature covers. */
  canonicalRequest: string;
  signedHeaders: string[];
  credential: { accessKeyId: string; date: string; region: string; service: string };
  expires: number;
  amzDate: string;
  /** Whether X-Amz-Signature is the one `secretAccessKey` gives. */
  valid: boolean;
};

/**
 * Recomputes a presigned URL's signature. `headers` are the headers the client will
 * send (lower-case names); each signed header must be among them, or `host`.
 */
export async function checkPresignedUrl(
  url: string,
  method: string,
  secretAccessKey: string,
  headers: Record<string, string> = {},
): Promise<PresignedParts> {
  const parsed = new URL(url);
  const query = [...parsed.searchParams].filter(([name]) => name !== "X-Amz-Signature");
  const canonicalQuery = query
    .map(([name, value]) => [rfc3986(name), rfc3986(value)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join("&");
  const signedHeaders = (parsed.searchParams.get("X-Amz-SignedHeaders") ?? "").split(";");
  const lower = Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]),
  );
  const canonicalHeaders = signedHeaders
    .map((name) => {
      const value = name === "host" ? parsed.host : lower[name];
      if (value === undefined) throw new Error(`signed header ${name} is not among the headers sent`);
      return `${name}:${value.trim().replace(/\s+/g, " ")}\n`;
    })
    .join("");
  const canonicalRequest = [
    method,
    parsed.pathname,
    canonicalQuery,
    canonicalHeaders,
    signedHeaders.join(";"),
    "UNSIGNED-PAYLOAD",
  ].join("\n");
  const [accessKeyId = "", date = "", region = "", service = "", terminator] = (
    parsed.searchParams.get("X-Amz-Credential") ?? ""
  ).split("/");
  if (terminator !== "aws4_request") throw new Error("X-Amz-Credential does not end with aws4_request");
  const amzDate = parsed.searchParams.get("X-Amz-Date") ?? "";
  const stringToSign = [
    "AWS4-HMAC-SHA256",
    amzDate,
    `${date}/${region}/${service}/aws4_request`,
    hex(await crypto.subtle.digest("SHA-256", encoder.encode(canonicalRequest))),
  ].join("\n");
  let key: ArrayBuffer = await hmac(encoder.encode(`AWS4${secretAccessKey}`), date);
  for (const part of [region, service, "aws4_request"]) key = await hmac(key, part);
  const expected = hex(await hmac(key, stringToSign));
  return {
    canonicalRequest,
    signedHeaders,
    credential: { accessKeyId, date, region, service },
    expires: Number(parsed.searchParams.get("X-Amz-Expires")),
    amzDate,
    valid: expected === parsed.searchParams.get("X-Amz-Signature"),
  };
}
