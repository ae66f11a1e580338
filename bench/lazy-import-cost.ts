/**
 * `npm run bench:lazy-import`: what importing the Stripe SDK lazily saves at isolate start.
 *
 * Wrangler bundles the Worker into one script, so `import("stripe")` in
 * src/modules/billing/stripe.client.ts does not make the bundle smaller: the SDK's code is
 * still downloaded and parsed. What it defers is the *evaluation* of the SDK's top level
 * (esbuild wraps a dynamically imported module in an init function that runs on first use),
 * which isolates that never touch billing then never pay.
 *
 * This script bundles the SDK three ways with the esbuild wrangler uses (Workers conditions,
 * minified, as a production build), then loads each bundle in fresh Node processes (the same
 * V8 as workerd) and reports the median time of `import()`, which is parse + compile + top-level
 * evaluation:
 *   - empty: a module with nothing in it (the floor of the measurement);
 *   - lazy:  `() => import("stripe")` never called (what a non-billing isolate pays today);
 *   - eager: `import Stripe from "stripe"` at the top level.
 *
 *   npm run bench:lazy-import                   # 15 processes per variant
 *   npm run bench:lazy-import -- --runs 31
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { bundleAsProduction } from "./production-bundle.ts";

const { values: flags } = parseArgs({ options: { runs: { type: "string", default: "15" } } });
const runs = Number(flags.runs);
if (!Number.isInteger(runs) || runs < 3 || runs > 200)
  throw new Error("--runs must be a whole number, 3..200");

const variants = {
  empty: "globalThis.loaded = null;",
  lazy: 'globalThis.load = () => import("stripe").then((module) => module.default);',
  eager: 'import Stripe from "stripe";\nglobalThis.loaded = Stripe;',
} as const;

const dir = mkdtempSync(join(tmpdir(), "lazy-import-cost-"));
try {
  const probe = join(dir, "probe.mjs");
  writeFileSync(
    probe,
    "const t = performance.now();\nawait import(process.argv[2]);\nconsole.log(performance.now() - t);\n",
  );

  const outfiles = new Map<string, string>();
  for (const [variant, contents] of Object.entries(variants)) {
    const outfile = join(dir, `${variant}.mjs`);
    await bundleAsProduction(contents, outfile);
    outfiles.set(variant, outfile);
  }

  // Interleaved (empty, lazy, eager, empty, …) so that the machine's drift lands on every variant alike.
  const times = new Map<string, number[]>([...outfiles.keys()].map((variant) => [variant, []]));
  for (let i = 0; i < runs; i++) {
    for (const [variant, outfile] of outfiles) {
      const ms = Number(execFileSync(process.execPath, [probe, outfile], { encoding: "utf8" }).trim());
      times.get(variant)?.push(ms);
    }
  }
  const rows = [...outfiles].map(([variant, outfile]) => {
    const sorted = (times.get(variant) ?? []).sort((a, b) => a - b);
    return {
      variant,
      kib: statSync(outfile).size / 1024,
      medianMs: sorted[Math.floor(sorted.length / 2)] as number,
      minMs: sorted[0] as number,
      maxMs: sorted[sorted.length - 1] as number,
    };
  });

  console.log(`Node ${process.version}, ${runs} fresh processes per variant: ms to import() the bundle\n`);
  console.log("| variant | bundle KiB | median ms | min ms | max ms |");
  console.log("|---|--:|--:|--:|--:|");
  for (const row of rows) {
    console.log(
      `| ${row.variant} | ${row.kib.toFixed(1)} | ${row.medianMs.toFixed(2)} | ${row.minMs.toFixed(2)} | ${row.maxMs.toFixed(2)} |`,
    );
  }
  const lazy = rows.find((row) => row.variant === "lazy")?.medianMs ?? 0;
  const eager = rows.find((row) => row.variant === "eager")?.medianMs ?? 0;
  console.log(
    `\nDeferred by the lazy import (eager − lazy, medians): ${(eager - lazy).toFixed(2)} ms per isolate start`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
