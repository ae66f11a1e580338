/**
 * `npm run bench:worker-only`: CPU per request of the production bundle in workerd alone, close to
 * what Cloudflare bills, without `wrangler dev`'s proxy, its Node process or an inspector session.
 *
 *   npm run bench:worker-only                              # every scenario, 10 s each, then the profiling pass
 *   npm run bench:worker-only -- --duration 5 --no-profile --no-write
 *   npm run bench:worker-only -- --scenarios baseline,whoami   # a subset; writes nothing
 *   npm run bench:worker-only -- --no-fanout                  # without the fan-out pass (5. below)
 *
 * 1. The bundle `npm run deploy` ships (`wrangler deploy --dry-run --env production`, through
 *    scripts/build-check.ts, which also gives its gzip size against the 400 KiB budget).
 * 2. Miniflare's Node API runs it in one workerd child of this process, with the local bindings
 *    of wrangler.toml (D1, KV, R2, Queues, Durable Objects, assets; wrangler's own
 *    `unstable_getMiniflareWorkerOptions`, so they are configured as `wrangler dev` configures
 *    them) and .dev.vars, on temporary state with the migrations applied. No inspector.
 * 3. Each scenario (seeded through the public API, as in `npm run bench`): warm-up, the workerd's
 *    idle CPU over IDLE_SAMPLE_MS, then the measured run. CPU µs/request = (utime+stime of the
 *    workerd over the run − its idle rate × the run's wall time) / responses. That is the
 *    Worker's CPU plus the local simulators' (D1, KV, R2, queues and Durable Objects run in the
 *    same workerd). A scenario that declares `vars` (signin-peer-params: the peer's scrypt
 *    parameters) runs on a workerd of its own started with them, measured and profiled there.
 * 5. The fan-out pass (unless --no-fanout; bench/worker-only-fanout.ts): notify_fanout (100 sockets)
 *    and notify_fanout_1000 on a workerd of their own whose hub keeps 1,000 sockets per user, each
 *    at least 30 s, p50/p99 to the last socket, without the dev proxy that relays every frame
 *    under `npm run bench`. Budgets p99 < 50 ms and < 150 ms.
 * 4. The profiling pass, after every measured run, in a second workerd on the same state started
 *    with V8's perf map (V8_PERF_FLAGS, through Miniflare's MINIFLARE_WORKERD_V8_FLAGS): Linux
 *    `perf record -g` on it while each scenario runs again (bench/profile.ts), its CPU split by
 *    kind of work, and by whose code is on each sample's stack (bench/js-owners.ts): the
 *    Worker's (a frame of the bundle, build/*.js), the simulators' (a frame of miniflare's
 *    workers), or unattributed JavaScript (promise jobs with neither on the stack). Reported per
 *    scenario: the Worker's JavaScript, its crypto (BoringSSL), the simulators' JavaScript, the
 *    unattributed JavaScript and the rest. Budget (issue 22): the Worker's JS + crypto of
 *    GET /users/me ≤ 150 µs; over it, the Worker's heaviest functions, named through the
 *    bundle's source map (bench/source-map.ts), are listed under the table.
 *    Why not the V8 profiler through the inspector: in workerd it samples on a wall clock and
 *    charges the time the isolate waits to the last JavaScript frame (tried: /health/live came
 *    out at 1.8 ms of "JavaScript" per request where the whole process used 1.5 ms of CPU).
 *
 * Writes bench/results/<date>-worker-only.json and the README's bench:worker-only table.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import autocannon, { type AutocannonRequest } from "autocannon";
import { type BuildReport, buildWorker } from "../scripts/build-check.ts";
import { applyLocalMigrations, sleep } from "../scripts/lib/local-worker.ts";
import { OWNERS, type Owner, splitByOwner, V8_PERF_FLAGS } from "./js-owners.ts";
import { notifyFanoutScenarios } from "./notify-fanout.ts";
import { type Comparison, comparisons } from "./peers/comparison.ts";
import { PEER_ROOT, preparePeerBundle } from "./peers/peer-worker.ts";
import {
  measurePairInRounds,
  type PairFigures,
  type RoundsHarness,
  renderPairsTable,
  workerOnlyPeerBudgets,
} from "./peers/worker-only-rounds.ts";
import { type ProfileCategory, perfUnavailable, profileWhile } from "./profile.ts";
import { renderBundle, round } from "./report.ts";
import {
  BASELINE,
  type BenchRequest,
  createScenarioContext,
  prepareRequests,
  type Scenario,
  type ScenarioContext,
  scenarios,
} from "./scenarios.ts";
import { loadSourceMap } from "./source-map.ts";
import { type FanoutResult, measureFanout, renderFanoutTable } from "./worker-only-fanout.ts";
import {
  type BundleTarget,
  cpuMicros,
  generatedDir,
  isWorkerScript,
  perfMapOf,
  withMiniflare,
  workerdPids,
} from "./worker-only-miniflare.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const benchDir = join(root, "bench");
/** How long the idle workerd's CPU is sampled before each measured run. */
const IDLE_SAMPLE_MS = 2_000;
/** Budget of issue 22: the Worker's own JS + crypto CPU for GET /users/me. */
const ME_JS_BUDGET_US = 150;
/** The scenario of that budget: GET /users/me over 40 users' tokens. */
const WHOAMI = "whoami";
/** How many of the Worker's functions the results keep per scenario. */
const TOP_FUNCTIONS = 15;
const JAVASCRIPT: ProfileCategory = "JavaScript (V8 interpreter, builtins, JIT)";
const CRYPTO: ProfileCategory = "crypto (BoringSSL: ECDSA, SHA-256, scrypt)";

