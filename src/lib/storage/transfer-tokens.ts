/**
 * The tokens in this API's own upload and download URLs (on-API mode, when R2's S3
 * API is not configured): `<payload>.<mac>`, both base64url. The payload names the one
 * R2 key the URL may write or read, with what it binds (declared size and content type
 * for an upload; content type and download name for a download) and when it expires;
 * the MAC is HMAC-SHA256 under a key derived for that direction only
 * (src/lib/derived-keys.ts), so a download token is no upload token and no field can
 * be changed without the server's key. Nothing is stored: single use of an upload is
 * enforced where the bytes land (src/lib/storage/receive-upload.ts).
 */
import { z } from "zod";
import { base64urlDecode, base64urlEncode } from "../crypto";
import { derivedHmacKeys } from "../derived-keys";

export type UploadGrant = {
  op: "put";
  key: string;
  contentType: string;
  size: number;
  /** Epoch milliseconds. */
  expiresAt: number;
};

export type DownloadGrant = {
  op: "get";
  key: string;
  contentType: string;
  /** The name the download is saved under (Content-Disposition). */
  filename: string;
  expiresAt: number;
};

export type TransferGrant = UploadGrant | DownloadGrant;

/** Longer than any token minted here; refuses absurd input before decoding anything. */
export const MAX_TRANSFER_TOKEN_LENGTH = 4096;

const purposeOf = (op: TransferGrant["op"]) => `transfer-url:${op}:v1`;

const payloadSchema = z.discriminatedUnion("op", [
  z.strictObject({
    op: z.literal("put"),
    kid: z.string().max(128),
    key: z.string().min(1).max(1024),
    type: z.string().min(1).max(255),
    size: z.number().int().positive(),
    exp: z.number().int().positive(),
  }),
  z.strictObject({
    op: z.literal("get"),
    kid: z.string().max(128),
    key: z.string().min(1).max(1024),
    type: z.string().min(1).max(255),
    name: z.string().min(1).max(1024),
    exp: z.number().int().positive(),
  }),
]);

const encoder = new TextEncoder();

/** Signs a grant with the current key. */
export async function signTransferToken(jwtPrivateKeys: string | undefined, grant: TransferGrant) {
  const keys = await derivedHmacKeys(jwtPrivateKeys, purposeOf(grant.op));
  const common = { kid: keys.signing.kid, key: grant.key, type: grant.contentType, exp: grant.expiresAt };
  const payload =
    grant.op === "put"
      ? { op: grant.op, ...common, size: grant.size }
      : { op: grant.op, ...common, name: grant.filename };
  const encoded = base64urlEncode(encoder.encode(JSON.stringify(payload)));
  const mac = await crypto.subtle.sign("HMAC", keys.signing.key, encoder.encode(encoded));
  return `${encoded}.${base64urlEncode(new Uint8Array(mac))}`;
}

export type TransferTokenCheck<G> =
  | { ok: true; grant: G }
  /** `invalid`: malformed, not ours, altered or for the other direction; `expired`: genuine but too late. */
  | { ok: false; reason: "invalid" | "expired" };

function decodePayload(encoded: string): z.infer<typeof payloadSchema> | null {
  try {
    const json = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(base64urlDecode(encoded));
    const parsed = payloadSchema.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/**
 * Checks a token for `op`: the MAC first (constant-time, Web Crypto's verify), then
 * the expiry, so only a genuine token learns that it expired.
 */
export async function verifyTransferToken<Op extends TransferGrant["op"]>(
  jwtPrivateKeys: string | undefined,
  token: string,
  op: Op,
  now: number = Date.now(),
): Promise<TransferTokenCheck<Extract<TransferGrant, { op: Op }>>> {
  const invalid = { ok: false, reason: "invalid" } as const;
  if (token.length > MAX_TRANSFER_TOKEN_LENGTH) return invalid;
  const [encoded, mac, ...rest] = token.split(".");
  if (!encoded || !mac || rest.length > 0) return invalid;
  const payload = decodePayload(encoded);
  if (!payload || payload.op !== op) return invalid;
  const keys = await derivedHmacKeys(jwtPrivateKeys, purposeOf(op));
  const key = keys.verifying.get(payload.kid);
  if (!key) return invalid;
  let signature: Uint8Array;
  try {
    signature = base64urlDecode(mac);
  } catch {
    return invalid;
  }
  if (!(await crypto.subtle.verify("HMAC", key, signature, encoder.encode(encoded)))) return invalid;
  if (payload.exp <= now) return { ok: false, reason: "expired" };
  const grant: TransferGrant =
    payload.op === "put"
      ? { op: "put", key: payload.key, contentType: payload.type, size: payload.size, expiresAt: payload.exp }
      : {
          op: "get",
          key: payload.key,
          contentType: payload.type,
          filename: payload.name,
          expiresAt: payload.exp,
        };
  return { ok: true, grant: grant as Extract<TransferGrant, { op: Op }> };
}
