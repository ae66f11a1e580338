/**
 * The Idempotency-Key records in D1 (`idempotency_records`): claiming a key,
 * storing the answer to replay, releasing a claim. No HTTP here: the middleware
 * (src/middleware/idempotency.ts) decides when each happens and what an answer is.
 *
 * A key is unique per scope + method + route + key. The first request claims it by
 * inserting the row before its handler runs (INSERT … ON CONFLICT DO NOTHING, then
 * "did I write a row?"), so of two concurrent requests exactly one runs.
 *
 * A request that dies mid-way (isolate evicted, CPU limit) leaves its claim
 * behind; the claim is a lease of 60 s, after which another request with the same
 * key and body takes it over and runs. A holder that outlives its lease cannot
 * overwrite the new holder's record: completing requires the claim's `lock_id`.
 */
import { and, eq, isNull, lte, or } from "drizzle-orm";
import type { Database } from "../../db/client";
import { type IdempotencyRecord, idempotencyRecords } from "../../db/schema";
import { randomToken } from "../crypto";
import { uuidv7 } from "../ids";

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
export const IDEMPOTENCY_LEASE_MS = 60 * 1000;

export type RecordKey = { scope: string; method: string; route: string; key: string };
export type Claim = { id: string; lockId: string };
export type ClaimDecision =
  | { kind: "claimed"; claim: Claim }
  | { kind: "replay"; record: IdempotencyRecord }
  | { kind: "reused" }
  | { kind: "in_progress" };

export type ClaimTiming = { now: number; ttlMs: number; leaseMs: number };

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
function claimColumns(fingerprint: string, lockId: string, timing: ClaimTiming) {
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
export async function claimKey(
  db: Database,
  key: RecordKey,
  fingerprint: string,
  timing: ClaimTiming,
): Promise<ClaimDecision> {
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

/** Stores the answer to replay; false when the claim was taken over meanwhile (nothing written). */
export async function storeResponse(
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

/** Frees the key (nothing to replay), unless another request holds it by now. */
export async function releaseClaim(db: Database, claim: Claim): Promise<void> {
  await db
    .delete(idempotencyRecords)
    .where(and(eq(idempotencyRecords.id, claim.id), eq(idempotencyRecords.lockId, claim.lockId)))
    .run();
}
