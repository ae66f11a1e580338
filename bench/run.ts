/**
 * `npm run bench`: load benchmark of the Worker under `wrangler dev` (local bindings).
 *
 *   npm run bench                                   # every scenario, 10 s each, 50 connections
 *   npm run bench -- --duration 5 --connections 20 --scenarios health --warmup 1
 *   npm run bench -- --no-write                     # print only: no results file, README untouched
 *   npm run bench -- --var LOG_LEVEL:warn           # a wrangler.toml var overridden (recorded in the results)
 *
 * For each scenario (baseline first, always): setup → one probe request (status must be
 * the expected one) → warm-up → measured run with autocannon in this process. Reported:
 * requests/s, p50/p99 latency, errors (wrong status, socket errors, timeouts) and CPU
 * microseconds per request, i.e. utime+stime of the worker's process tree (wrangler,
 * both workerd, esbuild; from /proc) over the run divided by the responses served; the
 * same plus this process (the load generator) is reported beside it. Ratios are to the
 * baseline of the same run. Writes bench/results/<UTC date>.json and the table in
 * bench/README.md between its bench:latest markers. See bench/README.md.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, platform, release, totalmem } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { type LocalWorker, sleep, startLocalWorker } from "../scripts/lib/local-worker.ts";
import { clockTicksPerSecond, cpuTicks, readCmdline } from "../scripts/lib/proc.ts";
import {
  BASELINE,
  type BenchRequest,
  type Scenario,
  type ScenarioContext,
  scenarios,
  WORKER_VARS,
} from "./scenarios.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const benchDir = join(root, "bench");
const IDLE_WINDOW_MS = 500;
const SETTLE_MAX_MS = 15_000;
const DRAIN_MAX_MS = 15_000;

// ---------------------------------------------------------------------------- options

const { values: flags } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "50" },
    warmup: { type: "string", default: "2" },
    scenarios: { type: "string" },
    var: { type: "string", multiple: true, default: [] },
    "no-write": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (flags.help) {
  console.log(`npm run bench -- [--duration S] [--connections N] [--warmup S] [--scenarios a,b] [--no-write]
  --duration     seconds measured per scenario (default 10, 1..600)
  --connections  concurrent connections (default 50, 1..1000)
  --warmup       seconds of unmeasured load before each scenario (default 2, 0..60)
  --scenarios    comma-separated subset; ${BASELINE} always runs first
  --var K:V      override a wrangler.toml var (repeatable), e.g. --var LOG_LEVEL:warn; the
                 defaults in bench/scenarios.ts WORKER_VARS lift the global rate limits
  --no-write     print only: no bench/results file, bench/README.md untouched
scenarios: ${scenarios.map((scenario) => scenario.name).join(", ")}`);
  process.exit(0);
}

function integerFlag(name: string, value: string, min: number, max: number): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < min || number > max) {
    console.error(`bench: --${name} must be an integer from ${min} to ${max}, got "${value}"`);
    process.exit(2);
  }
  return number;
}
const options = {
  duration: integerFlag("duration", flags.duration, 1, 600),
  connections: integerFlag("connections", flags.connections, 1, 1000),
  warmup: integerFlag("warmup", flags.warmup, 0, 60),
};
const wanted = flags.scenarios
  ?.split(",")
  .map((name) => name.trim())
  .filter(Boolean);
const unknown = wanted?.filter((name) => !scenarios.some((scenario) => scenario.name === name)) ?? [];
if (unknown.length > 0) {
  console.error(
    `bench: unknown scenario(s) ${unknown.join(", ")}; known: ${scenarios.map((s) => s.name).join(", ")}`,
  );
  process.exit(2);
}
const vars: Record<string, string> = { ...WORKER_VARS };
for (const pair of flags.var) {
  const colon = pair.indexOf(":");
  if (colon < 1) {
    console.error(`bench: --var takes KEY:VALUE, got "${pair}"`);
    process.exit(2);
  }
  vars[pair.slice(0, colon)] = pair.slice(colon + 1);
}
const selected = scenarios.filter(
  (scenario) => scenario.name === BASELINE || !wanted || wanted.includes(scenario.name),
);

// ---------------------------------------------------------------------------- types

type ProcessRole = "wrangler_node" | "workerd_proxy" | "workerd_worker" | "other";

interface ScenarioResult {
  name: string;
  description: string;
  expectedStatus: number;
  requests: string[];
  /** Set when the scenario could not be measured (setup or probe failed). */
  error?: string;
  durationSeconds?: number;
  responses?: number;
  rps?: number;
  latencyMs?: { p50: number; p99: number; average: number; max: number };
  statusCounts?: Record<string, number>;
  /** Responses with another status than expected, plus socket errors and timeouts. */
  errors?: number;
  socketErrors?: number;
  /** How long the worker stayed busy after the load stopped (its CPU is counted). */
  drainMs?: number;
  timeouts?: number;
  cpu?: {
    /** utime+stime of the worker's process tree, µs per response: the figure to compare with Cloudflare's CPU time. */
    workerUsPerRequest: number;
    /** The same plus this process (autocannon), µs per response. */
    withLoadGeneratorUsPerRequest: number;
    loadGeneratorUsPerRequest: number;
    byProcessUsPerRequest: Record<ProcessRole, number>;
    /** Share of the machine's cores the worker tree used during the run. */
    workerCoresBusy: number;
  };
  loadAverageBefore?: number;
  vsBaseline?: { rps: number; cpu: number; cpuExtraUs: number };
}

