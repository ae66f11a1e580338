/**
 * SQL text for `wrangler d1 execute --file`, which takes no bound parameters: values are
 * written as SQLite literals here, and only here.
 */

export type SqlValue = string | number | boolean | null | Date | object;

/** A value as an SQLite literal: text quoted (quotes doubled), Dates as epoch ms, objects as JSON text. */
export function sqlValue(value: SqlValue): string {
  if (value === null) return "NULL";
  if (typeof value === "boolean") return value ? "1" : "0";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new RangeError(`sqlValue: ${value} is not a finite number`);
    return String(value);
  }
  if (value instanceof Date) return String(value.getTime());
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return `'${text.replaceAll("'", "''")}'`;
}

/** `INSERT … ON CONFLICT DO NOTHING`: a row that exists by any unique key is left as it is. */
export function insertRow(table: string, row: Record<string, SqlValue>): string {
  const columns = Object.keys(row);
  const values = columns.map((column) => sqlValue(row[column] as SqlValue));
  return `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${values.join(", ")}) ON CONFLICT DO NOTHING;`;
}

/** `('a', 'b')` for an IN clause; `(NULL)` when empty, which matches nothing. */
export function sqlList(values: readonly string[]): string {
  return values.length === 0 ? "(NULL)" : `(${values.map(sqlValue).join(", ")})`;
}
