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
 * A request that dies mid-way (isolate evicted, CPU limit) leaves its claim
 * behind; the claim is a lease of 60 s, after which another request with the same
 * key and body takes it over and runs. A holder that outlives its lease cannot
 * overwrite the new holder's record: completing requires the claim's `lock_id`.
 *
 * Anonymous callers are scoped by client address (IPv6 by /64, as the rate limiter
 * counts them). Two clients behind one address that pick the same key share it:
 * the body must still match byte for byte for a replay, so one only ever sees the
 * answer to a request identical to its own, and otherwise gets a 422. Random keys
 * (UUIDs) make that practically impossible.
 */
import { and, eq, inArray, isNull, lte, or } from "drizzle-orm";
import type { Context, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { Database } from "../db/client";
import { type IdempotencyRecord, idempotencyRecords } from "../db/schema";
import type { AppEnv } from "../env";
import type { MaintenanceJob } from "../jobs/maintenance-job";
import type { ServiceContext } from "../lib/context";
import { randomToken, sha256Hex } from "../lib/crypto";
import { uuidv7 } from "../lib/ids";
import { serializeError } from "../lib/logger";
import type { Principal } from "../lib/principal";
import { ProblemError, problems } from "../lib/problem";
import { addressBucket } from "../lib/rate-limit/client-address";
import { limitBody } from "./body-limit";

export const IDEMPOTENCY_KEY_HEADER = "Idempotency-Key";
export const IDEMPOTENT_REPLAYED_HEADER = "Idempotent-Replayed";
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
export const IDEMPOTENCY_LEASE_MS = 60 * 1000;
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

// ---------------------------------------------------------------------------
// The record in D1

type RecordKey = { scope: string; method: string; route: string; key: string };
type Claim = { id: string; lockId: string };
type Decision =
  | { kind: "claimed"; claim: Claim }
  | { kind: "replay"; record: IdempotencyRecord }
  | { kind: "reused" }
  | { kind: "in_progress" };

type Timing = { now: number; ttlMs: number; leaseMs: number };

function findRecord(db: Database, key: RecordKey): Promise<IdempotencyRecord | undefined> {
  return db
    .select()
    .from(idempotencyRecords)
    .where(
      and(
        eq(idempotencyRecords.scope, key.scope),
        eq(idempotencyRecords.method, key.method),
        eq(idempotencyRecords.route, key.route),
        eq(idempotencyRecords.key, key.key),
      ),
    )
    .get();
}

/** A fresh claim's columns: in progress, leased to `lockId`. */
function claimColumns(fingerprint: string, lockId: string, timing: Timing) {
  return {
    fingerprint,
    lockId,
    lockedUntil: new Date(timing.now + timing.leaseMs),
    responseStatus: null,
    responseHeaders: null,
    responseBody: null,
    createdAt: new Date(timing.now),
    expiresAt: new Date(timing.now + timing.ttlMs),
  };
}

/**
 * Claims the key, or says why not. Every write is conditional, so concurrent
 * requests (on any isolate) agree on one holder; a lost race re-reads and decides again.
 */
async function claimKey(
  db: Database,
  key: RecordKey,
  fingerprint: string,
  timing: Timing,
): Promise<Decision> {
  const lockId = randomToken(16);
  const fresh = claimColumns(fingerprint, lockId, timing);
  const insert = async (): Promise<Claim | null> => {
    const id = uuidv7(timing.now);
    const result = await db
      .insert(idempotencyRecords)
      .values({ id, ...key, ...fresh })
      .onConflictDoNothing()
      .run();
    return result.meta.changes === 1 ? { id, lockId } : null;
  };

  const inserted = await insert();
  if (inserted) return { kind: "claimed", claim: inserted };
  for (let attempt = 0; attempt < 3; attempt++) {
    const record = await findRecord(db, key);
    if (!record) {
      // Released (a 5xx) or purged between our insert and this read: the key is free again.
      const retried = await insert();
      if (retried) return { kind: "claimed", claim: retried };
      continue;
    }
    const now = new Date(timing.now);
    if (record.expiresAt <= now) {
      // An expired key the cron has not purged yet is free, for any request.
      const taken = await db
        .update(idempotencyRecords)
        .set(fresh)
        .where(and(eq(idempotencyRecords.id, record.id), lte(idempotencyRecords.expiresAt, now)))
        .run();
      if (taken.meta.changes === 1) return { kind: "claimed", claim: { id: record.id, lockId } };
      continue;
    }
    if (record.fingerprint !== fingerprint) return { kind: "reused" };
    if (record.responseStatus !== null) return { kind: "replay", record };
    if (record.lockedUntil && record.lockedUntil > now) return { kind: "in_progress" };
    // The holder's lease lapsed without an answer: it crashed. Take the claim over.
    const taken = await db
      .update(idempotencyRecords)
      .set({ lockId, lockedUntil: new Date(timing.now + timing.leaseMs) })
      .where(
        and(
          eq(idempotencyRecords.id, record.id),
          isNull(idempotencyRecords.responseStatus),
          or(isNull(idempotencyRecords.lockedUntil), lte(idempotencyRecords.lockedUntil, now)),
        ),
      )
      .run();
    if (taken.meta.changes === 1) return { kind: "claimed", claim: { id: record.id, lockId } };
  }
  // Three lost races in a row: someone else is busy with this key right now.
  return { kind: "in_progress" };
}

async function storeResponse(
  db: Database,
  claim: Claim,
  response: { status: number; headers: Array<[string, string]>; body: string },
): Promise<boolean> {
  const result = await db
    .update(idempotencyRecords)
    .set({
      responseStatus: response.status,
      responseHeaders: response.headers,
      responseBody: response.body,
      lockId: null,
      lockedUntil: null,
    })
    .where(and(eq(idempotencyRecords.id, claim.id), eq(idempotencyRecords.lockId, claim.lockId)))
    .run();
  return result.meta.changes === 1;
}

async function releaseClaim(db: Database, claim: Claim): Promise<void> {
  await db
    .delete(idempotencyRecords)
    .where(and(eq(idempotencyRecords.id, claim.id), eq(idempotencyRecords.lockId, claim.lockId)))
    .run();
}

// ---------------------------------------------------------------------------
// The middleware

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
    const scope = idempotencyScope(c.var.principal, c.req.header("cf-connecting-ip"));
    if (scope === null) return next();

    const ctx = c.var.ctx;
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

// ---------------------------------------------------------------------------
// Clean-up

/** Rows deleted per statement, so one run never holds D1 for long. */
const PURGE_BATCH = 500;
const PURGE_MAX_BATCHES = 40;

/** Deletes records past their 24 h; returns how many. */
export async function purgeExpiredIdempotencyRecords(ctx: ServiceContext, now: Date): Promise<number> {
  let removed = 0;
  for (let batch = 0; batch < PURGE_MAX_BATCHES; batch++) {
    const expired = ctx.db
      .select({ id: idempotencyRecords.id })
      .from(idempotencyRecords)
      .where(lte(idempotencyRecords.expiresAt, now))
      .limit(PURGE_BATCH);
    const result = await ctx.db
      .delete(idempotencyRecords)
      .where(inArray(idempotencyRecords.id, expired))
      .run();
    removed += result.meta.changes;
    if (result.meta.changes < PURGE_BATCH) break;
  }
  return removed;
}

export const purgeIdempotencyRecordsJob: MaintenanceJob = {
  name: "idempotency.purge_expired",
  everyMinutes: 60,
  run: async (ctx, now) => ({ removed: await purgeExpiredIdempotencyRecords(ctx, now) }),
};
