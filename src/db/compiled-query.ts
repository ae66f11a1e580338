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
 * compiledRowQuery() is for whole rows of one table, filtered by `sql.placeholder()` values.
 * compiledSelect() takes any select with a fixed shape (joins, a nested or partial selection) and
 * decodes its rows with drizzle's own mapResultRow(), as drizzle's D1 driver does. A condition that
 * changes shape from call to call stays an ordinary drizzle query.
 */
import { type Column, eq, fillPlaceholders, getTableColumns, type SQL, sql } from "drizzle-orm";
import { type AnySQLiteColumn, QueryBuilder, type SQLiteTable } from "drizzle-orm/sqlite-core";
// @ts-expect-error: exported by drizzle-orm at runtime, left out of its typings (@internal); typed below.
import { mapResultRow, orderSelectedFields } from "drizzle-orm/utils";
import type { DatabaseSession } from "./client";

type Compiled = { sql: string; params: unknown[]; columns: Array<[string, Column]> };

export type CompiledRowQuery<T extends SQLiteTable, P extends Record<string, unknown>> = {
  /** The first row `where` selects, decoded as drizzle would; undefined when there is none. */
  get(session: Pick<DatabaseSession, "client">, values: P): Promise<T["$inferSelect"] | undefined>;
  /** The statement and its parameters with `values` in place: what D1 is sent. */
  toSQL(values: P): { sql: string; params: unknown[] };
};

/** Runs a built statement in the unit of work's D1 session: the first row, as D1's column array. */
async function firstRawRow(
  session: Pick<DatabaseSession, "client">,
  sql: string,
  params: unknown[],
): Promise<unknown[] | undefined> {
  const rows = await session.client
    .prepare(sql)
    .bind(...params)
    .raw();
  return rows[0];
}

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
      const row = await firstRawRow(session, sql, fillPlaceholders(params, values));
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

/** A table's row by its `id`: `compiledRowQuery(table, (t) => eq(t.id, sql.placeholder("id")))`. */
export function compiledRowById<T extends SQLiteTable & { id: AnySQLiteColumn }>(
  table: T,
): CompiledRowQuery<T, { id: string }> {
  return compiledRowQuery<T, { id: string }>(table, (t) => eq(t.id, sql.placeholder("id")));
}

/**
 * drizzle's row decoding, as its D1 driver runs it: exported by drizzle-orm at runtime, left out of
 * its type declarations (@internal). test/compiled-query.test.ts compares every answer with the
 * drizzle query's own, so a drizzle release that changes them fails there, not in production.
 */
type SelectedFieldsOrdered = Array<{ path: string[]; field: unknown }>;
const drizzleInternals = {
  orderSelectedFields: orderSelectedFields as (fields: Record<string, unknown>) => SelectedFieldsOrdered,
  mapResultRow: mapResultRow as (
    columns: SelectedFieldsOrdered,
    row: unknown[],
    joinsNotNullableMap: Record<string, boolean> | undefined,
  ) => unknown,
};

/** What compiledSelect() needs of a drizzle select built on a QueryBuilder. */
type BuiltSelect = {
  toSQL(): { sql: string; params: unknown[] };
  _: { result: unknown };
};

type CompiledSelectState = {
  sql: string;
  params: unknown[];
  fields: SelectedFieldsOrdered;
  /** drizzle's record of which joined tables may come back all null (left joins): mapResultRow's input. */
  joinsNotNullableMap: Record<string, boolean> | undefined;
};

export type CompiledSelect<Q extends BuiltSelect, P extends Record<string, unknown>> = {
  /** The first row, decoded as drizzle's `.get()` would; undefined when there is none. */
  get(
    session: Pick<DatabaseSession, "client">,
    values: P,
  ): Promise<(Q["_"]["result"] extends Array<infer Row> ? Row : never) | undefined>;
  /** The statement and its parameters with `values` in place: what D1 is sent. */
  toSQL(values: P): { sql: string; params: unknown[] };
};

/**
 * Any select of a fixed shape, built once per isolate: `build` writes it on the QueryBuilder it is
 * given, with `sql.placeholder("name")` where a value goes; `get(session, { name })` binds it and
 * answers the first row. Add `.limit(1)` when more than one row could match.
 */
export function compiledSelect<Q extends BuiltSelect, P extends Record<string, unknown>>(
  build: (qb: QueryBuilder) => Q,
): CompiledSelect<Q, P> {
  let compiled: CompiledSelectState | undefined;
  const compile = (): CompiledSelectState => {
    if (!compiled) {
      const query = build(new QueryBuilder());
      const { sql, params } = query.toSQL();
      // The same two inputs drizzle's select hands its driver (SQLiteSelect._prepare()).
      const internals = query as unknown as {
        _: { config: { fields: Record<string, unknown> } };
        joinsNotNullableMap?: Record<string, boolean>;
      };
      compiled = {
        sql,
        params,
        fields: drizzleInternals.orderSelectedFields(internals._.config.fields),
        joinsNotNullableMap: internals.joinsNotNullableMap,
      };
    }
    return compiled;
  };

  return {
    async get(session, values) {
      const { sql, params, fields, joinsNotNullableMap } = compile();
      const row = await firstRawRow(session, sql, fillPlaceholders(params, values));
      if (!row) return undefined;
      return drizzleInternals.mapResultRow(fields, row, joinsNotNullableMap) as Awaited<
        ReturnType<CompiledSelect<Q, P>["get"]>
      >;
    },
    toSQL(values) {
      const { sql, params } = compile();
      return { sql, params: fillPlaceholders(params, values) };
    },
  };
}