const { values: flags } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "20" },
    warmup: { type: "string", default: "2" },
    "profile-seconds": { type: "string", default: "5" },
    "no-profile": { type: "boolean", default: false },
    "no-write": { type: "boolean", default: false },
    scenarios: { type: "string" },
    "no-fanout": { type: "boolean", default: false },
    "no-peer": { type: "boolean", default: false },
    label: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (flags.help) {
  console.log(`npm run bench:worker-only -- [--duration S] [--connections N] [--warmup S] [--profile-seconds S] [--no-profile] [--no-write] [--no-fanout] [--no-peer] [--scenarios a,b] [--label NAME]
  Runs the production bundle in workerd through Miniflare's Node API (no dev proxy, no inspector),
  measures CPU µs per request of the workerd process, then (unless --no-profile) profiles a second
  workerd with Linux perf and V8's perf map, splitting the Worker's own JavaScript and crypto from
  the simulators'. Then (unless --no-peer) the pairs of \`--peers\` against the peer's bundle in a
  workerd of its own, in rounds. --scenarios runs only those (a partial run writes nothing). --label NAME
  writes bench/results/<date>-worker-only-NAME.json and leaves the README's table alone (a repeat, a variant,
  an earlier run of the day kept). See bench/README.md.`);
  process.exit(0);
}
if (flags.label !== undefined && !/^[a-z0-9][a-z0-9-]{0,40}$/.test(flags.label)) {
  console.error(
    `bench:worker-only: --label takes lower-case letters, digits and dashes, got "${flags.label}"`,
  );
  process.exit(2);
}
const seconds = (name: string, value: string, max: number) => {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0 || number > max) {
    console.error(`bench:worker-only: --${name} must be an integer from 0 to ${max}, got "${value}"`);
    process.exit(2);
  }
  return number;
};
const options = {
  duration: Math.max(1, seconds("duration", flags.duration, 600)),
  connections: Math.max(1, seconds("connections", flags.connections, 1000)),
  warmup: seconds("warmup", flags.warmup, 60),
  profileSeconds: Math.max(1, seconds("profile-seconds", flags["profile-seconds"], 120)),
  profile: !flags["no-profile"],
};

if (options.profile && perfUnavailable()) {
  console.warn(`bench:worker-only: no profiling pass, Linux perf is unavailable: ${perfUnavailable()}`);
  options.profile = false;
}

/** The scenarios that make sense without the dev stack: one request kind each, no catalog to seed. */
const WORKER_ONLY_SCENARIOS: Scenario[] = [
  ...["baseline", "service_info", "me_jwt", "me_api_key", "login", "tasks_create"].map(
    (name) => scenarios.find((scenario) => scenario.name === name) as Scenario,
  ),
  ...comparisons.map((comparison) => comparison.ours),
];
/**
 * Fan-out without the dev proxy (bench/worker-only-fanout.ts): one notification at a time to the
 * 100 and to the 1,000 sockets of one user, on a workerd whose hub keeps 1,000 sockets per user.
 */
const FANOUT_SCENARIOS = notifyFanoutScenarios.filter((scenario) =>
  ["notify_fanout", "notify_fanout_1000"].includes(scenario.name),
);
const FANOUT_VARS: Record<string, string> = Object.assign(
  {},
  ...FANOUT_SCENARIOS.map((scenario) => scenario.vars ?? {}),
);

/**
 * The pairs of `npm run bench -- --peers` (bench/peers/comparison.ts), ours against the peer's
 * bundle (bench/peers/worker-only-rounds.ts), unless --no-peer. A pair whose peer side names another
 * pair (signin-peer-params) is set beside that pair's peer scenario, measured again in its rounds.
 */
function peerScenarioOf(comparison: Comparison): Scenario {
  if (typeof comparison.peer !== "string") return comparison.peer;
  const named = comparisons.find((each) => each.name === comparison.peer)?.peer;
  if (!named || typeof named === "string") throw new Error(`${comparison.name}: no peer scenario`);
  return named;
}

