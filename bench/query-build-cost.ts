/**
 * `npm run bench:query-build`: what turning a query into SQL costs, drizzle's way on every call
 * against src/db/compiled-query.ts's once per isolate.
 *
 * The query is the one behind `findUserById`: every column of `users` where the id is a value.
 * Both variants stop where D1 would take over (the SQL text and its bound parameters), so what is
 * compared is JavaScript only:
 *   - drizzle:  `select().from(users).where(eq(users.id, id)).limit(1).toSQL()` on each call;
 *   - compiled: `compiledRowQuery(users, …).toSQL({ id })` on each call (built on the first).
 *
 * Each variant is bundled with wrangler's esbuild (Workers conditions, minified, as a production
 * build) and run in fresh Node processes (the V8 that workerd embeds): µs per call over the first
 * 200 calls of a process (a path an isolate takes now and then stays about this cold) and once
 * warm (calls 20,001 to 40,000). Processes alternate between the variants.
 *
 *   npm run bench:query-build                   # 5 processes per variant
 *   npm run bench:query-build -- --runs 9
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { bundleAsProduction } from "./production-bundle.ts";

const { values: flags } = parseArgs({ options: { runs: { type: "string", default: "5" } } });
const runs = Number(flags.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 100)
  throw new Error("--runs must be a whole number, 1..100");

const COLD_CALLS = 200;
const WARM_CALLS = 20_000;

/** The same measuring loop around each variant's `build(id)`. */
const harness = (setup: string, build: string) => `
import { eq, sql } from "drizzle-orm";
import { users } from "./src/db/schema";
${setup}
const build = (id) => ${build};
const time = (from, count) => {
  const start = performance.now();
  let length = 0;
  for (let i = from; i < from + count; i++) length += build("id-" + i).sql.length;
  if (length === 0) throw new Error("no SQL");
  return ((performance.now() - start) * 1000) / count;
};
const cold = time(0, ${COLD_CALLS});
time(${COLD_CALLS}, ${WARM_CALLS});
const warm = time(${COLD_CALLS + WARM_CALLS}, ${WARM_CALLS});
console.log(JSON.stringify({ cold, warm }));
`;

const variants = {
  drizzle: harness(
    `import { drizzle } from "drizzle-orm/d1";
const db = drizzle({ prepare() { throw new Error("not run"); } });`,
    "db.select().from(users).where(eq(users.id, id)).limit(1).toSQL()",
  ),
  compiled: harness(
    `import { compiledRowQuery } from "./src/db/compiled-query";
const byId = compiledRowQuery(users, (t) => eq(t.id, sql.placeholder("id")));`,
    "byId.toSQL({ id })",
  ),
} as const;

const dir = mkdtempSync(join(tmpdir(), "query-build-cost-"));
try {
  const outfiles = new Map<string, string>();
  for (const [variant, contents] of Object.entries(variants)) {
    const outfile = join(dir, `${variant}.mjs`);
    await bundleAsProduction(contents, outfile, { loader: "ts", external: ["node:*", "cloudflare:*"] });
    outfiles.set(variant, outfile);
  }

  const results = new Map<string, Array<{ cold: number; warm: number }>>(
    [...outfiles.keys()].map((variant) => [variant, []]),
  );
  for (let i = 0; i < runs; i++) {
    for (const [variant, outfile] of outfiles) {
      const line = execFileSync(process.execPath, [outfile], { encoding: "utf8" }).trim();
      results.get(variant)?.push(JSON.parse(line) as { cold: number; warm: number });
    }
  }
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] as number;
  };
  const rows = [...results].map(([variant, samples]) => ({
    variant,
    cold: median(samples.map((sample) => sample.cold)),
    warm: median(samples.map((sample) => sample.warm)),
  }));

  console.log(
    `Node ${process.version}, ${runs} fresh processes per variant: µs per call to build the SQL of findUserById (medians)\n`,
  );
  console.log(`| variant | first ${COLD_CALLS} calls µs | warm µs |`);
  console.log("|---|--:|--:|");
  for (const row of rows) console.log(`| ${row.variant} | ${row.cold.toFixed(2)} | ${row.warm.toFixed(2)} |`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
