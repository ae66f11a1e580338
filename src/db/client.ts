import {
  createTableRelationsHelpers,
  type ExtractTablesWithRelations,
  extractTablesRelationalConfig,
  type RelationalSchemaConfig,
} from "drizzle-orm";
import { DrizzleD1Database, drizzle, SQLiteD1Session } from "drizzle-orm/d1";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import type { Bindings } from "../env";
import { type D1SessionClient, withPrimaryFallback } from "./bookmark-fallback";
import * as schema from "./schema";
import { watchTableWrites } from "./table-writes";

export type Database = DrizzleD1Database<typeof schema>;

const cache = new WeakMap<D1Database, Database>();

/**
 * The database without a D1 session: every query goes to the primary. For tests,
 * scripts and the health check. Code that serves a request, a queue message or a
 * cron run uses `ctx.db`, which runs in that unit of work's session (see below).
 * One drizzle instance per D1 binding per isolate.
 */
export function getDb(env: Pick<Bindings, "DB">): Database {
  let db = cache.get(env.DB);
  if (!db) {
    db = drizzle(env.DB, { schema }) as Database;
    cache.set(env.DB, db);
  }
  return db;
}

/** Where a D1 session starts: one of D1's two constraints, or a bookmark to read at least up to. */
export type D1SessionStart = D1SessionConstraint | D1SessionBookmark;

/** How a session started, without the bookmark itself: what the access log and the tests look at. */
export type D1SessionKind = D1SessionConstraint | "bookmark";

/** A drizzle Database whose every query runs in one D1 session (Sessions API). */
export type DatabaseSession = {
  db: Database;
  kind: D1SessionKind;
  /**
   * The newest bookmark the session has seen: the one it started from, then whatever D1
   * answered after each query. Null only for a constraint-started session that has not
   * run a query yet.
   */
  bookmark(): string | null;
  /**
   * The D1 session itself, as drizzle drives it (prepare, batch, bookmark), with every statement
   * noted by src/db/table-writes.ts: for statements built ahead of time (src/db/compiled-query.ts).
   */
  client: D1SessionClient;
};

export function sessionKind(start: D1SessionStart): D1SessionKind {
  return start === "first-primary" || start === "first-unconstrained" ? start : "bookmark";
}

// drizzle(client, { schema }) walks the whole schema to build its relational-query config
// on every call: 80–140 µs for our 40-odd tables, measured in local workerd. A session (so a
// drizzle instance over it) is per request, so the config and the dialect (stateless but for
// a column-name cache) are built once per isolate and every instance shares them: opening a
// session with its drizzle instance then measures about 9 µs.
let shared: { dialect: SQLiteAsyncDialect; relations: RelationalSchemaConfig<Relations> } | undefined;
type Relations = ExtractTablesWithRelations<typeof schema>;

function sharedDrizzleParts() {
  if (!shared) {
    const { tables, tableNamesMap } = extractTablesRelationalConfig<Relations>(
      schema,
      createTableRelationsHelpers,
    );
    shared = {
      dialect: new SQLiteAsyncDialect(),
      relations: { fullSchema: schema, schema: tables, tableNamesMap },
    };
  }
  return shared;
}

/**
 * A D1 session on `binding` (opened by its first statement) and a drizzle Database over it: the
 * same thing `drizzle(binding.withSession(start), { schema })` builds, without re-walking the schema.
 * One per unit of work (request, queue message, cron run, Durable Object call); any D1
 * binding with this schema (a tenant's own database too) can be opened this way.
 */
export function openDatabaseSession(binding: D1Database, start: D1SessionStart): DatabaseSession {
  const kind = sessionKind(start);
  // A bookmark came from outside this unit of work: if D1 will not serve it, the primary does.
  const session = watchTableWrites(
    openOnFirstStatement(
      () => (kind === "bookmark" ? withPrimaryFallback(binding, start) : binding.withSession(start)),
      kind === "bookmark" ? start : null,
    ),
  );
  const { dialect, relations } = sharedDrizzleParts();
  // drizzle's D1 session drives the client through prepare() and batch(), which a
  // D1DatabaseSession has as the binding does.
  const drizzleSession = new SQLiteD1Session<typeof schema, Relations>(
    session as unknown as D1Database,
    dialect,
    relations,
    {},
  );
  // Built without the schema, then given it: with it, drizzle's constructor makes a relational
  // query builder for each of our 40-odd tables (`db.query.users`, …), per request, and the
  // request path uses none of them (~15 µs of a GET /users/me). `db.query` builds them on first use.
  const db = new DrizzleD1Database<typeof schema>("async", dialect, drizzleSession, undefined);
  (db as { -readonly [K in "_"]: Database["_"] })._ = {
    schema: relations.schema,
    fullSchema: schema,
    tableNamesMap: relations.tableNamesMap,
  };
  let query: Database["query"] | undefined;
  Object.defineProperty(db, "query", {
    get: () => {
      query ??= new DrizzleD1Database<typeof schema>("async", dialect, drizzleSession, relations).query;
      return query;
    },
  });
  return { db, kind, bookmark: () => session.getBookmark(), client: session };
}

/**
 * A D1 session opened by its first statement rather than when the unit of work starts. Why:
 * many requests run none (a `GET /users/me` answered from memory, a 401, a 429, the health
 * check), and opening one is a call into the runtime. Until then its bookmark is the one it is
 * to start from, if any: what an opened session that has run nothing would say.
 */
function openOnFirstStatement(open: () => D1SessionClient, startBookmark: string | null): D1SessionClient {
  let session: D1SessionClient | undefined;
  const opened = () => {
    session ??= open();
    return session;
  };
  return {
    prepare: (query: string) => opened().prepare(query),
    batch: <T>(statements: D1PreparedStatement[]) => opened().batch<T>(statements),
    getBookmark: () => (session ? session.getBookmark() : startBookmark),
  };
}
