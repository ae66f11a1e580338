/**
 * Idempotency-Key on POST and PATCH (API.md, "idempotency"). A client that sends
 * the header can retry a write after a timeout without doing it twice: the first
 * response of a request that reached its handler is stored for 24 h and replayed
 * to every retry with `Idempotent-Replayed: true`.
 *
 * defineRoute() installs it as the last middleware of every POST/PATCH route, so it
 * runs after the route's body guards, auth guards and strict rate limits (their
 * refusals are never stored) and wraps validation and the handler.
 *
 * A key is scoped to who sent it and to the route: principal + method + route
 * pattern + key, under a UNIQUE index in D1. The first request claims the key by
 * inserting the row before its handler runs (INSERT … ON CONFLICT DO NOTHING, then
 * "did I write a row?"), so of two concurrent requests exactly one runs; the other
 * gets 409 `idempotency_request_in_progress` while the first runs, or the replay
 * after. The same key with another request (method, path, query or body differ)
 * is 422 `idempotency_key_reused`.
 *
 * Not stored, so a retry runs again: 5xx and 429 answers (transient by nature),
 * 400 `validation_failed` (nothing was done), and responses marked
 * `Cache-Control: no-store` (they carry credentials: token pairs, API-key
 * secrets, which must not sit in D1 or be handed out twice).
 *
 * The records live in src/lib/idempotency/: records.ts (claim, store, release;
 * the 60 s lease that frees a key whose request died), fingerprint.ts (scope and
 * request fingerprint, how anonymous callers share an address) and purge.ts (the
 * hourly clean-up).
 */
import type { Context, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { AppEnv } from "../app-env";
import type { IdempotencyRecord } from "../db/schema";
import type { ServiceContext } from "../lib/context";
import { idempotencyScope, requestFingerprint } from "../lib/idempotency/fingerprint";
import {
  type Claim,
  claimKey,
  IDEMPOTENCY_LEASE_MS,
  IDEMPOTENCY_TTL_MS,
  type RecordKey,
  releaseClaim,
  storeResponse,
} from "../lib/idempotency/records";
import { serializeError } from "../lib/logger";
import { ProblemError, problems } from "../lib/problem";
import { limitBody } from "./body-limit";

export const IDEMPOTENCY_KEY_HEADER = "Idempotency-Key";
export const IDEMPOTENT_REPLAYED_HEADER = "Idempotent-Replayed";
/** Seconds a client is told to wait before retrying a key that is in use: most handlers finish well within. */
export const IN_PROGRESS_RETRY_AFTER_SECONDS = 1;
/** 1–255 printable ASCII characters (space to tilde). */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x20-\x7e]{1,255}$/;
/** Responses larger than this are not stored (D1 rows are limited to 2 MB); the claim is released. */
const MAX_STORED_BODY_CHARS = 1024 * 1024;
const MAX_REQUEST_BODY_BYTES = 1024 * 1024;

/** The headers a replay repeats. Rate-limit and request-id headers belong to the retry, not the original. */
export const REPLAYED_HEADERS = [
  "content-type",
  "content-location",
  "location",
  "link",
  "etag",
  "last-modified",
  "www-authenticate",
] as const;

export type IdempotencyOptions = {
  /** Milliseconds since the epoch; Date.now unless a test moves time. */
  clock?: () => number;
  ttlMs?: number;
  leaseMs?: number;
  /** Request bodies above this are refused (413) before they are hashed, on routes without their own limit. */
  maxBodyBytes?: number;
};

function invalidKey(detail: string): ProblemError {
  return problems.validation(
    [{ parameter: IDEMPOTENCY_KEY_HEADER, location: "header", detail }],
    `Invalid ${IDEMPOTENCY_KEY_HEADER} header.`,
  );
}

export const keyReused = () =>
  new ProblemError({
    status: 422,
    code: "idempotency_key_reused",
    detail: `This ${IDEMPOTENCY_KEY_HEADER} was already used with a different request (method, path or body). Use a new key for a new request.`,
    errors: [
      { parameter: IDEMPOTENCY_KEY_HEADER, location: "header", detail: "Already used for another request." },
    ],
  });

export const requestInProgress = () =>
  new ProblemError({
    status: 409,
    code: "idempotency_request_in_progress",
    detail: `A request with this ${IDEMPOTENCY_KEY_HEADER} is still being processed. Retry after it finishes to get its response.`,
    headers: { "Retry-After": String(IN_PROGRESS_RETRY_AFTER_SECONDS) },
  });

