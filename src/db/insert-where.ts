/**
 * `INSERT … SELECT <values> WHERE <condition>`: one row, written only when the
 * condition holds as the statement runs. One statement is atomic in D1, so a guard
 * such as "the quota still has room" or "the previous statement changed a row" cannot
 * be raced between a read and the write.
 */
import { getTableColumns, type SQL, sql } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Database } from "./client";

/**
 * `row` must give every column a value (defaults do not apply: drizzle lists every
 * column of the table, in order, and the values follow that order, each encoded by
 * its column: JSON, timestamps).
 */
export function insertWhere<T extends SQLiteTable>(
  db: Database,
  table: T,
  row: T["$inferInsert"],
  condition: SQL,
) {
  const values = Object.entries(getTableColumns(table)).map(([name, column]) => {
    const value = (row as Record<string, unknown>)[name];
    return value === null || value === undefined ? sql`null` : sql.param(value, column);
  });
  return db.insert(table).select(sql`select ${sql.join(values, sql`, `)} where ${condition}`);
}
