/**
 * The on-API end of an upload URL: the request body streamed into R2 under the one key
 * the token grants, never held in memory. What the token bound is enforced here:
 *
 * - the Content-Type must be the declared one (415);
 * - the body must be exactly the declared size: a Content-Length that says otherwise is
 *   refused before a byte is read, and a streamed (chunked) body is counted as it
 *   arrives, so one byte too many stops the upload (413) and one too few fails it (400);
 * - the key is written once: `If-None-Match: *` makes R2 refuse to replace an object,
 *   which also settles two concurrent uploads (one wins, the other gets 409).
 *
 * A refused or broken upload leaves nothing in R2 (R2 stores an object only when its
 * stream ends at the length it was given).
 */
import { mediaTypeOf } from "../../middleware/json-body";
import { ProblemError, problems } from "../problem";
import type { UploadGrant } from "./transfer-tokens";
import { uploadAlreadyReceived } from "./upload-problems";

const sizeMismatch = (declared: number, detail: string) =>
  new ProblemError({
    status: 400,
    code: "upload_size_mismatch",
    detail,
    extensions: { declared_size: declared },
  });

/** Only If-None-Match: * (write the key only when it does not exist yet). */
const ONLY_IF_ABSENT = () => new Headers({ "If-None-Match": "*" });

/** Streams `request`'s body into `bucket` at the grant's key; the stored object, or a ProblemError. */
export async function receiveUpload(
  bucket: R2Bucket,
  grant: UploadGrant,
  request: Request,
): Promise<R2Object> {
  const declaredType = mediaTypeOf(request.headers.get("content-type") ?? undefined);
  if (declaredType !== grant.contentType) {
    throw new ProblemError({
      status: 415,
      code: "unsupported_media_type",
      detail: `This upload URL takes Content-Type: ${grant.contentType} (got "${declaredType || "nothing"}"); send the headers the API gave with it.`,
      extensions: { accepted_media_types: [grant.contentType] },
    });
  }
  const length = request.headers.get("content-length");
  if (length !== null && /^\d+$/.test(length)) {
    const announced = Number(length);
    if (announced > grant.size) throw problems.payloadTooLarge(grant.size);
    if (announced < grant.size) {
      throw sizeMismatch(
        grant.size,
        `The body is ${announced} bytes; this upload URL takes exactly ${grant.size}.`,
      );
    }
  }
  if (request.body === null)
    throw sizeMismatch(grant.size, `Send the file's ${grant.size} bytes as the body.`);
  // Fail fast instead of after streaming the whole body (the conditional write below still decides).
  if ((await bucket.head(grant.key)) !== null) throw uploadAlreadyReceived();

  let received = 0;
  let refusal: ProblemError | undefined;
  const counted = request.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        received += chunk.byteLength;
        if (received > grant.size) {
          refusal = problems.payloadTooLarge(grant.size);
          controller.error(refusal);
          return;
        }
        controller.enqueue(chunk);
      },
      flush(controller) {
        if (received < grant.size) {
          refusal = sizeMismatch(grant.size, `The body ended after ${received} of ${grant.size} bytes.`);
          controller.error(refusal);
        }
      },
    }),
  );
  let object: R2Object | null;
  try {
    // R2 needs the length up front; FixedLengthStream also refuses to end at any other length.
    object = await bucket.put(grant.key, counted.pipeThrough(new FixedLengthStream(grant.size)), {
      httpMetadata: { contentType: grant.contentType },
      onlyIf: ONLY_IF_ABSENT(),
    });
  } catch (error) {
    if (refusal) throw refusal;
    // The client's body broke off (a dropped connection): its doing, not a server error.
    if (received < grant.size) {
      throw sizeMismatch(grant.size, `The body ended after ${received} of ${grant.size} bytes.`);
    }
    throw error;
  }
  if (object === null) throw uploadAlreadyReceived();
  return object;
}
