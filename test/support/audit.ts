/**
 * Reading back the audit rows a request wrote: every row carries the request's
 * X-Request-Id, so a test that sends its own id finds exactly that request's rows.
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { getDb } from "../../src/db/client";
import { auditLogs } from "../../src/db/schema";
import { api } from "./http";

/** The audit rows written by the request that carried X-Request-Id `requestId`. */
export const auditRowsOf = (requestId: string) =>
  getDb(env).select().from(auditLogs).where(eq(auditLogs.requestId, requestId));

let sequence = 0;

/** A staff request with its own X-Request-Id, and `audit()` to read exactly the audit rows it wrote. */
export async function staffCall(staffToken: string, method: string, path: string, body?: unknown) {
  const requestId = `staff-call-${++sequence}-${crypto.randomUUID()}`;
  const res = await api(method, path, { token: staffToken, body, headers: { "x-request-id": requestId } });
  return { res, audit: () => auditRowsOf(requestId) };
}
