/**
 * Presigned URLs for R2's S3 API (AWS Signature Version 4 in the query string, via
 * aws4fetch): the client talks to R2 directly and the bytes never pass through the
 * Worker. Every header given here is signed (aws4fetch leaves Content-Type and
 * Content-Length out unless asked, `allHeaders`), so R2 refuses a request that sends
 * another type, another length, or leaves out `If-None-Match: *`.
 */
import { AwsV4Signer } from "aws4fetch";
import type { R2S3Credentials } from "../../env";

export type PresignInput = {
  method: "GET" | "PUT";
  key: string;
  expiresInSeconds: number;
  /** Headers the client must send exactly (signed). */
  headers?: Record<string, string>;
  /** Extra query parameters, signed too (e.g. `response-content-disposition`). */
  query?: Record<string, string>;
  /** Epoch milliseconds the signature is dated (X-Amz-Date). */
  now: number;
};

/** `files/a b.txt` → `files/a%20b.txt`: each segment encoded, the slashes kept. */
const encodeKey = (key: string) => key.split("/").map(encodeURIComponent).join("/");

/** SigV4's basic ISO 8601 form: 20261121T083000Z. */
export const amzDate = (now: number) => new Date(now).toISOString().replace(/[:-]|\.\d{3}/g, "");

/** A path-style URL (`{endpoint}/{bucket}/{key}`) signed for `method`. */
export async function presignS3Url(credentials: R2S3Credentials, input: PresignInput): Promise<string> {
  const url = new URL(`${credentials.endpoint}/${credentials.bucket}/${encodeKey(input.key)}`);
  for (const [name, value] of Object.entries(input.query ?? {})) url.searchParams.set(name, value);
  url.searchParams.set("X-Amz-Expires", String(input.expiresInSeconds));
  const signer = new AwsV4Signer({
    method: input.method,
    url: url.toString(),
    headers: input.headers ?? {},
    accessKeyId: credentials.accessKeyId,
    secretAccessKey: credentials.secretAccessKey,
    service: "s3",
    // R2 takes "auto" for every bucket; the endpoint's host says where the bucket lives.
    region: "auto",
    signQuery: true,
    allHeaders: true,
    datetime: amzDate(input.now),
  });
  const signed = await signer.sign();
  return signed.url.toString();
}
