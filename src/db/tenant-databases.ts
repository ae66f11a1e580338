/**
 * The seam between the directory and tenant data (docs/SCALING.md). The shared
 * database (`DB`) is the directory: users, sessions, organizations, memberships, API
 * keys, billing, the webhook outbox. An organization's own content, read only inside
 * that organization (its files today), is tenant data, and every query of it gets its
 * database here: `orgDatabase(ctx, organizationId)`. Which database that is comes from
 * TENANT_DATABASES (src/db/tenant-routing.ts), so moving a tenant to its own D1 is
 * configuration, not a code change.
 *
 * A tenant database has every migration applied (the same schema as `DB`), but only
 * tenant tables hold rows there; tenant tables carry no foreign keys into the
 * directory, and the steps that replaced those cascades run against each database.
 */
import { drizzle } from "drizzle-orm/d1";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Bindings, Config } from "../env";
import type { Database } from "./client";
import * as schema from "./schema";
import { bindingOf, SHARED_DATABASE_BINDING } from "./tenant-routing";

/** What routing needs from a ServiceContext: the shared database as the request opened it, bindings, settings. */
export type DatabaseContext = {
  db: Database;
  env: Bindings;
  config: Pick<Config, "TENANT_DATABASES">;
};

/**
 * The tables whose rows may live in a tenant database: no foreign keys into the directory
 * (test/orgs.test.ts holds them to it), every query through orgDatabase(). `object_purges`
 * is in every database: a purge is written beside the row it replaces (avatars' in DB).
 */
export const TENANT_TABLES: readonly SQLiteTable[] = [schema.files, schema.objectPurges];

const opened = new WeakMap<D1Database, Database>();

/**
 * The drizzle instance over a tenant database's binding, one per binding per isolate
 * (like getDb). The plain binding, not a D1 session: every read sees the writes before
 * it (the primary). The one place to change if tenant databases get read replicas.
 */
function openTenantDatabase(d1: D1Database): Database {
  let db = opened.get(d1);
  if (!db) {
    db = drizzle(d1, { schema });
    opened.set(d1, db);
  }
  return db;
}

/** getConfig() already refused names that are not D1 bindings, so this is the binding itself. */
function databaseOf(ctx: DatabaseContext, binding: string): Database {
  if (binding === SHARED_DATABASE_BINDING) return ctx.db;
  return openTenantDatabase((ctx.env as unknown as Record<string, D1Database>)[binding] as D1Database);
}

/** The database that holds `organizationId`'s tenant data: `ctx.db` unless TENANT_DATABASES routes it elsewhere. */
export function orgDatabase(ctx: DatabaseContext, organizationId: string): Database {
  return databaseOf(ctx, bindingOf(ctx.config.TENANT_DATABASES, organizationId));
}

/**
 * Whether `organizationId`'s tenant data is in the shared database, where its statements
 * may join the directory's own D1 batch (one atomic write) instead of a batch of their own.
 */
export function isInSharedDatabase(ctx: DatabaseContext, organizationId: string): boolean {
  return bindingOf(ctx.config.TENANT_DATABASES, organizationId) === SHARED_DATABASE_BINDING;
}

export type TenantDatabase = {
  /** The D1 binding's name (`DB` for the shared one). */
  binding: string;
  db: Database;
  shared: boolean;
};

/**
 * Every database that may hold tenant data, the shared one first, each once: what a
 * cron sweep or an account-wide clean-up (account erasure) goes through.
 */
export function tenantDatabases(ctx: DatabaseContext): TenantDatabase[] {
  const routing = ctx.config.TENANT_DATABASES;
  const bindings = new Set([SHARED_DATABASE_BINDING, ...Object.values(routing)]);
  return [...bindings].map((binding) => ({
    binding,
    db: databaseOf(ctx, binding),
    shared: binding === SHARED_DATABASE_BINDING,
  }));
}

/**
 * Runs `sweep` (a cron's clean-up) on every tenant database and adds up what each
 * returned. One database that fails does not stop the others; the failure is thrown
 * once all have run, so the cron still records it.
 */
export async function sweepTenantDatabases(
  ctx: DatabaseContext,
  sweep: (db: Database) => Promise<number>,
): Promise<number> {
  let total = 0;
  const failures: unknown[] = [];
  for (const { db } of tenantDatabases(ctx)) {
    try {
      total += await sweep(db);
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, `${failures.length} tenant databases failed`);
  return total;
}
