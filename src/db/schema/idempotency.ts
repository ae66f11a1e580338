import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { id, timestamp } from "./columns";

/**
 * One row per Idempotency-Key in use (src/lib/idempotency/records.ts). The unique
 * index is what makes a key single-use under concurrency: the first request
 * inserts the row (its claim) before its handler runs; a concurrent one conflicts.
 *
 * While the first request runs, `lock_id` / `locked_until` hold its lease and the
 * response columns are null; when it finishes they hold the response to replay.
 */
export const idempotencyRecords = sqliteTable(
  "idempotency_records",
  {
    id: id(),
    /** Whose key: `user:<id>`, `api_key:<id>`, or `ip:<address>` for anonymous callers. */
    scope: text("scope").notNull(),
    method: text("method").notNull(),
    /** The route pattern (`/api/v1/products/:id`), not the path. */
    route: text("route").notNull(),
    key: text("key").notNull(),
    /** SHA-256 (hex) of the method, path, query and raw body of the request that claimed the key. */
    fingerprint: text("fingerprint").notNull(),
    /** Set while a request holds the key; a completing request must still hold it to store its response. */
    lockId: text("lock_id"),
    /** When the holder's lease lapses and another request may take the key over (a crashed request). */
    lockedUntil: timestamp("locked_until"),
    /** Null while in progress. */
    responseStatus: integer("response_status"),
    /** The replayed headers, as [name, value] pairs. */
    responseHeaders: text("response_headers", { mode: "json" }).$type<Array<[string, string]>>(),
    responseBody: text("response_body"),
    createdAt: timestamp("created_at").notNull(),
    expiresAt: timestamp("expires_at").notNull(),
  },
  (table) => [
    uniqueIndex("idempotency_records_key_unique").on(table.scope, table.method, table.route, table.key),
    index("idempotency_records_expires_at_idx").on(table.expiresAt),
  ],
);

export type IdempotencyRecord = typeof idempotencyRecords.$inferSelect;
