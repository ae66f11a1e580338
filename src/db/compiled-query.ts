/**
 * A whole-row read of one table, built into SQL by drizzle once per isolate and then run in
 * each unit of work's own D1 session with only its parameters bound.
 *
 * Why: drizzle turns a query into SQL again on every call, and for a wide table that is slow:
 * every column passes through several `is()` class checks that walk the prototype chain.
 * `select().from(users).where(eq(users.id, id))` measures ~120 µs per call in V8 once warm and
 * ~280 µs over the first 200 calls (`npm run bench:query-build`), which is where a rarely-taken
 * path of an isolate stays (`findUserById` runs on a profile-cache miss, behind `requireStaff`, in
 * most auth flows). The
 * statement text never changes, so it is built once; what runs per call is D1's own
 * `prepare().bind().raw()` and one `mapFromDriverValue` per column, the same decoding drizzle does.
 *
 * It runs through `ctx.dbSession.client`, the same D1 session every drizzle query of the unit of
 * work uses: the bookmark advances, src/db/table-writes.ts sees the statement, and a bookmark the
 * primary must serve still falls back as src/db/bookmark-fallback.ts says.
 *
 * Only for whole rows of one table, filtered by `sql.placeholder()` values: anything with joins,
 * a partial selection or a dynamic condition stays an ordinary drizzle query.
 */
import { type Column, fillPlaceholders, getTableColumns, type SQL } from "drizzle-orm";
import { QueryBuilder, type SQLiteTable } from "drizzle-orm/sqlite-core";
import type { DatabaseSession } from "./client";

type Compiled = { sql: string; params: unknown[]; columns: Array<[string, Column]> };

export type CompiledRowQuery<T extends SQLiteTable, P extends Record<string, unknown>> = {
  /** The first row `where` selects, decoded as drizzle would; undefined when there is none. */
  get(session: Pick<DatabaseSession, "client">, values: P): Promise<T["$inferSelect"] | undefined>;
  /** The statement and its parameters with `values` in place: what D1 is sent. */
  toSQL(values: P): { sql: string; params: unknown[] };
};

/**
 * `select <every column> from table where <where(table)> limit 1`. Write the condition with
 * `sql.placeholder("name")` where a value goes; `get(session, { name })` binds it.
 */
export function compiledRowQuery<T extends SQLiteTable, P extends Record<string, unknown>>(
  table: T,
  // Never undefined: a read without its condition would answer the table's first row.
  where: (table: T) => SQL,
): CompiledRowQuery<T, P> {
  let compiled: Compiled | undefined;
  // Built on first use, not at import: module scope stays free of work (and of drizzle's checks).
  const compile = (): Compiled => {
    if (!compiled) {
      const query = new QueryBuilder().select().from(table).where(where(table)).limit(1).toSQL();
      // drizzle lists a table's columns in the SELECT in the order getTableColumns() gives them.
      compiled = { sql: query.sql, params: query.params, columns: Object.entries(getTableColumns(table)) };
    }
    return compiled;
  };

  return {
    async get(session, values) {
      const { sql, params, columns } = compile();
      const rows = await session.client
        .prepare(sql)
        .bind(...fillPlaceholders(params, values))
        .raw();
      const row = rows[0];
      if (!row) return undefined;
      const decoded: Record<string, unknown> = {};
      for (let index = 0; index < columns.length; index++) {
        const [key, column] = columns[index] as [string, Column];
        const raw = row[index];
        decoded[key] = raw === null ? null : column.mapFromDriverValue(raw);
      }
      return decoded as T["$inferSelect"];
    },
    toSQL(values) {
      const { sql, params } = compile();
      return { sql, params: fillPlaceholders(params, values) };
    },
  };
}
