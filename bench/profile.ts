/**
 * `npm run bench -- --profile`: where the worker workerd's CPU goes, by kind of work, from
 * Linux `perf` sampling that process while a scenario's load runs (a phase of its own,
 * between the warm-up and the measured run).
 *
 * Why perf and not the DevTools profiler: the worker workerd runs the Worker *and* the local
 * D1 / KV / R2 / Queues / Durable Object simulators, and only a CPU-time sampler can say how
 * much of a request's CPU is which. V8's profiler (wrangler's inspector) samples on a wall-clock
 * timer and, in workerd, charges waiting time to whatever JavaScript frame or binding call was
 * last current, so its figures are not CPU. perf counts CPU only; it cannot name the
 * JavaScript functions (V8's interpreter and JIT code are anonymous to it) unless V8 writes its
 * perf map, so under `wrangler dev` JavaScript is one category, the Worker's and the simulators'
 * together. bench:worker-only starts its own workerd with that map and splits it (js-owners.ts).
 *
 * The phase covers the load only, not the drain after it (queue consumers that finish later).
 *
 * Needs `perf` (linux-tools) and permission to sample one's own processes
 * (kernel.perf_event_paranoid ≤ 2); without it the phase is skipped with a note.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { clockTicksPerSecond, cpuTicks } from "../scripts/lib/proc.ts";

/** Samples per second: enough for a few thousand samples per phase, little overhead. */
const FREQUENCY_HZ = 999;

export const PROFILE_CATEGORIES = [
  "JavaScript (V8 interpreter, builtins, JIT)",
  "V8 runtime, GC, handles",
  "workerd API glue (jsg)",
  "kj/capnp: I/O and RPC between services",
  "malloc, memcpy",
  "SQLite (local D1/KV/DO storage)",
  "crypto (BoringSSL: ECDSA, SHA-256, scrypt)",
  "kernel (syscalls, files, sockets)",
  "other",
] as const;
export type ProfileCategory = (typeof PROFILE_CATEGORIES)[number];

export interface ProfileSummary {
  /** perf samples taken in the worker workerd. */
  samples: number;
  requests: number;
  /** The worker workerd's CPU per request during the profiled phase (/proc), split below. */
  workerdUsPerRequest: number;
  /** µs per request by kind of work (workerdUsPerRequest × each category's share of the samples). */
  categoriesUsPerRequest: Record<ProfileCategory, number>;
  /** The heaviest native symbols, share of samples in %. */
  topSymbols: Array<{ symbol: string; percent: number }>;
}

/**
 * Code V8 names in /tmp/perf-<pid>.map when workerd runs with --perf-basic-prof (bench:worker-only's
 * profiling pass): "JS:*verify build/index.js:1:2345", "Builtin:…", "BytecodeHandler:…", "RegExp:…".
 */
const V8_PERF_MAP_SYMBOL =
  /^(JS|Script|Function|LazyCompile|Eval|InterpretedFunction|Builtin|BytecodeHandler|RegExp|Handler|Stub):/;

/** Which kind of work a perf symbol is (`kernel` for [k] samples). */
export function categoryOf(symbol: string, kernel: boolean): ProfileCategory {
  if (kernel) return "kernel (syscalls, files, sockets)";
  if (/sqlite|^json[A-Z]|walIndex|^pager|^btree|^vdbe/i.test(symbol))
    return "SQLite (local D1/KV/DO storage)";
  if (
    /ecp_nistz|ecdsa|^EC_|^bn_|^BN_|sha256|SHA256|sha512|^EVP_|^CRYPTO_|bssl|aes|gcm_|scrypt|salsa/i.test(
      symbol,
    )
  )
    return "crypto (BoringSSL: ECDSA, SHA-256, scrypt)";
  if (
    V8_PERF_MAP_SYMBOL.test(symbol) ||
    /^Builtins_|^\[JIT\]|^0x[0-9a-f]+$|^\[unknown\]$|Interpreter/.test(symbol)
  )
    return "JavaScript (V8 interpreter, builtins, JIT)";
  if (/^v8::|^cppgc::|^std::__1::.*v8/.test(symbol)) return "V8 runtime, GC, handles";
  if (/tcmalloc|TCMalloc|^__mem(move|cpy|set|cmp)|^malloc|^free$/.test(symbol)) return "malloc, memcpy";
  if (/^kj::|^capnp::/.test(symbol)) return "kj/capnp: I/O and RPC between services";
  if (/workerd/.test(symbol)) return "workerd API glue (jsg)";
  return "other";
}

