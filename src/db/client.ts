import { drizzle } from "drizzle-orm/d1";
import type { Bindings } from "../env";
import * as schema from "./schema";

export type Database = ReturnType<typeof createDb>;

function createDb(d1: D1Database) {
  return drizzle(d1, { schema });
}

const cache = new WeakMap<D1Database, Database>();

/** One drizzle instance per D1 binding per isolate (it is cheap, but not free, to build). */
export function getDb(env: Pick<Bindings, "DB">): Database {
  let db = cache.get(env.DB);
  if (!db) {
    db = createDb(env.DB);
    cache.set(env.DB, db);
  }
  return db;
}
