/**
 * The production bundle served by Miniflare's Node API in one workerd child of this process, with
 * wrangler.toml's local bindings, as `npm run bench:worker-only` and `npm run bench:hot-path` run it,
 * and the CPU of that workerd read from /proc.
 */
import { readdirSync, rmSync } from "node:fs";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { freePort } from "../scripts/lib/local-worker.ts";
import { clockTicksPerSecond, cpuTicks, processTree, readStat } from "../scripts/lib/proc.ts";
import { WORKER_VARS } from "./scenarios.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Where the bundle's modules are named from: "build/index.js", a name no miniflare worker uses. */
export const generatedDir = join(root, ".generated");
export const buildDir = join(generatedDir, "build");
/** Whether a script name in V8's perf map is one of the bundle's modules. */
export const isWorkerScript = (script: string) => script.startsWith("build/");

/**
 * Runs `work` against a Miniflare serving the bundle with wrangler.toml's local bindings on the
 * state in `persistTo` (the layout `wrangler --persist-to` uses, so migrations applied by wrangler
 * are there). No inspector port: nothing attaches to the isolate.
 *
 * `v8Flags` go to workerd's `Config.v8Flags`. Miniflare has no option for them: its config
 * assembly (Miniflare#assembleConfig in miniflare 5) reads them, space-separated, from the
 * undocumented MINIFLARE_WORKERD_V8_FLAGS, on every (re)start of workerd, so the variable is set
 * for the instance's whole life and restored afterwards.
 */
/** A bundle to serve: its wrangler config (for the bindings), its built modules and its settings. */
export type BundleTarget = {
  name: string;
  configPath: string;
  /** Where module names start: "build/index.js" for ours, so that perf can tell its frames apart. */
  modulesRoot: string;
  modulesDir: string;
  vars: (url: string) => Record<string, string>;
  /** A module run as the main one instead of index.js, under modulesRoot (bench:hot-path's driver). */
  mainModule?: string;
};

export const OUR_BUNDLE: BundleTarget = {
  name: "edge-api-platform",
  configPath: join(root, "wrangler.toml"),
  modulesRoot: generatedDir,
  modulesDir: buildDir,
  vars: () => WORKER_VARS,
};

export async function withMiniflare<T>(
  persistTo: string,
  v8Flags: string[],
  work: (url: string, pids: number[]) => Promise<T>,
  vars: Record<string, string> = {},
  target: BundleTarget = OUR_BUNDLE,
): Promise<T> {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(target.configPath);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // The bundle is already built: wrangler's module rules (for bundling) do not apply, and this
  // Miniflare refuses to convert them. Every .js file of the build is an ES module and every .wasm
  // file a compiled WebAssembly module (scrypt's romix), named from .generated/ (so
  // "build/index.js": miniflare's own outbound worker is "index.js").
  const { modulesRules: _bundlingRules, ...bindingOptions } = workerOptions as Record<string, unknown>;
  const moduleTypes: Record<string, string> = { ".js": "ESModule", ".wasm": "CompiledWasm" };
  const moduleType = (file: string) => moduleTypes[extname(file)];
  const bundleModules = readdirSync(target.modulesDir)
    .filter((file) => moduleType(file) !== undefined)
    .sort((a, b) => (a === "index.js" ? -1 : b === "index.js" ? 1 : a.localeCompare(b)))
    .map((file) => ({ type: moduleType(file), path: join(target.modulesDir, file) }));
  const worker = {
    ...bindingOptions,
    name: target.name,
    modulesRoot: target.modulesRoot,
    // The first module is the main one: the driver when there is one, else the bundle's index.js.
    modules: target.mainModule
      ? [{ type: "ESModule", path: target.mainModule }, ...bundleModules]
      : bundleModules,
    bindings: {
      ...((workerOptions as { bindings?: Record<string, unknown> }).bindings ?? {}),
      ...target.vars(url),
      ...vars,
    },
  };
  const workerdsBefore = new Set(workerdPids());
  const previousFlags = process.env.MINIFLARE_WORKERD_V8_FLAGS;
  if (v8Flags.length > 0) process.env.MINIFLARE_WORKERD_V8_FLAGS = v8Flags.join(" ");
  else delete process.env.MINIFLARE_WORKERD_V8_FLAGS;
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port,
      resourcePersistencePath: join(persistTo, "v3"),
      // The Worker's log lines: workerd still formats and writes each one (a deployed Worker
      // does too, to its logs); this process only drops them instead of printing thousands.
      handleStructuredLogs: () => {},
      workers: [worker],
    } as Parameters<typeof convertV4MiniflareOptions>[0]),
  );
  try {
    await mf.ready;
    const flagsNote = v8Flags.length > 0 ? `V8 flags ${v8Flags.join(" ")}` : "no dev proxy, no inspector";
    console.log(`bench:worker-only: ${target.name} in workerd at ${url} (${flagsNote})`);
    return await work(
      url,
      workerdPids().filter((pid) => !workerdsBefore.has(pid)),
    );
  } finally {
    const pids = workerdPids();
    await mf.dispose();
    if (previousFlags === undefined) delete process.env.MINIFLARE_WORKERD_V8_FLAGS;
    else process.env.MINIFLARE_WORKERD_V8_FLAGS = previousFlags;
    // V8 leaves its perf map behind (tens of MB after a pass).
    if (v8Flags.length > 0) for (const pid of pids) rmSync(perfMapOf(pid), { force: true });
  }
}

/** The symbol map V8 writes with --perf-basic-prof, which perf reads for that process's JIT code. */
export function perfMapOf(pid: number): string {
  return join("/tmp", `perf-${pid}.map`);
}

/** The workerd processes Miniflare started (children of this process). */
export function workerdPids(): number[] {
  return processTree(process.pid).filter((pid) => readStat(pid)?.comm.startsWith("workerd"));
}

export function cpuMicros(pids: number[]): number {
  let ticks = 0;
  for (const value of cpuTicks(pids).values()) ticks += value;
  return (ticks * 1_000_000) / clockTicksPerSecond();
}