let perfChecked: string | null | undefined;

/** Why perf cannot be used here, or null when it can. */
export function perfUnavailable(): string | null {
  if (perfChecked !== undefined) return perfChecked;
  const probe = spawnSync("perf", ["--version"], { encoding: "utf8" });
  perfChecked = probe.status === 0 ? null : "`perf` is not installed (linux-tools)";
  return perfChecked;
}

/**
 * Samples `pid` with perf while `load` runs (load returns how many requests it completed) and
 * splits the process's CPU per request by kind of work. `callGraph` records each sample's stack
 * too (frame pointers: workerd, V8's builtins and its JIT code all keep them), for a caller that
 * reads `dataFile` again afterwards (bench/js-owners.ts).
 */
export async function profileWhile(
  pid: number,
  dataFile: string,
  load: () => Promise<number>,
  { callGraph = false }: { callGraph?: boolean } = {},
): Promise<ProfileSummary> {
  rmSync(dataFile, { force: true });
  const args = ["record", "-F", String(FREQUENCY_HZ), ...(callGraph ? ["-g"] : []), "-p", String(pid)];
  const recorder = spawn("perf", [...args, "-o", dataFile], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  recorder.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => recorder.on("exit", resolve));
  // perf needs a moment to attach; samples before the load starts are idle and do not matter.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const ticksBefore = cpuTicks([pid]).get(pid) ?? 0;
  const requests = await load();
  const ticksAfter = cpuTicks([pid]).get(pid) ?? 0;
  recorder.kill("SIGINT");
  await exited;
  if (!existsSync(dataFile)) throw new Error(`perf record wrote nothing: ${stderr.trim().slice(0, 300)}`);

  const report = execFileSync(
    "perf",
    ["report", "-i", dataFile, "--stdio", "--no-children", "--sort", "sym", "-g", "none"],
    { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, stdio: ["ignore", "pipe", "ignore"] },
  );
  const shares = new Map<ProfileCategory, number>();
  const top: Array<{ symbol: string; percent: number }> = [];
  let samples = 0;
  for (const line of report.split("\n")) {
    const count = /^# Samples: (\d+)/.exec(line);
    if (count) samples = Number(count[1]);
    const entry = /^\s*([\d.]+)%\s+\[(.)\]\s+(.+?)\s*$/.exec(line);
    if (!entry) continue;
    const percent = Number(entry[1]);
    const symbol = entry[3] as string;
    const category = categoryOf(symbol, entry[2] === "k");
    shares.set(category, (shares.get(category) ?? 0) + percent);
    if (top.length < 15) top.push({ symbol: symbol.slice(0, 120), percent });
  }
  const workerdUsPerRequest =
    requests > 0
      ? Math.round(((ticksAfter - ticksBefore) * (1_000_000 / clockTicksPerSecond())) / requests)
      : 0;
  const categoriesUsPerRequest = Object.fromEntries(
    PROFILE_CATEGORIES.map((category) => [
      category,
      Math.round(((shares.get(category) ?? 0) / 100) * workerdUsPerRequest),
    ]),
  ) as Record<ProfileCategory, number>;
  return { samples, requests, workerdUsPerRequest, categoriesUsPerRequest, topSymbols: top };
}
