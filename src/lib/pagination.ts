/**
 * Keyset (cursor) pagination. A cursor holds the sort values of the row it
 * points at plus the row id as tie-breaker, so pages stay stable while rows are
 * inserted or deleted, and a page costs one indexed range scan however deep it is.
 *
 * A service asks `keysetPage()` for the WHERE/ORDER BY/LIMIT of the page, and
 * `listPage()` adds them to its query, runs it with the count of the same filters
 * (in one db.batch) and hands the rows to `page.finish()`; the handler then calls
 * `setLinkHeader()`.
 */
import { z } from "@hono/zod-openapi";
import { and, asc, count, desc, or, type SQL, sql } from "drizzle-orm";
import type { RunnableQuery } from "drizzle-orm/runnable-query";
import type { AnySQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Context } from "hono";
import type { Database } from "../db/client";
import { base64urlDecode, base64urlEncode } from "./crypto";
import type { SortTerm } from "./list-query";
import { ProblemError } from "./problem";

type CursorValue = string | number;

export type SortColumn<Row> = {
  column: AnySQLiteColumn;
  /** The value as stored in D1 (timestamps as epoch ms). Sort columns must be NOT NULL. */
  read: (row: Row) => CursorValue;
};

export type PageMeta = { next: string | null; prev: string | null; total: number };
export type Page<Row> = { data: Row[]; meta: PageMeta };

const cursorSchema = z.object({
  /** Sort values then the tie-breaker, in sort order. */
  v: z
    .array(z.union([z.string().max(512), z.number()]))
    .min(1)
    .max(8),
  /** n = rows after v, p = rows before v. */
  d: z.enum(["n", "p"]),
  /** The sort the cursor was made for; a cursor is only valid with the same sort. */
  s: z.string().max(200),
});
type Cursor = z.infer<typeof cursorSchema>;

const invalidCursor = (detail: string) =>
  new ProblemError({
    status: 400,
    code: "invalid_cursor",
    detail,
    errors: [{ parameter: "cursor", location: "query", detail }],
  });

export function encodeCursor(cursor: Cursor): string {
  return base64urlEncode(new TextEncoder().encode(JSON.stringify(cursor)));
}

export function decodeCursor(raw: string): Cursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(
      new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(base64urlDecode(raw)),
    );
  } catch {
    throw invalidCursor("The cursor is not one this API issued.");
  }
  const result = cursorSchema.safeParse(parsed);
  if (!result.success) throw invalidCursor("The cursor is not one this API issued.");
  return result.data;
}

function sortSignature(sort: SortTerm[]): string {
  return sort.map((term) => (term.direction === "desc" ? `-${term.field}` : term.field)).join(",");
}

export function keysetPage<Row>(input: {
  sort: SortTerm[];
  columns: Record<string, SortColumn<Row>>;
  /** Unique, NOT NULL, ordered the same way as the last sort term (the id). */
  tiebreaker: SortColumn<Row>;
  limit: number;
  cursor?: string;
}) {
  const terms = input.sort.map((term) => {
    const column = input.columns[term.field];
    if (!column) throw new Error(`keysetPage: no column for sort field "${term.field}"`);
    return { ...column, direction: term.direction };
  });
  const lastDirection = terms.at(-1)?.direction ?? "asc";
  terms.push({ ...input.tiebreaker, direction: lastDirection });

  const signature = sortSignature(input.sort);
  const cursor = input.cursor === undefined ? undefined : decodeCursor(input.cursor);
  if (cursor && (cursor.s !== signature || cursor.v.length !== terms.length)) {
    throw invalidCursor("The cursor was issued for a different sort; start again without a cursor.");
  }
  const backwards = cursor?.d === "p";

  // Rows strictly after (or before) the cursor row in sort order:
  // (a > x) OR (a = x AND b > y) OR (a = x AND b = y AND id > z), with > flipped for desc.
  let where: SQL | undefined;
  if (cursor) {
    const branches: SQL[] = terms.map((term, i) => {
      const ascending = (term.direction === "asc") !== backwards;
      const value = cursor.v[i] as CursorValue;
      const comparison = ascending ? sql`${term.column} > ${value}` : sql`${term.column} < ${value}`;
      const equalities = terms
        .slice(0, i)
        .map((prior, j) => sql`${prior.column} = ${cursor.v[j] as CursorValue}`);
      return and(...equalities, comparison) as SQL;
    });
    where = or(...branches);
  }
  const orderBy = terms.map((term) =>
    (term.direction === "asc") !== backwards ? asc(term.column) : desc(term.column),
  );

  const cursorFor = (row: Row, d: "n" | "p") =>
    encodeCursor({ v: terms.map((term) => term.read(row)), d, s: signature });

  return {
    where,
    orderBy,
    /** One more than the page, to learn whether another page exists. */
    take: input.limit + 1,
    finish(rows: Row[], total: number): Page<Row> {
      const hasMore = rows.length > input.limit;
      const data = rows.slice(0, input.limit);
      if (backwards) data.reverse();
      const first = data[0];
      const last = data.at(-1);
      let next: string | null = null;
      let prev: string | null = null;
      if (backwards) {
        prev = hasMore && first ? cursorFor(first, "p") : null;
        next = last ? cursorFor(last, "n") : null;
      } else {
        next = hasMore && last ? cursorFor(last, "n") : null;
        prev = cursor && first ? cursorFor(first, "p") : null;
      }
      return { data, meta: { next, prev, total } };
    },
  };
}

