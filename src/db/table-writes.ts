/**
 * Which tables this isolate has written, as a counter per table: what a per-isolate cache of
 * rows compares to know that the rows it holds may have changed (src/modules/users/profile-cache.ts).
 *
 * Every statement a unit of work runs goes through its D1 session's `prepare()` (drizzle's
 * single queries and its batches alike), so `watchTableWrites` wraps that one method and reads
 * the statement's verb and table: `insert [or …] into "t"`, `replace into "t"`, `update [or …] "t"`,
 * `delete from "t"`. A write this cannot name (one inside a `with …` statement) counts as a write
 * to every table. Writes made elsewhere (another isolate, a script, `wrangler d1 execute`) are not
 * seen: a cache that relies on this must also expire on its own.
 */
import type { D1SessionClient } from "./bookmark-fallback";

const WRITE =
  /^\s*(?:insert(?:\s+or\s+\w+)?\s+into|replace\s+into|update(?:\s+or\s+\w+)?|delete\s+from)\s+"?(\w+)"?/i;
const UNNAMED_WRITE = /^\s*with\b[\s\S]*\b(?:insert|replace|update|delete)\b/i;

const writesByTable = new Map<string, number>();
let unnamedWrites = 0;

/** Called with every statement before it is prepared. */
export function noteStatement(sql: string): void {
  const named = WRITE.exec(sql);
  if (named) {
    const table = (named[1] as string).toLowerCase();
    writesByTable.set(table, (writesByTable.get(table) ?? 0) + 1);
  } else if (UNNAMED_WRITE.test(sql)) {
    unnamedWrites += 1;
  }
}

/** A number that changes whenever this isolate writes `table` (or runs a write it cannot name). */
export function tableWriteGeneration(table: string): number {
  return (writesByTable.get(table) ?? 0) + unnamedWrites;
}

/** The session, with every statement it prepares noted first. */
export function watchTableWrites(session: D1SessionClient): D1SessionClient {
  return {
    prepare(query: string) {
      noteStatement(query);
      return session.prepare(query);
    },
    batch: (statements) => session.batch(statements),
    getBookmark: () => session.getBookmark(),
  };
}
