/**
 * What makes an Idempotency-Key one key, and two requests "the same" request.
 *
 * Anonymous callers are scoped by client address (IPv6 by /64, as the rate limiter
 * counts them). Two clients behind one address that pick the same key share it:
 * the body must still match byte for byte for a replay, so one only ever sees the
 * answer to a request identical to its own, and otherwise gets a 422. Random keys
 * (UUIDs) make that practically impossible.
 */
import { sha256Hex } from "../crypto";
import type { Principal } from "../principal";
import { addressBucket } from "../rate-limit/client-address";

/** Who a key belongs to: `user:<id>`, `api_key:<id>`, `ip:<address>`; null for `system` (never over HTTP). */
export function idempotencyScope(principal: Principal, clientIp: string | undefined): string | null {
  switch (principal.kind) {
    case "user":
      return `user:${principal.userId}`;
    case "api_key":
      return `api_key:${principal.keyId}`;
    case "anonymous":
      return `ip:${addressBucket(clientIp)}`;
    default:
      return null;
  }
}

/** SHA-256 of what makes two requests "the same": method, path with query, raw body. */
export function requestFingerprint(method: string, pathAndQuery: string, body: string): Promise<string> {
  return sha256Hex(`${method.toUpperCase()}\n${pathAndQuery}\n${body}`);
}