/** --scenarios a,b: a subset (the README table is then not rewritten: it shows whole runs). */
const wanted = (scenario: Scenario) => !flags.scenarios || flags.scenarios.split(",").includes(scenario.name);
const selectedScenarios = WORKER_ONLY_SCENARIOS.filter(wanted);
const selectedFanout = flags["no-fanout"] ? [] : FANOUT_SCENARIOS.filter(wanted);
const selectedPairs = flags["no-peer"] ? [] : comparisons.filter((comparison) => wanted(comparison.ours));
if (flags.scenarios && selectedScenarios.length + selectedFanout.length === 0) {
  console.error(
    `bench:worker-only: --scenarios names none of ${[...WORKER_ONLY_SCENARIOS, ...FANOUT_SCENARIOS].map((each) => each.name).join(", ")}`,
  );
  process.exit(2);
}

interface WorkerOnlyResult {
  name: string;
  description: string;
  requests: string[];
  error?: string;
  connections?: number;
  responses?: number;
  rps?: number;
  errors?: number;
  latencyMs?: { p50: number; p99: number };
  /** workerd process CPU per response, idle share removed. */
  cpuUsPerRequest?: number;
  idleUsPerSecond?: number;
  /** The same over the baseline measured in this pass. */
  cpuExtraUs?: number;
  profile?: ProfileSplit;
}

interface ProfileSplit {
  requests: number;
  /** The workerd's CPU per request during the profiled phase (/proc, idle not removed). */
  workerdUsPerRequest: number;
  /** JavaScript (interpreter, builtins, JIT) on a stack that runs our bundle's functions. */
  workerJavascriptUs: number;
  /** BoringSSL (ES256 verify, SHA-256, scrypt): called from our bundle, or with no stack (see js-owners.ts). */
  workerCryptoUs: number;
  /** The budget's figure: the Worker's own JS + crypto CPU. */
  workerJavascriptAndCryptoUs: number;
  /** JavaScript of miniflare's simulators and entry/router/outbound workers. */
  simulatorsJavascriptUs: number;
  /** JavaScript with no frame of either on its stack: promise jobs of async/await (bench/js-owners.ts). */
  unattributedJavascriptUs: number;
  /** Everything else in the workerd: V8's runtime and GC, workerd's glue, I/O, SQLite, malloc, kernel. */
  restUs: number;
  /** µs per request by kind of work of the sample's leaf, every owner together. */
  categoriesUsPerRequest: Record<ProfileCategory, number>;
  /** µs per request by owner and kind of work. */
  byOwnerUsPerRequest: Record<Owner, Partial<Record<ProfileCategory, number>>>;
  /** The Worker's heaviest functions by its JS + crypto (source-mapped): µs per request on the stack and innermost. */
  workerFunctions: Array<{ function: string; totalUs: number; selfUs: number }>;
  /** The same functions ranked by their innermost (self) share: where the time is spent, not passed through. */
  workerFunctionsBySelf: Array<{ function: string; totalUs: number; selfUs: number }>;
  /** The Worker's JS + crypto per request by the package of its innermost function of ours. */
  workerPackages: Array<{ package: string; selfUs: number }>;
}

// ---------------------------------------------------------------------------- run

/** The Miniflare's URL while it runs (the profiling pass drives the same instance). */
let currentUrl = "";

const startedAt = new Date();
const machine = {
  cpuModel: cpus()[0]?.model.trim() ?? "unknown",
  cores: cpus().length,
  node: process.versions.node,
  loadAverageAtStart: round(loadavg()[0] ?? 0, 2),
};
console.log(
  `bench:worker-only: ${machine.cpuModel} × ${machine.cores}, load average ${machine.loadAverageAtStart}; ${options.duration} s per scenario at ${options.connections} connections`,
);

// ---------------------------------------------------------------------------- miniflare

// ---------------------------------------------------------------------------- scenarios

function load(url: string, scenario: Scenario, requests: BenchRequest[], duration: number) {
  return autocannon({
    url,
    connections: Math.min(options.connections, scenario.maxConnections ?? options.connections),
    duration,
    timeout: 10,
    requests: requests.map(({ makeBody, ...request }) => ({
      ...request,
      method: request.method ?? "GET",
      ...(makeBody ? { setupRequest: (built: AutocannonRequest) => ({ ...built, body: makeBody() }) } : {}),
    })),
  });
}