// ---------------------------------------------------------------------------- run

const machine = describeMachine();
console.log(
  `bench: ${machine.cpuModel} × ${machine.cores}, ${machine.memoryGiB} GiB, node ${machine.node}, wrangler ${machine.wrangler}`,
);
console.log(
  `bench: ${selected.map((s) => s.name).join(", ")} — ${options.duration} s each at ${options.connections} connections, ${options.warmup} s warm-up`,
);
if (machine.loadAverageAtStart > 0.5 * machine.cores) {
  console.warn(
    `bench: load average is ${machine.loadAverageAtStart.toFixed(2)} on ${machine.cores} cores: other work on this machine will lower requests/s (CPU µs/request is less affected)`,
  );
}

console.log(
  `bench: worker vars ${Object.entries(vars)
    .map(([key, value]) => `${key}=${value}`)
    .join(" ")}`,
);

const startedAt = new Date();
const results: ScenarioResult[] = [];
let worker: LocalWorker | undefined;
try {
  worker = await startLocalWorker({ vars });
  console.log(`bench: worker at ${worker.url} (wrangler dev, temporary state in ${worker.persistTo})`);
  const ctx = createContext(worker);
  for (const scenario of selected) {
    results.push(await runScenario(worker, ctx, scenario));
  }
} catch (error) {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
  if (worker) console.error(`--- wrangler dev log (tail) ---\n${worker.logTail(40)}`);
  process.exitCode = 1;
} finally {
  await worker?.stop();
}

if (results.length > 0) {
  addRatios(results);
  const table = renderTable(results);
  const split = renderCpuSplit(results);
  console.log(`\n${table}\n\nCPU µs per request by process:\n\n${split}\n`);
  for (const result of results) {
    if (result.error) console.log(`✗ ${result.name}: ${result.error}`);
    else if (result.errors)
      console.log(
        `✗ ${result.name}: ${result.errors} errors, statuses ${JSON.stringify(result.statusCounts)}`,
      );
  }
  if (!flags["no-write"]) writeResults(results, table, split);
  if (results.some((result) => result.error || result.errors)) process.exitCode = 1;
}

// ---------------------------------------------------------------------------- scenario

