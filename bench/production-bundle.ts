/**
 * Bundles a snippet of code the way `wrangler deploy` bundles the Worker, for the benchmarks that time
 * one cost in isolation (bench/lazy-import-cost.ts, bench/query-build-cost.ts): wrangler's own esbuild
 * (the bundler that builds the Worker, not a copy of our choosing), Workers conditions, minified.
 */
import { createRequire } from "node:module";
import { resolve } from "node:path";

type Esbuild = typeof import("esbuild");
const esbuild = createRequire(createRequire(import.meta.url).resolve("wrangler"))("esbuild") as Esbuild;

/** The repository's root: what bundled snippets import from ("stripe", "./src/db/schema"). */
export const repositoryRoot = resolve(import.meta.dirname, "..");

export async function bundleAsProduction(
  contents: string,
  outfile: string,
  { loader = "js", external = ["node:*"] }: { loader?: "js" | "ts"; external?: string[] } = {},
): Promise<void> {
  await esbuild.build({
    stdin: { contents, resolveDir: repositoryRoot, loader },
    bundle: true,
    format: "esm",
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    minify: true,
    outfile,
    logLevel: "error",
    external,
  });
}