async function measureScenario(
  url: string,
  ctx: ScenarioContext,
  scenario: Scenario,
  plans: Map<string, BenchRequest[]>,
): Promise<WorkerOnlyResult> {
  const result: WorkerOnlyResult = { name: scenario.name, description: scenario.description, requests: [] };
  console.log(`\n▶ ${scenario.name}: ${scenario.description}`);
  try {
    const requests = await prepareRequests(url, ctx, scenario);
    result.requests = requests.map((request) => `${request.method ?? "GET"} ${request.path}`);
    plans.set(scenario.name, requests);
    if (options.warmup > 0) await load(url, scenario, requests, options.warmup);
    await quiet();
    const pids = workerdPids();
    const idleStart = cpuMicros(pids);
    await sleep(IDLE_SAMPLE_MS);
    const idleUsPerSecond = (cpuMicros(pids) - idleStart) / (IDLE_SAMPLE_MS / 1000);

    const before = cpuMicros(pids);
    const wallStart = performance.now();
    const run = await load(url, scenario, requests, options.duration);
    // Background work the requests caused (queue consumers, waitUntil) is the scenario's.
    await quiet();
    const wallSeconds = (performance.now() - wallStart) / 1000;
    const used = cpuMicros(pids) - before - idleUsPerSecond * wallSeconds;
    const responses = run.requests.total;
    const expected = run.statusCodeStats[String(scenario.expectedStatus)]?.count ?? 0;
    Object.assign(result, {
      connections: Math.min(options.connections, scenario.maxConnections ?? options.connections),
      responses,
      rps: round(responses / run.duration, 0),
      errors: responses - expected + run.errors,
      latencyMs: { p50: run.latency.p50, p99: run.latency.p99 },
      cpuUsPerRequest: responses > 0 ? round(used / responses, 0) : 0,
      idleUsPerSecond: round(idleUsPerSecond, 0),
    } satisfies Partial<WorkerOnlyResult>);
    console.log(
      `  ${result.rps} req/s, p50 ${run.latency.p50} ms, ${result.errors} errors, workerd ${result.cpuUsPerRequest} µs CPU/request (idle ${result.idleUsPerSecond} µs/s removed)`,
    );
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
    console.log(`  skipped: ${result.error}`);
  }
  return result;
}

/** Waits until the workerd is idle (≤ 3 % of a core over 500 ms), at most 15 s. */
async function quiet(): Promise<void> {
  const deadline = performance.now() + 15_000;
  while (performance.now() < deadline) {
    const pids = workerdPids();
    const before = cpuMicros(pids);
    await sleep(500);
    if (cpuMicros(pids) - before <= 15_000) return;
  }
}

// ---------------------------------------------------------------------------- profile

/** The bundle's source maps, by module name, for naming the Worker's functions. */
const sourceMaps = new Map<string, ReturnType<typeof loadSourceMap> | null>();

function resolveWorkerPosition(script: string, line: number, column: number) {
  let lookup = sourceMaps.get(script);
  if (lookup === undefined) {
    const file = join(generatedDir, `${script}.map`);
    lookup = existsSync(file) ? loadSourceMap(file) : null;
    sourceMaps.set(script, lookup);
  }
  return lookup?.(line, column);
}

/**
 * perf on the workerd, with call stacks, while the scenario's requests run for --profile-seconds
 * (bench/profile.ts), in a workerd started with V8's perf map: the workerd's CPU per request by
 * kind of work, and by whose code is on the stack (bench/js-owners.ts).
 */
async function profileScenario(scenario: Scenario, requests: BenchRequest[]): Promise<ProfileSplit> {
  const pid = workerdPids()[0];
  if (pid === undefined) throw new Error("no workerd process found");
  const dataFile = join(tmpdir(), `edge-api-worker-only-${process.pid}-${scenario.name}.perf.data`);
  try {
    const summary = await profileWhile(
      pid,
      dataFile,
      async () => {
        const run = await load(currentUrl, scenario, requests, options.profileSeconds);
        return run.requests.total;
      },
      { callGraph: true },
    );
    const split = await splitByOwner(dataFile, isWorkerScript, resolveWorkerPosition);
    const us = (share: number) => round(share * summary.workerdUsPerRequest, 0);
    const javascript = (owner: Owner) => us(split.shares[owner][JAVASCRIPT] ?? 0);
    const workerJavascriptUs = javascript("worker");
    const workerCryptoUs = us(split.shares.worker[CRYPTO] ?? 0);
    const simulatorsJavascriptUs = javascript("simulators");
    const unattributedJavascriptUs = javascript("unattributed");
    return {
      requests: summary.requests,
      workerdUsPerRequest: summary.workerdUsPerRequest,
      workerJavascriptUs,
      workerCryptoUs,
      workerJavascriptAndCryptoUs: workerJavascriptUs + workerCryptoUs,
      simulatorsJavascriptUs,
      unattributedJavascriptUs,
      restUs:
        summary.workerdUsPerRequest -
        workerJavascriptUs -
        workerCryptoUs -
        simulatorsJavascriptUs -
        unattributedJavascriptUs,
      categoriesUsPerRequest: summary.categoriesUsPerRequest,
      byOwnerUsPerRequest: Object.fromEntries(
        OWNERS.map((owner) => [
          owner,
          Object.fromEntries(
            Object.entries(split.shares[owner]).map(([category, share]) => [category, us(share)]),
          ),
        ]),
      ) as ProfileSplit["byOwnerUsPerRequest"],
      workerFunctions: split.workerFunctions.slice(0, TOP_FUNCTIONS).map((entry) => ({
        function: entry.key,
        totalUs: us(entry.total),
        selfUs: us(entry.self),
      })),
      workerFunctionsBySelf: [...split.workerFunctions]
        .sort((a, b) => b.self - a.self)
        .slice(0, TOP_FUNCTIONS)
        .map((entry) => ({ function: entry.key, totalUs: us(entry.total), selfUs: us(entry.self) })),
      workerPackages: split.workerPackages
        .slice(0, TOP_FUNCTIONS)
        .map((entry) => ({ package: entry.name, selfUs: us(entry.self) })),
    };
  } finally {
    rmSync(dataFile, { force: true });
  }
}