/** The raw body as text: already read (and size-checked) by the JSON guards, or read here within a limit. */
async function rawBody(c: Context<AppEnv>, maxBytes: number): Promise<string> {
  if (Object.keys(c.req.bodyCache).length === 0 && c.req.raw.body !== null) {
    await limitBody(maxBytes)(c, async () => {});
  }
  return c.req.text();
}

function pathAndQuery(url: string): string {
  const parsed = new URL(url);
  return `${parsed.pathname}${parsed.search}`;
}

/** Why a response must not be stored, or null to store it. */
function notStorable(c: Context<AppEnv>): string | null {
  const { status } = c.res;
  if (status >= 500) return "server error";
  if (status === 429) return "rate limited";
  if (status === 101) return "protocol switch";
  if (c.error instanceof ProblemError && c.error.code === "validation_failed") return "validation failed";
  if (/(^|,)\s*no-store\s*(,|$)/i.test(c.res.headers.get("cache-control") ?? "")) return "no-store";
  return null;
}

const NULL_BODY_STATUSES = new Set([204, 205, 304]);

function replay(record: IdempotencyRecord): Response {
  const status = record.responseStatus ?? 200;
  const headers = new Headers(record.responseHeaders ?? []);
  headers.set(IDEMPOTENT_REPLAYED_HEADER, "true");
  const body = NULL_BODY_STATUSES.has(status) ? null : (record.responseBody ?? "");
  return new Response(body, { status, headers });
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new TypeError(`idempotency: ${name} must be a positive whole number`);
  }
  return value;
}

/** Route middleware; defineRoute() adds it to every POST and PATCH route. */
export function idempotency(options: IdempotencyOptions = {}): MiddlewareHandler<AppEnv> {
  const clock = options.clock ?? Date.now;
  const ttlMs = positiveInteger(options.ttlMs ?? IDEMPOTENCY_TTL_MS, "ttlMs");
  const leaseMs = positiveInteger(options.leaseMs ?? IDEMPOTENCY_LEASE_MS, "leaseMs");
  const maxBodyBytes = positiveInteger(options.maxBodyBytes ?? MAX_REQUEST_BODY_BYTES, "maxBodyBytes");

  return async function idempotency(c, next) {
    const header = c.req.header(IDEMPOTENCY_KEY_HEADER);
    if (header === undefined) return next();
    if (!IDEMPOTENCY_KEY_PATTERN.test(header)) {
      throw invalidKey(
        header.length === 0 || header.length > 255
          ? "Must be 1–255 characters."
          : "Must be printable ASCII characters only.",
      );
    }
    const scope = idempotencyScope(c.get("principal"), c.req.header("cf-connecting-ip"));
    if (scope === null) return next();

    const ctx = c.get("ctx");
    const key: RecordKey = { scope, method: c.req.method, route: routePath(c), key: header };
    const fingerprint = await requestFingerprint(
      c.req.method,
      pathAndQuery(c.req.url),
      await rawBody(c, maxBodyBytes),
    );
    const decision = await claimKey(ctx.db, key, fingerprint, { now: clock(), ttlMs, leaseMs });
    if (decision.kind === "reused") throw keyReused();
    if (decision.kind === "in_progress") throw requestInProgress();
    if (decision.kind === "replay") return replay(decision.record);

    const { claim } = decision;
    try {
      await next();
    } catch (error) {
      await settleQuietly(ctx, () => releaseClaim(ctx.db, claim));
      throw error;
    }
    await settleQuietly(ctx, () => settle(c, ctx, claim));
  };
}

async function settle(c: Context<AppEnv>, ctx: ServiceContext, claim: Claim): Promise<void> {
  const reason = notStorable(c);
  if (reason) return releaseClaim(ctx.db, claim);
  const body = await c.res.clone().text();
  if (body.length > MAX_STORED_BODY_CHARS) {
    ctx.logger.warn("response too large to store for its Idempotency-Key; claim released", {
      status: c.res.status,
      chars: body.length,
    });
    return releaseClaim(ctx.db, claim);
  }
  const headers: Array<[string, string]> = [];
  for (const name of REPLAYED_HEADERS) {
    const value = c.res.headers.get(name);
    if (value !== null) headers.push([name, value]);
  }
  const stored = await storeResponse(ctx.db, claim, { status: c.res.status, headers, body });
  if (!stored) {
    ctx.logger.warn("idempotency claim was taken over before this request finished; response not stored", {
      status: c.res.status,
    });
  }
}

/**
 * The response is already made: a failure to record it must not turn it into a
 * 500. The claim then stays until its lease lapses, and a retry runs again.
 */
async function settleQuietly(ctx: ServiceContext, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    ctx.logger.error("could not record the outcome of an idempotent request", {
      error: serializeError(error),
    });
  }
}