async function runScenario(
  worker: LocalWorker,
  ctx: ScenarioContext,
  scenario: Scenario,
): Promise<ScenarioResult> {
  const result: ScenarioResult = {
    name: scenario.name,
    description: scenario.description,
    expectedStatus: scenario.expectedStatus,
    requests: [],
  };
  console.log(`\n▶ ${scenario.name}: ${scenario.description}`);
  let requests: BenchRequest[];
  try {
    const defined = scenario.setup ? await scenario.setup(ctx) : scenario.request;
    if (!defined) throw new Error("the scenario defines neither setup nor request");
    requests = Array.isArray(defined) ? defined : [defined];
    result.requests = requests.map((request) => `${request.method ?? "GET"} ${request.path}`);
    for (const request of requests) {
      const response = await fetch(`${worker.url}${request.path}`, {
        method: request.method ?? "GET",
        headers: request.headers,
        body: request.body,
      });
      const text = await response.text();
      if (response.status !== scenario.expectedStatus) {
        throw new Error(
          `probe ${request.method ?? "GET"} ${request.path} answered ${response.status}, expected ${scenario.expectedStatus}: ${text.slice(0, 300)}`,
        );
      }
    }
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
    console.log(`  skipped: ${result.error}`);
    return result;
  }

  const load = (duration: number) =>
    autocannon({
      url: worker.url,
      connections: options.connections,
      duration,
      timeout: 10,
      requests: requests.map((request) => ({ ...request, method: request.method ?? "GET" })),
    });

  // Background work a scenario leaves (queue consumers, waitUntil) must not be charged to the next:
  // wait for the worker to go idle before the warm-up and again before measuring.
  await settle(worker, SETTLE_MAX_MS);
  if (options.warmup > 0) {
    console.log(`  warm-up ${options.warmup} s`);
    await load(options.warmup);
    await settle(worker, SETTLE_MAX_MS);
  }

  result.loadAverageBefore = round(loadavg()[0] ?? 0, 2);
  const port = new URL(worker.url).port;
  const pidsBefore = worker.processTreePids();
  const ticksBefore = cpuTicks(pidsBefore);
  const ownBefore = process.cpuUsage();
  const wallStarted = performance.now();
  console.log(`  measuring ${options.duration} s`);
  const run = await load(options.duration);
  const own = process.cpuUsage(ownBefore);
  // ...and the background work this run caused is charged to it: CPU is read once the worker is idle again.
  const drainMs = await settle(worker, DRAIN_MAX_MS);
  const wallSeconds = (performance.now() - wallStarted) / 1000;
  // Processes that started during the run are charged in full; ones that ended are lost (reported).
  const pidsAfter = worker.processTreePids();
  const ticksAfter = cpuTicks([...new Set([...pidsBefore, ...pidsAfter])]);
  const vanished = pidsBefore.filter((pid) => !ticksAfter.has(pid));
  if (vanished.length > 0)
    console.warn(`  note: worker processes ${vanished.join(", ")} ended during the run`);

  const microsPerTick = 1_000_000 / clockTicksPerSecond();
  const byProcess: Record<ProcessRole, number> = {
    wrangler_node: 0,
    workerd_proxy: 0,
    workerd_worker: 0,
    other: 0,
  };
  let workerMicros = 0;
  for (const [pid, after] of ticksAfter) {
    const micros = (after - (ticksBefore.get(pid) ?? 0)) * microsPerTick;
    workerMicros += micros;
    byProcess[processRole(pid, port)] += micros;
  }

  const responses = run.requests.total;
  const perRequest = (micros: number) => (responses > 0 ? round(micros / responses, 0) : 0);
  const statusCounts = Object.fromEntries(
    Object.entries(run.statusCodeStats).map(([status, { count }]) => [status, count]),
  );
  const expected = statusCounts[String(scenario.expectedStatus)] ?? 0;
  const ownMicros = own.user + own.system;

  Object.assign(result, {
    durationSeconds: run.duration,
    responses,
    rps: round(responses / run.duration, 0),
    latencyMs: {
      p50: run.latency.p50,
      p99: run.latency.p99,
      average: round(run.latency.average, 2),
      max: run.latency.max,
    },
    statusCounts,
    errors: responses - expected + run.errors,
    socketErrors: run.errors - run.timeouts,
    drainMs,
    timeouts: run.timeouts,
    cpu: {
      workerUsPerRequest: perRequest(workerMicros),
      withLoadGeneratorUsPerRequest: perRequest(workerMicros + ownMicros),
      loadGeneratorUsPerRequest: perRequest(ownMicros),
      byProcessUsPerRequest: {
        wrangler_node: perRequest(byProcess.wrangler_node),
        workerd_proxy: perRequest(byProcess.workerd_proxy),
        workerd_worker: perRequest(byProcess.workerd_worker),
        other: perRequest(byProcess.other),
      },
      workerCoresBusy: round(workerMicros / 1_000_000 / wallSeconds, 2),
    },
  } satisfies Partial<ScenarioResult>);
  console.log(
    `  ${result.rps} req/s, p50 ${run.latency.p50} ms, p99 ${run.latency.p99} ms, ${result.errors} errors, ${result.cpu?.workerUsPerRequest} µs CPU/request (worker)`,
  );
  return result;
}