// ---------------------------------------------------------------------------- output

function renderTable(rows: WorkerOnlyResult[]): string {
  const header = [
    "scenario",
    "conns",
    "req/s",
    "p50 / p99 ms",
    "errors",
    "workerd CPU µs/req",
    "+µs vs baseline",
    "profile: workerd µs/req",
    "Worker JS",
    "Worker crypto",
    "Worker JS + crypto",
    "simulators' JS",
    "JS, no owner",
    "rest",
  ];
  const body = rows.map((row) => {
    if (row.error) return [row.name, "", "skipped", ...header.slice(4).map(() => "")];
    const profile = row.profile;
    return [
      row.name,
      String(row.connections ?? ""),
      String(row.rps ?? ""),
      `${row.latencyMs?.p50} / ${row.latencyMs?.p99}`,
      String(row.errors ?? ""),
      String(row.cpuUsPerRequest ?? ""),
      row.cpuExtraUs === undefined ? "" : row.cpuExtraUs > 0 ? `+${row.cpuExtraUs}` : String(row.cpuExtraUs),
      profile ? String(profile.workerdUsPerRequest) : "",
      profile ? String(profile.workerJavascriptUs) : "",
      profile ? String(profile.workerCryptoUs) : "",
      profile ? String(profile.workerJavascriptAndCryptoUs) : "",
      profile ? String(profile.simulatorsJavascriptUs) : "",
      profile ? String(profile.unattributedJavascriptUs) : "",
      profile ? String(profile.restUs) : "",
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  return [line(header), rule, ...body.map(line)].join("\n");
}

/**
 * The Worker-only budgets. The /users/me figure is the Worker's own JavaScript + BoringSSL from
 * the profiling pass (samples with a frame of our bundle on the stack, bench/js-owners.ts).
 */
function renderBudgets(
  rows: WorkerOnlyResult[],
  build: BuildReport | undefined,
  pairs: PairFigures[],
): string {
  const me = rows.find((row) => row.name === WHOAMI)?.profile;
  // The unattributed JavaScript (promise jobs, either isolate's) decides nothing on its own: a
  // PASS holds with all of it counted as the Worker's, a MISS without any of it.
  const meVerdict = !me
    ? "NOT MEASURED"
    : me.workerJavascriptAndCryptoUs > ME_JS_BUDGET_US
      ? "MISS"
      : me.workerJavascriptAndCryptoUs + me.unattributedJavascriptUs <= ME_JS_BUDGET_US
        ? "PASS"
        : "UNDECIDED (within budget without the unattributed JavaScript, over with it)";
  const unattributed =
    me && me.unattributedJavascriptUs > 0
      ? ` (+ up to ${me.unattributedJavascriptUs} µs of unattributed promise jobs)`
      : "";
  return [
    "| budget (issue 22) | measured | verdict |",
    "|---|--:|---|",
    `| Worker-only JS + crypto CPU of GET /users/me (40 users' tokens) ≤ ${ME_JS_BUDGET_US} µs (perf with V8's perf map: our bundle's JavaScript + BoringSSL) | ${me ? `${me.workerJavascriptAndCryptoUs} µs${unattributed}` : "—"} | ${meVerdict} |`,
    `| bundle < 400 KiB gzip | ${build ? `${(build.gzipBytes / 1024).toFixed(1)} KiB` : "—"} | ${build ? (build.withinBudget ? "PASS" : "MISS") : "NOT MEASURED"} |`,
    ...(pairs.length > 0
      ? workerOnlyPeerBudgets(pairs).map(
          (check) => `| ${check.budget} | ${check.measured} | ${check.verdict} |`,
        )
      : []),
  ].join("\n");
}

/**
 * Where the Worker's own CPU of GET /users/me goes when it is over budget, or may be: its heaviest
 * functions (source-mapped), on the stack (self + callees) and innermost, and by package.
 */
function renderWorkerFunctions(rows: WorkerOnlyResult[]): string | undefined {
  const me = rows.find((row) => row.name === WHOAMI)?.profile;
  // Over budget, or over it once the promise jobs no frame owns are counted (an UNDECIDED verdict).
  if (!me || me.workerJavascriptAndCryptoUs + me.unattributedJavascriptUs <= ME_JS_BUDGET_US)
    return undefined;
  return [
    `The Worker's heaviest functions in \`${WHOAMI}\` (µs per request of the workerd's CPU with the function on the stack: self + callees, native ones included; "innermost": the samples where it is the innermost function of ours):`,
    "",
    "| function (source map) | on the stack µs | innermost µs |",
    "|---|--:|--:|",
    ...me.workerFunctions.map((entry) => `| \`${entry.function}\` | ${entry.totalUs} | ${entry.selfUs} |`),
    "",
    "The same, ranked by innermost µs (where the time is spent rather than passed through):",
    "",
    "| function (source map) | innermost µs | on the stack µs |",
    "|---|--:|--:|",
    ...me.workerFunctionsBySelf.map(
      (entry) => `| \`${entry.function}\` | ${entry.selfUs} | ${entry.totalUs} |`,
    ),
    "",
    `By package of the innermost function of ours: ${me.workerPackages.map((entry) => `${entry.package} ${entry.selfUs}`).join(", ")} µs.`,
  ].join("\n");
}

function write(
  tables: string,
  bundle: BuildReport | undefined,
  measured: { results: WorkerOnlyResult[]; pairs: PairFigures[]; fanout: FanoutResult[] },
): void {
  const date = startedAt.toISOString().slice(0, 10);
  const file = join(benchDir, "results", `${date}-worker-only${flags.label ? `-${flags.label}` : ""}.json`);
  const document = {
    date,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    options,
    machine,
    method: {
      target:
        "the production bundle (wrangler deploy --dry-run --env production) in workerd through Miniflare's Node API, wrangler.toml's local bindings and .dev.vars, no dev proxy, no inspector in the measured pass",
      cpu: "utime+stime of the workerd child from /proc over the run (queue consumers and waitUntil drained), minus its idle rate × wall time, per response",
      profile:
        "Linux perf -g on a second workerd started with V8's --perf-basic-prof --interpreted-frames-native-stack, after every measured run (bench/profile.ts, bench/js-owners.ts): CPU by kind of work of the leaf, and by owner: the Worker when a frame of its bundle (build/*.js) is on the stack, the simulators when a frame of miniflare's workers is, unattributed JavaScript when only builtins or workerd's built-in modules are",
    },
    bundle,
    ...measured,
  };
  writeFileSync(file, `${JSON.stringify(document, null, 2)}\n`);
  console.log(`bench:worker-only: wrote ${relative(root, file)}`);
  // A labelled run is kept beside the day's default one: the README shows the default.
  if (flags.label) return;
  const readmePath = join(benchDir, "README.md");
  if (!existsSync(readmePath)) return;
  const readme = readFileSync(readmePath, "utf8");
  const start = "<!-- bench:worker-only:start -->";
  const end = "<!-- bench:worker-only:end -->";
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  if (from < 0 || to < from) return;
  const section = [
    start,
    `Run of ${startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC: ${options.duration} s per scenario at ${options.connections} connections (4 for password scenarios), profile ${options.profileSeconds} s per scenario, on ${machine.cpuModel} × ${machine.cores} cores, load average ${machine.loadAverageAtStart} at start ([results/${date}-worker-only.json](results/${date}-worker-only.json)).`,
    "",
    tables,
    end,
  ].join("\n");
  writeFileSync(readmePath, readme.slice(0, from) + section + readme.slice(to + end.length));
  console.log("bench:worker-only: updated bench:worker-only in bench/README.md");
}

// ---------------------------------------------------------------------------- the peer

/**
 * The pairs against the peer: its production bundle (preparePeerBundle) in a workerd of its own,
 * ours in another (one per `vars` setting, each on a state of its own: two workerds must not
 * share SQLite files), both running while each pair is measured in rounds.
 */
async function measurePeerPairs(tempDir: string): Promise<PairFigures[]> {
  const peer = preparePeerBundle(tempDir);
  const peerBundle: BundleTarget = {
    name: "peer-better-auth",
    configPath: peer.configPath,
    modulesRoot: peer.modulesDir,
    modulesDir: peer.modulesDir,
    // Better Auth checks the Origin of state-changing requests against its base URL.
    vars: (url) => ({ BETTER_AUTH_URL: url }),
  };
  const harness: RoundsHarness = { load, cpuMicros, quiet, sleep };
  const measured: PairFigures[] = [];
  await withMiniflare(
    peer.persistTo,
    [],
    async (peerUrl, peerPids) => {
      const peerCtx = createScenarioContext({ url: peerUrl, persistTo: peer.persistTo, root: PEER_ROOT });
      const peerRequests = new Map<string, Promise<BenchRequest[]>>();
      const groups = groupByVars(selectedPairs.map((comparison) => comparison.ours));
      for (const [index, group] of groups.entries()) {
        const persistTo = join(tempDir, `pairs-state-${index}`);
        applyLocalMigrations(root, persistTo);
        await withMiniflare(
          persistTo,
          [],
          async (oursUrl, oursPids) => {
            const oursCtx = createScenarioContext({ url: oursUrl, persistTo, root });
            for (const scenario of group.scenarios) {
              const comparison = selectedPairs.find((each) => each.ours === scenario) as Comparison;
              try {
                const peerScenario = peerScenarioOf(comparison);
                let peerPlan = peerRequests.get(peerScenario.name);
                if (!peerPlan) {
                  peerPlan = prepareRequests(peerUrl, peerCtx, peerScenario);
                  peerRequests.set(peerScenario.name, peerPlan);
                }
                const pair = {
                  name: comparison.name,
                  description: comparison.description,
                  ours: {
                    worker: { url: oursUrl, pids: oursPids },
                    scenario,
                    requests: await prepareRequests(oursUrl, oursCtx, scenario),
                  },
                  peer: {
                    worker: { url: peerUrl, pids: peerPids },
                    scenario: peerScenario,
                    requests: await peerPlan,
                  },
                };
                const seconds = Math.max(options.duration, scenario.minDurationSeconds ?? 0);
                measured.push(
                  await measurePairInRounds(pair, { seconds, warmupSeconds: options.warmup }, harness),
                );
              } catch (error) {
                console.log(
                  `  ${comparison.name}: skipped: ${error instanceof Error ? error.message : String(error)}`,
                );
              }
            }
          },
          group.vars,
        );
      }
    },
    {},
    peerBundle,
  );
  const order = (name: string) => comparisons.findIndex((comparison) => comparison.name === name);
  return measured.sort((a, b) => order(a.name) - order(b.name));
}

// ---------------------------------------------------------------------------- main

/** The scenarios by the `vars` they declare, those without any first (one workerd per group). */
function groupByVars(list: Scenario[]): Array<{ vars: Record<string, string>; scenarios: Scenario[] }> {
  const groups = new Map<string, { vars: Record<string, string>; scenarios: Scenario[] }>();
  for (const scenario of list) {
    const vars = scenario.vars ?? {};
    const key = JSON.stringify(Object.entries(vars).sort());
    const group = groups.get(key) ?? { vars, scenarios: [] };
    group.scenarios.push(scenario);
    groups.set(key, group);
  }
  return [...groups.values()].sort((a, b) => Object.keys(a.vars).length - Object.keys(b.vars).length);
}

async function main(): Promise<void> {
  const tempDir = mkdtempSync(join(tmpdir(), "edge-api-worker-only-"));
  const results: WorkerOnlyResult[] = [];
  const fanout: FanoutResult[] = [];
  const pairs: PairFigures[] = [];
  let bundle: BuildReport | undefined;
  try {
    bundle = buildWorker(root);
    console.log(`bench:worker-only: ${renderBundle(bundle)}`);
    const persistTo = join(tempDir, "state");
    applyLocalMigrations(root, persistTo);

    const plans = new Map<string, BenchRequest[]>();
    // A scenario that declares `vars` (signin-peer-params: the peer's scrypt parameters) runs on
    // a workerd of its own started with them, as `npm run bench` gives it a worker of its own.
    const groups = groupByVars(selectedScenarios);
    for (const group of groups)
      await withMiniflare(
        persistTo,
        [],
        async (url) => {
          const ctx = createScenarioContext({ url, persistTo, root });
          for (const scenario of group.scenarios) {
            const result = await measureScenario(url, ctx, scenario, plans);
            results.push(result);
          }
        },
        group.vars,
      );
    // In the order of WORKER_ONLY_SCENARIOS, whichever workerd measured them.
    results.sort(
      (a, b) =>
        selectedScenarios.findIndex((each) => each.name === a.name) -
        selectedScenarios.findIndex((each) => each.name === b.name),
    );
    if (selectedPairs.length > 0) pairs.push(...(await measurePeerPairs(tempDir)));
    if (selectedFanout.length > 0)
      await withMiniflare(
        persistTo,
        [],
        async (url) => {
          const ctx = createScenarioContext({ url, persistTo, root });
          const pids = workerdPids();
          for (const scenario of selectedFanout) {
            await quiet();
            const idleStart = cpuMicros(pids);
            await sleep(IDLE_SAMPLE_MS);
            const idleMicrosPerSecond = (cpuMicros(pids) - idleStart) / (IDLE_SAMPLE_MS / 1000);
            fanout.push(
              await measureFanout(ctx, scenario, {
                warmupSeconds: options.warmup,
                durationSeconds: options.duration,
                workerdCpuMicros: () => cpuMicros(pids),
                idleMicrosPerSecond,
              }),
            );
          }
        },
        FANOUT_VARS,
      );
    // The profiling pass, after every measured run so that none of them carries perf's sampling
    // nor V8's perf map: workerds on the same state (the users, sessions and tokens the scenarios
    // seeded), started with V8_PERF_FLAGS, one per scenario. Why not one for all: V8 appends to its
    // perf map as it compiles code and never takes an entry back when that code is freed, and perf
    // cannot tell a stale entry from a live one at a reused address. In one workerd that had run
    // signup and tasks_create first, whoami's samples were named after their freed code (drizzle's
    // buildInsertQuery in a route that inserts nothing), and it profiled on the heap the scrypt
    // scenarios left. A workerd per scenario profiles each on its own code, as a --scenarios run does.
    if (options.profile)
      profiling: for (const group of groups)
        for (const scenario of group.scenarios) {
          const result = results.find((each) => each.name === scenario.name);
          const requests = plans.get(scenario.name);
          if (!requests || !result || result.error) continue;
          const profiled = await withMiniflare(
            persistTo,
            V8_PERF_FLAGS,
            async (url) => {
              currentUrl = url;
              const pid = workerdPids()[0];
              if (pid === undefined || !existsSync(perfMapOf(pid))) {
                console.warn(
                  "bench:worker-only: no profiling pass: workerd wrote no V8 perf map (this Miniflare did not pass MINIFLARE_WORKERD_V8_FLAGS on)",
                );
                return false;
              }
              console.log(
                `\n◆ profile ${result.name} (${options.profileSeconds} s, perf on a workerd of its own)`,
              );
              try {
                // A fresh isolate: compile and optimise before sampling, as the measured run did.
                await load(url, scenario, requests, Math.max(2, options.warmup));
                await quiet();
                result.profile = await profileScenario(scenario, requests);
                const profile = result.profile;
                console.log(
                  `  Worker: JavaScript ${profile.workerJavascriptUs} + crypto ${profile.workerCryptoUs} µs/request; simulators' JavaScript ${profile.simulatorsJavascriptUs}, unattributed ${profile.unattributedJavascriptUs}, rest ${profile.restUs}; ${profile.workerdUsPerRequest} in the workerd`,
                );
              } catch (error) {
                console.warn(`  profile failed: ${error instanceof Error ? error.message : String(error)}`);
              }
              return true;
            },
            group.vars,
          );
          // No perf map: this Miniflare passes no V8 flags on, so no other workerd would either.
          if (!profiled) break profiling;
        }
    const base = results.find((result) => result.name === BASELINE)?.cpuUsPerRequest;
    for (const result of results)
      if (base !== undefined && result.cpuUsPerRequest !== undefined)
        result.cpuExtraUs = result.cpuUsPerRequest - base;
  } catch (error) {
    console.error(
      `bench:worker-only: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    process.exitCode = 1;
  } finally {
    rmSync(tempDir, { recursive: true, force: true });
  }

  if (results.length + fanout.length + pairs.length > 0) {
    const table = results.length > 0 ? renderTable(results) : undefined;
    const budgets = results.length + pairs.length > 0 ? renderBudgets(results, bundle, pairs) : undefined;
    const pairsTable = pairs.length > 0 ? renderPairsTable(pairs) : undefined;
    const fanoutTable = fanout.length > 0 ? renderFanoutTable(fanout) : undefined;
    console.log(`\n${[table, pairsTable, budgets, fanoutTable].filter(Boolean).join("\n\n")}\n`);
    if (results.some((result) => result.error || result.errors)) process.exitCode = 1;
    if (fanout.some((result) => result.error)) process.exitCode = 1;
    if (pairs.length < selectedPairs.length) process.exitCode = 1;
    const functions = renderWorkerFunctions(results);
    if (functions) console.log(`${functions}\n`);
    if (flags.scenarios) console.log("bench:worker-only: --scenarios given: a partial run, nothing written");
    else if (!flags["no-write"])
      write([table, pairsTable, budgets, fanoutTable, functions].filter(Boolean).join("\n\n"), bundle, {
        results,
        pairs,
        fanout,
      });
  }
}

await main();
process.exit();
