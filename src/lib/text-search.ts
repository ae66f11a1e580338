/**
 * Substring search for the `q` of list routes (staff user, organization and waitlist
 * searches). It uses instr(), not LIKE: D1 caps a LIKE pattern at 50 bytes, so a
 * longer `q` (or a short one in a multi-byte script) made the query fail with a 500;
 * instr has no such cap and no wildcards to escape, so `%` and `_` simply match
 * themselves. Case-insensitive as SQLite's lower() is (ASCII letters).
 */
import { or, type SQL, sql } from "drizzle-orm";

/** True for rows where any of `columns` contains `q`. */
export function containsText(columns: SQL[], q: string): SQL | undefined {
  return or(...columns.map((column) => sql`instr(lower(${column}), lower(${q})) > 0`));
}
