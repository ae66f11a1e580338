import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { problems } from "../lib/problem";

/**
 * Refuses bodies over `maxBytes` with a 413 problem. Checks Content-Length first
 * and counts streamed (chunked) bodies as they arrive, so an oversize upload is
 * never buffered whole.
 */
export function limitBody(maxBytes: number): MiddlewareHandler {
  if (!Number.isInteger(maxBytes) || maxBytes <= 0)
    throw new TypeError("limitBody: maxBytes must be a positive integer");
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw problems.payloadTooLarge(maxBytes);
    },
  });
}
