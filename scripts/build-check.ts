/**
 * `npm run build:check`: bundles the Worker exactly as `npm run deploy` would
 * (wrangler deploy --dry-run, production environment), reports the gzip size of
 * the bundle against the budget, and lists the packages that weigh the most, so
 * a heavy import shows up in review before it ships.
 *
 *   npm run build:check                 # fails when over budget
 *   npm run build:check -- --json       # machine-readable (bench uses it)
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { experimental_readRawConfig } from "wrangler";
import { misusedRelativeAliases, stripeCallsLeftOut, stripeResourcesLeftOut } from "./lib/bundle-guards.ts";
import { wranglerBin } from "./lib/wrangler.ts";

/** Cloudflare's limit is 3 MiB (free) / 10 MiB (paid) compressed; ours is far tighter because size is startup time. */
export const BUNDLE_BUDGET_GZIP_BYTES = 400 * 1024;

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), "..");

type Metafile = {
  inputs: Record<string, { imports?: Array<{ path: string; original?: string }> }>;
  outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
};

/** Every .ts file under src/, by path relative to `root`. */
function sourceFiles(root: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of readdirSync(join(root, "src"), { recursive: true, encoding: "utf8" })) {
    if (entry.endsWith(".ts")) files[`src/${entry}`] = readFileSync(join(root, "src", entry), "utf8");
  }
  return files;
}

/**
 * What the stand-ins of wrangler.toml's `alias` must never meet: a relative alias imported by a
 * package it is not meant for, or src/ calling a Stripe resource the bundle leaves out (which would
 * otherwise only fail when called in production). Throws, listing each.
 */
function checkAliases(root: string, meta: Metafile): void {
  const { rawConfig } = experimental_readRawConfig({ config: join(root, "wrangler.toml") });
  const aliases = (rawConfig.alias ?? {}) as Record<string, string>;
  const stripeCore = readFileSync(join(root, "node_modules/stripe/esm/stripe.core.js"), "utf8");
  const problems = [
    ...misusedRelativeAliases(aliases, meta),
    ...stripeCallsLeftOut(sourceFiles(root), stripeResourcesLeftOut(aliases, stripeCore)),
  ];
  if (problems.length > 0)
    throw new Error(`wrangler.toml's [alias] does not fit this build:\n${problems.join("\n")}`);
}

export type BuildReport = {
  /** wrangler.toml sets `minify = true` for production (identifiers shortened; function names too: keep_names = false). */
  minified: boolean;
  gzipBytes: number;
  rawBytes: number;
  budgetBytes: number;
  withinBudget: boolean;
  heaviest: Array<{ source: string; bytes: number }>;
};

/** "node_modules/stripe/esm/foo.js" → "stripe"; our own files → "src". */
function sourceOf(input: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  return match?.[1] ?? (input.includes("src/") ? "src (this project)" : input);
}

/** Bundles the tree at `root` (this project, or a copy of it such as the benchmark's snapshot). */
export function buildWorker(root: string = projectRoot): BuildReport {
  const outdir = join(root, ".generated/build");
  rmSync(outdir, { recursive: true, force: true });
  const result = spawnSync(
    wranglerBin(root),
    ["deploy", "--dry-run", "--env", "production", "--outdir", outdir, "--metafile"],
    { cwd: root, encoding: "utf8", env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
  );
  if (result.status !== 0)
    throw new Error(`wrangler deploy --dry-run failed:\n${result.stdout}\n${result.stderr}`);

  // Every module Cloudflare uploads counts: the JavaScript and the WebAssembly (scrypt's romix.wasm).
  const bundles = readdirSync(outdir).filter((file) => file.endsWith(".js") || file.endsWith(".wasm"));
  let rawBytes = 0;
  let gzipBytes = 0;
  for (const file of bundles) {
    const content = readFileSync(join(outdir, file));
    rawBytes += content.length;
    gzipBytes += gzipSync(content, { level: 9 }).length;
  }

  const meta = JSON.parse(readFileSync(join(outdir, "bundle-meta.json"), "utf8")) as Metafile;
  checkAliases(root, meta);
  const bySource = new Map<string, number>();
  for (const output of Object.values(meta.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      bySource.set(sourceOf(input), (bySource.get(sourceOf(input)) ?? 0) + bytesInOutput);
    }
  }
  const heaviest = [...bySource.entries()]
    .map(([source, bytes]) => ({ source, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 12);
  return {
    minified: minifiedInProduction(readFileSync(join(root, "wrangler.toml"), "utf8")),
    gzipBytes,
    rawBytes,
    budgetBytes: BUNDLE_BUDGET_GZIP_BYTES,
    withinBudget: gzipBytes <= BUNDLE_BUDGET_GZIP_BYTES,
    heaviest,
  };
}

/**
 * `minify = true` in the keys production reads: the top level (before the first table) or the
 * [env.production] table itself (before its sub-tables).
 */
function minifiedInProduction(toml: string): boolean {
  const minify = /^\s*minify\s*=\s*true\b/m;
  const topLevel = toml.split(/^\[/m)[0] ?? "";
  const production = /^\[env\.production\]\s*$([\s\S]*?)(?=^\[)/m.exec(toml)?.[1] ?? "";
  return minify.test(topLevel) || minify.test(production);
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

if (import.meta.url === `file://${process.argv[1]}`) {
  const report = buildWorker();
  if (process.argv.includes("--json")) {
    console.log(JSON.stringify(report));
  } else {
    console.log(
      `Worker bundle: ${kib(report.rawBytes)} raw, ${kib(report.gzipBytes)} gzip${report.minified ? " (minified)" : ""}`,
    );
    console.log(
      `Budget:        ${kib(report.budgetBytes)} gzip → ${report.withinBudget ? "within" : "OVER"}`,
    );
    console.log("\nHeaviest sources (bytes in the bundle, before gzip):");
    for (const { source, bytes } of report.heaviest) console.log(`  ${kib(bytes).padStart(11)}  ${source}`);
  }
  if (!report.withinBudget) process.exit(1);
}