export type KeysetPage<Row> = ReturnType<typeof keysetPage<Row>>;

/**
 * The select a list pages through, whatever it selects and joins, made with
 * `.$dynamic()` so that `listPage()` can add the page's WHERE, ORDER BY and LIMIT.
 */
export interface PageableSelect<Row> extends RunnableQuery<Row[], "sqlite"> {
  where(where: SQL | undefined): PageableSelect<Row>;
  orderBy(...columns: SQL[]): PageableSelect<Row>;
  limit(limit: number): PageableSelect<Row>;
}

/**
 * One page of a list and the total of its filters, in one db.batch (one round trip):
 *
 *     return listPage(ctx.db, page, {
 *       rows: ctx.db.select().from(tasks).$dynamic(),
 *       countFrom: tasks,
 *       where,
 *     });
 *
 * `where` filters both the rows and the count (so it may only name `countFrom`'s
 * columns); the page adds its cursor condition, order and limit to the rows.
 */
export async function listPage<Row>(
  db: Database,
  page: KeysetPage<Row>,
  query: { rows: PageableSelect<NoInfer<Row>>; countFrom: SQLiteTable; where?: SQL | undefined },
): Promise<Page<Row>> {
  const [rows, [total]] = await db.batch([
    query.rows
      .where(and(query.where, page.where))
      .orderBy(...page.orderBy)
      .limit(page.take),
    db.select({ value: count() }).from(query.countFrom).where(query.where),
  ]);
  return page.finish(rows, total?.value ?? 0);
}

/** RFC 8288 Link header with rel="next" / rel="prev", keeping every other query parameter. */
export function setLinkHeader(c: Context, meta: PageMeta): void {
  const links: string[] = [];
  for (const [rel, cursor] of [
    ["next", meta.next],
    ["prev", meta.prev],
  ] as const) {
    if (!cursor) continue;
    const url = new URL(c.req.url);
    url.searchParams.set("cursor", cursor);
    links.push(`<${url.toString()}>; rel="${rel}"`);
  }
  if (links.length > 0) c.header("Link", links.join(", "));
}

export const PageMetaSchema = z
  .object({
    next: z
      .string()
      .nullable()
      .openapi({ description: "Cursor of the next page, or null on the last page." }),
    prev: z
      .string()
      .nullable()
      .openapi({ description: "Cursor of the previous page, or null on the first page." }),
    total: z.number().int().openapi({ description: "Rows matching the filters (all pages).", example: 42 }),
  })
  .openapi("PageMeta");

/** `{ data: Item[], meta: PageMeta }` as a named OpenAPI component. */
export function pageSchema<T extends z.ZodType>(item: T, name: string) {
  return z.object({ data: z.array(item), meta: PageMetaSchema }).openapi(name);
}
