/**
 * D1 refuses a statement with more than 100 bound parameters, so multi-row
 * inserts are split into statements small enough, then sent as one db.batch
 * (one round trip, applied atomically).
 */
import { getTableColumns, type SQL, sql } from "drizzle-orm";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Database } from "./client";

export const D1_MAX_BOUND_PARAMETERS = 100;

/** Ids per `IN (…)` list when chunking by hand: the cap, less room for the statement's other parameters. */
export const D1_IDS_PER_STATEMENT = 90;

export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError("chunk size must be a positive integer");
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/** Rows per INSERT so that even a row binding every column stays under the cap. */
export function rowsPerInsert(table: SQLiteTable): number {
  const columns = Object.keys(getTableColumns(table)).length;
  return Math.max(1, Math.floor(D1_MAX_BOUND_PARAMETERS / columns));
}

export async function insertChunked<T extends SQLiteTable>(
  db: Database,
  table: T,
  rows: readonly T["$inferInsert"][],
): Promise<void> {
  if (rows.length === 0) return;
  const statements = chunk(rows, rowsPerInsert(table)).map((part) => db.insert(table).values(part));
  const [first, ...rest] = statements;
  if (!first) return;
  await db.batch([first, ...rest]);
}

/**
 * `column IN (<values>)` with ONE bound parameter, whatever the number of values:
 * the list travels as a JSON array read back by SQLite's json_each. For lists that
 * may reach D1's 100-parameter cap together with the rest of the statement.
 */
export function inJsonList(column: SQLiteColumn, values: readonly string[]): SQL {
  return sql`${column} IN (SELECT value FROM json_each(${JSON.stringify(values)}))`;
}