/**
 * Waits until the worker's process tree is idle: under IDLE_TICKS of CPU in one IDLE_WINDOW_MS
 * window (about 3 % of a core). Bounded by maxMs; returns how long it waited.
 */
async function settle(worker: LocalWorker, maxMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < maxMs) {
    const pids = worker.processTreePids();
    const before = cpuTicks(pids);
    await sleep(IDLE_WINDOW_MS);
    let used = 0;
    for (const [pid, ticks] of cpuTicks(pids)) used += ticks - (before.get(pid) ?? ticks);
    if (used * (1000 / clockTicksPerSecond()) <= IDLE_WINDOW_MS * 0.03) break;
  }
  const waited = Math.round(performance.now() - started);
  if (waited >= maxMs) console.warn(`  note: the worker was still busy after ${maxMs} ms`);
  return waited;
}

/** Which part of `wrangler dev` a process is: the proxy workerd is the one listening on our port. */
function processRole(pid: number, port: string): ProcessRole {
  const cmdline = readCmdline(pid);
  if (cmdline.includes("workerd")) {
    return cmdline.includes(`entry=127.0.0.1:${port} `) || cmdline.endsWith(`entry=127.0.0.1:${port}`)
      ? "workerd_proxy"
      : "workerd_worker";
  }
  if (/\bnode\b|wrangler/.test(cmdline)) return "wrangler_node";
  return "other";
}

function createContext(worker: LocalWorker): ScenarioContext {
  const cache = new Map<string, Promise<unknown>>();
  return {
    url: worker.url,
    persistTo: worker.persistTo,
    async api(method, path, body, expect, headers = {}) {
      const init: RequestInit = { method, headers: { ...headers } };
      if (body !== undefined) {
        init.body = typeof body === "string" ? body : JSON.stringify(body);
        init.headers = { "content-type": "application/json", ...headers };
      }
      const response = await fetch(`${worker.url}${path}`, { ...init, signal: AbortSignal.timeout(30_000) });
      const text = await response.text();
      const isJson = /json/.test(response.headers.get("content-type") ?? "");
      const parsed: unknown = isJson && text ? JSON.parse(text) : text;
      if (expect !== undefined && response.status !== expect) {
        throw new Error(
          `${method} ${path} answered ${response.status}, expected ${expect}: ${text.slice(0, 300)}`,
        );
      }
      return { status: response.status, headers: response.headers, body: parsed };
    },
    once<T>(key: string, create: () => Promise<T>): Promise<T> {
      let value = cache.get(key);
      if (!value) {
        value = create();
        cache.set(key, value);
      }
      return value as Promise<T>;
    },
  };
}

function addRatios(results: ScenarioResult[]): void {
  const baseline = results.find((result) => result.name === BASELINE);
  if (!baseline?.rps || !baseline.cpu) return;
  for (const result of results) {
    if (!result.rps || !result.cpu) continue;
    result.vsBaseline = {
      rps: round(result.rps / baseline.rps, 2),
      cpu: round(result.cpu.workerUsPerRequest / baseline.cpu.workerUsPerRequest, 2),
      cpuExtraUs: result.cpu.workerUsPerRequest - baseline.cpu.workerUsPerRequest,
    };
  }
}

// ---------------------------------------------------------------------------- output

