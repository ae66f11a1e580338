/**
 * Deleting R2 objects reliably when the rows that point at them go (table
 * `object_purges`). A statement from here goes in the same D1 batch as the row's
 * deletion: the batch commits both or neither, so an object is never deleted while a
 * row still needs it, and never forgotten once no row does. The cron
 * (object-purges.cron.ts) deletes the objects whose `not_before` has passed, then
 * their purge rows; a failed R2 call is simply tried again on the next run.
 *
 * `not_before` in the future is for keys an upload URL could still write: purged now
 * and again once the URL has expired (plus the grace a slow upload gets), a late upload
 * cannot leave an object behind.
 */
import { and, asc, lte, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Database } from "../../db/client";
import { objectPurges } from "../../db/schema";
import { UPLOAD_GRACE_SECONDS } from "./transfer-urls";

/** Keys per run of the cron: R2 deletes up to 1000 keys per call. */
const PURGE_BATCH = 1000;

/** One key: gone at `notBefore` (now by default). */
export function purgeObjectStatement(
  db: Database,
  key: string,
  notBefore: Date = new Date(),
): BatchItem<"sqlite"> {
  return db.insert(objectPurges).values({ r2Key: key, notBefore });
}

/** Rows that point at R2 objects: the table, its key column, when its upload URL expires, which rows. */
export type RowsWithObjects = {
  from: SQLiteTable;
  key: SQLiteColumn;
  uploadExpiresAt: SQLiteColumn;
  where: SQL;
};

/**
 * The objects of the rows `from … where` selects (`key` is their R2 key column): purged
 * at once, and once more after `uploadExpiresAt` + the upload grace for rows whose
 * upload URL could still write the key. Put it in the batch before the rows' deletion
 * (or use deleteRowsAndPurgeObjects).
 */
export function purgeObjectsOfRows(
  db: Database,
  rows: RowsWithObjects,
  now: Date = new Date(),
): BatchItem<"sqlite"> {
  const at = now.getTime();
  const graceMs = UPLOAD_GRACE_SECONDS * 1000;
  const from = rows.from;
  // Drizzle lists every column of object_purges (id, r2_key, not_before, created_at): a null id is assigned.
  return db.insert(objectPurges).select(sql`
    select null, ${rows.key}, ${at}, ${at} from ${from} where ${rows.where}
    union all
    select null, ${rows.key}, ${rows.uploadExpiresAt} + ${graceMs}, ${at} from ${from}
      where (${rows.where}) and ${rows.uploadExpiresAt} + ${graceMs} > ${at}`);
}

/** Deletes the rows and purges their objects, in one batch; how many rows went. */
export async function deleteRowsAndPurgeObjects(
  db: Database,
  rows: RowsWithObjects,
  now: Date = new Date(),
): Promise<number> {
  const [, removed] = await db.batch([
    purgeObjectsOfRows(db, rows, now),
    db.delete(rows.from).where(rows.where).returning({ key: rows.key }),
  ]);
  return removed.length;
}

/** Deletes the objects whose time has come, then their purge rows; how many keys it deleted. */
export async function purgeDueObjects(db: Database, bucket: R2Bucket, now: Date): Promise<number> {
  let purged = 0;
  // A few rounds at most per run, so one run stays short however long the backlog.
  for (let round = 0; round < 5; round++) {
    const due = await db
      .select({ id: objectPurges.id, key: objectPurges.r2Key })
      .from(objectPurges)
      .where(lte(objectPurges.notBefore, now))
      .orderBy(asc(objectPurges.id))
      .limit(PURGE_BATCH);
    const last = due.at(-1);
    if (!last) break;
    const keys = [...new Set(due.map((row) => row.key))];
    await bucket.delete(keys);
    // The due rows up to the last id read are exactly the ones read (ids only grow; rows never change).
    await db.delete(objectPurges).where(and(lte(objectPurges.notBefore, now), lte(objectPurges.id, last.id)));
    purged += keys.length;
    if (due.length < PURGE_BATCH) break;
  }
  return purged;
}