function markdownTable(
  header: string[],
  rows: string[][],
  rightAligned: (column: number) => boolean,
): string {
  const widths = header.map((cell, column) =>
    Math.max(cell.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: string[]) =>
    `| ${cells
      .map((cell, column) =>
        rightAligned(column) ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0),
      )
      .join(" | ")} |`;
  const rule = `|${widths.map((width, column) => (rightAligned(column) ? `${"-".repeat(width + 1)}:` : "-".repeat(width + 2))).join("|")}|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

function renderTable(results: ScenarioResult[]): string {
  const header = [
    "scenario",
    "expect",
    "req/s",
    "× base",
    "p50 ms",
    "p99 ms",
    "errors",
    "CPU µs/req",
    "× base",
    "+µs vs base",
    "CPU µs/req incl. load gen",
  ];
  const rows = results.map((result) => {
    if (result.error || !result.cpu || !result.latencyMs) {
      return [result.name, String(result.expectedStatus), "skipped", "", "", "", "", "", "", "", ""];
    }
    return [
      result.name,
      String(result.expectedStatus),
      String(result.rps),
      result.vsBaseline ? result.vsBaseline.rps.toFixed(2) : "",
      String(result.latencyMs.p50),
      String(result.latencyMs.p99),
      String(result.errors),
      String(result.cpu.workerUsPerRequest),
      result.vsBaseline ? result.vsBaseline.cpu.toFixed(2) : "",
      result.vsBaseline ? signed(result.vsBaseline.cpuExtraUs) : "",
      String(result.cpu.withLoadGeneratorUsPerRequest),
    ];
  });
  return markdownTable(header, rows, (column) => column >= 1);
}

function renderCpuSplit(results: ScenarioResult[]): string {
  const header = [
    "scenario",
    "wrangler (node)",
    "workerd dev proxy",
    "workerd worker",
    "other",
    "worker tree",
    "load gen",
  ];
  const rows = results
    .filter((result) => result.cpu)
    .map((result) => {
      const cpu = result.cpu as NonNullable<ScenarioResult["cpu"]>;
      const split = cpu.byProcessUsPerRequest;
      return [
        result.name,
        String(split.wrangler_node),
        String(split.workerd_proxy),
        String(split.workerd_worker),
        String(split.other),
        String(cpu.workerUsPerRequest),
        String(cpu.loadGeneratorUsPerRequest),
      ];
    });
  return markdownTable(header, rows, (column) => column >= 1);
}

function writeResults(results: ScenarioResult[], table: string, split: string): void {
  const date = startedAt.toISOString().slice(0, 10);
  const resultsDir = join(benchDir, "results");
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${date}.json`);
  const document = {
    date,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    options: { ...options, vars },
    machine,
    method: {
      target: "wrangler dev (proxy workerd → worker workerd), local D1/KV/R2/Queues/DOs, temporary state",
      loadGenerator: "autocannon (programmatic) in the bench process, not in the worker's process tree",
      cpu: "utime+stime from /proc/<pid>/stat over the worker's process tree, per response served",
    },
    results,
  };
  writeFileSync(file, `${JSON.stringify(document, null, 2)}\n`);
  console.log(`bench: wrote ${relative(root, file)}`);

  const readmePath = join(benchDir, "README.md");
  if (!existsSync(readmePath)) return;
  const readme = readFileSync(readmePath, "utf8");
  const start = "<!-- bench:latest:start -->";
  const end = "<!-- bench:latest:end -->";
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  if (from < 0 || to < from) {
    console.warn(`bench: ${relative(root, readmePath)} has no ${start} … ${end} markers; table not updated`);
    return;
  }
  const section = [
    start,
    `Run of ${startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC: ${options.duration} s per scenario at ${options.connections} connections after ${options.warmup} s warm-up, on ${machine.cpuModel} × ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, wrangler ${machine.wrangler}, load average ${machine.loadAverageAtStart.toFixed(2)} at start ([results/${date}.json](results/${date}.json)).`,
    "",
    table,
    "",
    "CPU µs per request by process:",
    "",
    split,
    end,
  ].join("\n");
  writeFileSync(readmePath, readme.slice(0, from) + section + readme.slice(to + end.length));
  console.log(`bench: updated the latest table in ${relative(root, readmePath)}`);
}

// ---------------------------------------------------------------------------- helpers

function describeMachine() {
  const cores = cpus();
  return {
    cpuModel: cores[0]?.model.trim() ?? "unknown",
    cores: cores.length,
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    os: `${platform()} ${release()}`,
    node: process.versions.node,
    wrangler: packageVersion(["node_modules/wrangler/package.json"]),
    workerd: packageVersion([
      "node_modules/workerd/package.json",
      "node_modules/wrangler/node_modules/workerd/package.json",
      "node_modules/miniflare/node_modules/workerd/package.json",
    ]),
    autocannon: packageVersion(["node_modules/autocannon/package.json"]),
    clockTicksPerSecond: clockTicksPerSecond(),
    loadAverageAtStart: round(loadavg()[0] ?? 0, 2),
  };
}

function packageVersion(candidates: string[]): string {
  for (const candidate of candidates) {
    const path = join(root, candidate);
    if (existsSync(path)) return (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
  }
  return "unknown";
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function signed(value: number): string {
  return value > 0 ? `+${value}` : String(value);
}
