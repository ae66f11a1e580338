/**
 * `npm run bench`: load benchmark of the Worker under `wrangler dev` (local bindings).
 *
 *   npm run bench                                   # every scenario, 10 s each, 50 connections
 *   npm run bench -- --duration 5 --connections 20 --scenarios health --warmup 1
 *   npm run bench -- --no-write                     # print only: no results file, README untouched
 *   npm run bench -- --var LOG_LEVEL:warn           # a wrangler.toml var overridden (recorded in the results)
 *   npm run bench -- --peers                        # ours against the peer (bench/peers/comparison.ts)
 *   npm run bench -- --peers --rounds 5             # … measured in 5 rounds (bench/peers/rounds.ts)
 *
 * The worker runs from a copy of the tree taken at start (`--in-place` to run the tree itself):
 * wrangler dev reloads on every edit under src/, which would drop sockets and skew the figures.
 * For each scenario (baseline first, always): setup → one probe request (status must be
 * the expected one) → warm-up → measured run with autocannon in this process. Reported:
 * requests/s, p50/p99 latency, errors (wrong status, socket errors, timeouts) and CPU
 * microseconds per request, i.e. utime+stime of the worker's process tree (wrangler,
 * both workerd, esbuild; from /proc) over the run divided by the responses served; the
 * same plus this process (the load generator) is reported beside it. Ratios are to the
 * baseline of the same run, and the budgets of issue 11 are checked against them. The
 * bundle's gzip size comes from `npm run build:check` on the same copy. Writes
 * bench/results/<UTC date>.json and the tables in bench/README.md between its
 * bench:latest markers. See bench/README.md.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, platform, release, tmpdir, totalmem } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import autocannon, { type AutocannonRequest } from "autocannon";
import { type BuildReport, buildWorker } from "../scripts/build-check.ts";
import { type LocalWorker, startLocalWorker } from "../scripts/lib/local-worker.ts";
import { clockTicksPerSecond } from "../scripts/lib/proc.ts";
import { cpuPerRequest, settle, withCpuUsage, workerdWorkerPid } from "./cpu.ts";
import {
  ceilingSummary,
  comparisons,
  PASSWORD_MIN_SECONDS,
  pairResults,
  peerBudgets,
  renderPeerBudgets,
  renderPeerTable,
} from "./peers/comparison.ts";
import { PEER_ROOT, startPeerWorker } from "./peers/peer-worker.ts";
import {
  DEFAULT_ROUNDS,
  type Lane,
  lanesNeeded,
  MIN_SLICE_SECONDS,
  measureInRounds,
  type RoundsOutcome,
  ratiosRecord,
  renderRatioSpread,
} from "./peers/rounds.ts";
import { perfUnavailable, profileWhile } from "./profile.ts";
import {
  addRatios,
  checkBudgets,
  exactRps,
  renderBudgets,
  renderBundle,
  renderCpuSplit,
  renderOwnWorkers,
  renderProfiles,
  renderTable,
  round,
  type ScenarioResult,
} from "./report.ts";
import {
  BASELINE,
  type BenchRequest,
  createScenarioContext,
  prepareRequests,
  type Scenario,
  type ScenarioContext,
  scenarios,
  WORKER_VARS,
} from "./scenarios.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const benchDir = join(root, "bench");

// ---------------------------------------------------------------------------- options

const { values: flags } = parseArgs({
  options: {
    duration: { type: "string" },
    connections: { type: "string", default: "50" },
    warmup: { type: "string", default: "2" },
    scenarios: { type: "string" },
    var: { type: "string", multiple: true, default: [] },
    "in-place": { type: "boolean", default: false },
    "single-baseline": { type: "boolean", default: false },
    "skip-build-check": { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
    peers: { type: "boolean", default: false },
    rounds: { type: "string", default: String(DEFAULT_ROUNDS) },
    label: { type: "string" },
    "no-write": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (flags.help) {
  console.log(`npm run bench -- [--duration S] [--connections N] [--warmup S] [--scenarios a,b] [--var K:V] [--no-write]
  --duration          seconds measured per scenario (default 10, with --peers 30; 1..600)
  --connections       concurrent connections (default 50, 1..1000; a scenario may use fewer)
  --warmup            seconds of unmeasured load before each scenario (default 2, 0..60)
  --scenarios         comma-separated subset; ${BASELINE} always runs first
  --var K:V           override a wrangler.toml var (repeatable), e.g. --var LOG_LEVEL:warn; the
                      defaults in bench/scenarios.ts WORKER_VARS lift the rate limits
  --in-place          run the worker in the working tree instead of a snapshot copy (edits reload it)
  --single-baseline   compare every scenario with the one baseline measured first, instead of a
                      baseline measured again right before each scenario (faster, less robust)
  --skip-build-check  do not measure the bundle (npm run build:check)
  --profile           also split the worker workerd's CPU by kind of work with Linux perf (bench/profile.ts),
                      in a phase of its own between the warm-up and the measured run
  --peers             this platform against the peer (bench/peers/better-auth: Hono + Better Auth on D1),
                      all workers running at once: sign-up, sign-in, "who am I" and a revoked session on
                      each, and our sign-in on a worker of ours with the peer's scrypt parameters, each
                      paired with its stack's /health/live, measured in rounds that alternate the stacks;
                      one table of ratios ours/peer, their spread over the rounds, the budgets of issue 22,
                      bench/results/<date>-peers.json and the README's peers table
                      (--scenarios and --profile do not apply; --var applies to our workers)
  --rounds N          with --peers: rounds (default ${DEFAULT_ROUNDS}, 1..20); each scenario runs duration/N s a
                      round (at least ${MIN_SLICE_SECONDS} s, and its own minimum duration overall)
  --label NAME        write bench/results/<date>-NAME.json and leave the README's latest table alone
                      (a variant such as --var LOG_LEVEL:warn, kept beside the default run)
  --no-write          print only: no bench/results file, bench/README.md untouched
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
  // --peers: 30 s per scenario and stack over the rounds (10 s slices): with 3.3 s slices the
  // peer's get-session moved by up to 30 % between runs (bench/README.md "Against the peer").
  duration: integerFlag("duration", flags.duration ?? (flags.peers ? "30" : "10"), 1, 600),
  connections: integerFlag("connections", flags.connections, 1, 1000),
  warmup: integerFlag("warmup", flags.warmup, 0, 60),
  snapshot: !flags["in-place"],
  pairedBaseline: !flags["single-baseline"],
  profile: flags.profile,
  rounds: integerFlag("rounds", flags.rounds, 1, 20),
};
/** Seconds of load profiled per scenario with --profile. */
const PROFILE_SECONDS = 5;
if (options.profile && perfUnavailable()) {
  console.error(`bench: --profile needs Linux perf: ${perfUnavailable()}`);
  process.exit(2);
}
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
if (flags.label !== undefined && !/^[a-z0-9][a-z0-9-]{0,40}$/.test(flags.label)) {
  console.error(`bench: --label takes lower-case letters, digits and dashes, got "${flags.label}"`);
  process.exit(2);
}
const selected = scenarios.filter(
  (scenario) => scenario.name === BASELINE || !wanted || wanted.includes(scenario.name),
);
const baselineScenario = scenarios.find((scenario) => scenario.name === BASELINE) as Scenario;

// ---------------------------------------------------------------------------- run

const machine = describeMachine();
console.log(
  `bench: ${machine.cpuModel} × ${machine.cores}, ${machine.memoryGiB} GiB, node ${machine.node}, wrangler ${machine.wrangler}`,
);
console.log(
  flags.peers
    ? `bench: ours against the peer (bench/peers/better-auth): ${comparisons.map((c) => c.name).join(", ")} — ${options.duration} s each (more for sign-up and sign-in) in ${options.rounds} rounds at ${options.connections} connections, ${options.warmup} s warm-up`
    : `bench: ${selected.map((s) => s.name).join(", ")} — ${options.duration} s each at ${options.connections} connections, ${options.warmup} s warm-up`,
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
if (flags.peers) {
  await runPeerComparison();
  process.exit();
}
const results: ScenarioResult[] = [];
let bundle: BuildReport | undefined;
let worker: LocalWorker | undefined;
try {
  worker = await startLocalWorker({ vars, snapshot: options.snapshot });
  console.log(
    `bench: worker at ${worker.url} (wrangler dev${options.snapshot ? `, from a snapshot of the tree in ${worker.root}` : ", in the working tree"}, temporary state in ${worker.persistTo})`,
  );
  if (!flags["skip-build-check"]) {
    bundle = buildWorker(worker.root);
    console.log(`bench: ${renderBundle(bundle)}`);
  }
  const ctx = createScenarioContext(worker);
  for (const scenario of selected) {
    if (scenario.vars) {
      results.push(await runOnOwnWorker(scenario, { ...vars, ...scenario.vars }));
      continue;
    }
    const result = await runScenario(worker, ctx, scenario, {
      pairWithBaseline: options.pairedBaseline && scenario.name !== BASELINE,
    });
    results.push(result);
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
  checkBudgets(results, scenarios);
  const tables = {
    main: renderTable(results),
    budgets: renderBudgets(results),
    split: renderCpuSplit(results),
    ownWorkers: renderOwnWorkers(results),
    profiles: renderProfiles(results),
    bundle: renderBundle(bundle),
  };
  console.log(`\n${tables.main}\n\nBudgets:\n\n${tables.budgets}\n\n${tables.bundle}`);
  if (tables.ownWorkers) console.log(`\n${tables.ownWorkers}`);
  console.log(`\nCPU µs per request by process:\n\n${tables.split}\n`);
  if (tables.profiles)
    console.log(`Worker workerd CPU µs per request by kind of work (perf):\n\n${tables.profiles}\n`);
  for (const result of results) {
    if (result.error) console.log(`✗ ${result.name}: ${result.error}`);
    else if (result.errors)
      console.log(
        `✗ ${result.name}: ${result.errors} errors, statuses ${JSON.stringify(result.statusCounts)}`,
      );
  }
  if (!flags["no-write"]) writeResults(results, tables);
  // A missed budget is a finding to report, not a failed run; a scenario that could not run is.
  if (results.some((result) => result.error || result.errors)) process.exitCode = 1;
}

// ---------------------------------------------------------------------------- --peers

/**
 * Every worker of the comparison started up front (ours, ours with the peer's scrypt parameters,
 * the peer), the jobs of bench/peers/comparison.ts measured on them in rounds (bench/peers/rounds.ts),
 * then one table side by side, the ratios round by round, the budgets and the results file.
 */
async function runPeerComparison(): Promise<void> {
  const lanes: Lane[] = lanesNeeded().map((spec) => ({ ...spec }));
  let outcome: RoundsOutcome | undefined;
  try {
    for (const lane of lanes) {
      try {
        lane.worker =
          lane.stack === "peer"
            ? await startPeerWorker()
            : await startLocalWorker({ vars: { ...vars, ...lane.vars }, snapshot: options.snapshot });
        lane.ctx = createScenarioContext(lane.worker);
        const laneVars = Object.entries(lane.vars ?? {}).map(([key, value]) => `, ${key}=${value}`);
        console.log(
          `■ ${lane.name}: ${lane.worker.url} (wrangler dev in ${lane.worker.root}, state in ${lane.worker.persistTo}${laneVars.join("")})`,
        );
      } catch (error) {
        lane.error = error instanceof Error ? error.message : String(error);
        console.error(`bench: ${lane.name}: ${lane.error}`);
        process.exitCode = 1;
      }
    }
    outcome = await measureInRounds(lanes, {
      rounds: options.rounds,
      durationSeconds: options.duration,
      warmupSeconds: options.warmup,
      connections: options.connections,
    });
  } catch (error) {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
    for (const lane of lanes)
      if (lane.worker)
        console.error(`--- ${lane.name}: wrangler dev log (tail) ---\n${lane.worker.logTail(20)}`);
    process.exitCode = 1;
  } finally {
    for (const lane of lanes) await lane.worker?.stop();
  }
  if (!outcome) return;

  const byStack = outcome.results;
  const pairs = pairResults(byStack.ours, byStack.peer);
  const budgets = peerBudgets(pairs);
  const tables = {
    main: renderPeerTable(pairs),
    ceilings: ceilingSummary(pairs),
    spread: renderRatioSpread(outcome),
    budgets: renderPeerBudgets(budgets),
  };
  const spreadTitle = `Ratios round by round (${options.rounds} rounds; spread = max ÷ min − 1):`;
  const tableNote =
    "Sums over the rounds' slices (req/s = responses ÷ seconds, CPU = CPU ÷ responses); p50/p99: the median of the slices'.";
  console.log(
    `\n${tables.main}\n\n${tableNote}\n\n${tables.ceilings}\n\n${spreadTitle}\n\n${tables.spread}\n\nBudgets:\n\n${tables.budgets}\n`,
  );
  const failed = [...byStack.ours, ...byStack.peer].filter((result) => result.error || result.errors);
  for (const result of failed)
    console.log(
      `✗ ${result.name}: ${result.error ?? `${result.errors} errors, statuses ${JSON.stringify(result.statusCounts)}`}`,
    );
  if (failed.length > 0) process.exitCode = 1;
  if (flags["no-write"]) return;
  const file = writeResultsFile(flags.label ?? "peers", {
    method: {
      target:
        "wrangler dev for each stack, all running at once: ours (local D1/KV/R2/Queues/DOs), ours with the peer's scrypt parameters, and the peer (bench/peers/better-auth, local D1), each with temporary state",
      rounds: `${options.rounds} rounds; in each, per comparison, each stack in turn (order reversed every other round) runs its ceiling (GET /health/live) slice then the scenario's slice, each a fixed number of requests sized to last duration/rounds s (at least ${MIN_SLICE_SECONDS} s; the scenario's minimum duration overall)`,
      combined:
        "sums over the slices (responses, seconds, CPU ticks per process); p50/p99 are the median of the slices'",
      loadGenerator: "autocannon (programmatic) in the bench process, not in either worker's process tree",
      cpu: "utime+stime from /proc/<pid>/stat over the worker's process tree, per response served",
      peer: peerVersions(),
    },
    plan: outcome.plan,
    results: byStack,
    ratios: ratiosRecord(outcome),
    budgets,
  });
  // A labelled run (a repeat, a variant) is kept beside the default one: the README shows the default.
  if (flags.label) return;
  updateReadmeSection("bench:peers", [
    `Run of ${startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC: ${options.rounds} rounds, ${options.duration} s per scenario and stack in all (${Math.max(options.duration, PASSWORD_MIN_SECONDS)} s for sign-up and sign-in) after ${options.warmup} s warm-up, ${options.connections} connections (4 for sign-up and sign-in), on ${machine.cpuModel} × ${machine.cores} cores, Node ${machine.node}, wrangler ${machine.wrangler}, load average ${machine.loadAverageAtStart.toFixed(2)} at start, ${describePeer()} ([results/${relative(join(benchDir, "results"), file)}](results/${relative(join(benchDir, "results"), file)})).`,
    "",
    tables.main,
    "",
    tableNote,
    "",
    tables.ceilings,
    "",
    spreadTitle,
    "",
    tables.spread,
    "",
    "Budgets:",
    "",
    tables.budgets,
  ]);
}

function peerVersions(): Record<string, string> {
  const version = (name: string) => {
    const path = join(PEER_ROOT, "node_modules", name, "package.json");
    return existsSync(path)
      ? (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version
      : "unknown";
  };
  return { "better-auth": version("better-auth"), hono: version("hono"), wrangler: version("wrangler") };
}

function describePeer(): string {
  const versions = peerVersions();
  return `peer: better-auth ${versions["better-auth"]}, hono ${versions.hono}, wrangler ${versions.wrangler}`;
}

// ---------------------------------------------------------------------------- scenario

/**
 * A scenario with vars of its own (e.g. a strict rate limit) on a worker started for it, compared
 * with a baseline measured on that same worker right before it (whatever --single-baseline says).
 */
async function runOnOwnWorker(
  scenario: Scenario,
  ownVars: Record<string, string>,
  how: { profile?: boolean } = {},
): Promise<ScenarioResult> {
  console.log(
    `\n▶ ${scenario.name}: starting a worker of its own (${Object.keys(scenario.vars ?? {}).join(", ")})`,
  );
  let own: LocalWorker | undefined;
  try {
    own = await startLocalWorker({ vars: ownVars, snapshot: options.snapshot });
    const result = await runScenario(own, createScenarioContext(own), scenario, {
      ...how,
      pairWithBaseline: true,
    });
    result.ownWorker = { vars: scenario.vars ?? {} };
    return result;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.log(`  skipped: ${message}`);
    return {
      name: scenario.name,
      description: scenario.description,
      expectedStatus: scenario.expectedStatus,
      requests: [],
      error: message,
    };
  } finally {
    await own?.stop();
  }
}

/**
 * Setup, probe, warm-up and the measured run of one scenario. With `pairWithBaseline`, the
 * baseline is measured again once the scenario is set up, right before its warm-up, and the
 * scenario's ratios are taken against that: on a machine shared with other work, the capacity
 * left to the worker drifts over the minutes a whole run takes.
 */
async function runScenario(
  worker: LocalWorker,
  ctx: ScenarioContext,
  scenario: Scenario,
  how: { pairWithBaseline?: boolean; profile?: boolean } = {},
): Promise<ScenarioResult> {
  const result: ScenarioResult = {
    name: scenario.name,
    description: scenario.description,
    expectedStatus: scenario.expectedStatus,
    requests: [],
  };
  console.log(`\n▶ ${scenario.name}: ${scenario.description}`);
  const pair = async () => {
    if (!how.pairWithBaseline) return;
    console.log(`  ▷ paired ${BASELINE}, right before ${scenario.name}`);
    const base = await runScenario(worker, ctx, baselineScenario, { profile: false });
    if (base.rps && base.cpu) {
      result.pairedBaseline = {
        rps: exactRps(base),
        cpuUsPerRequest: base.cpu.workerUsPerRequest,
        workerdWorkerUsPerRequest: base.cpu.byProcessUsPerRequest.workerd_worker,
      };
    }
  };
  const profile = how.profile ?? options.profile;
  if (scenario.measure) {
    await pair();
    const seconds = Math.max(options.duration, scenario.minDurationSeconds ?? 0);
    return runMeasuredScenario(worker, ctx, scenario.measure, result, profile, seconds);
  }
  let requests: BenchRequest[];
  try {
    requests = await prepareRequests(worker.url, ctx, scenario);
    result.requests = requests.map((request) => `${request.method ?? "GET"} ${request.path}`);
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
    console.log(`  skipped: ${result.error}`);
    return result;
  }

  await pair();
  const connections = Math.min(options.connections, scenario.maxConnections ?? options.connections);
  result.connections = connections;
  const load = (duration: number) =>
    autocannon({
      url: worker.url,
      connections,
      duration,
      timeout: 10,
      requests: requests.map(({ makeBody, ...request }) => ({
        ...request,
        method: request.method ?? "GET",
        ...(makeBody ? { setupRequest: (built: AutocannonRequest) => ({ ...built, body: makeBody() }) } : {}),
      })),
    });

  // Background work a scenario leaves (queue consumers, waitUntil) must not be charged to the next:
  // start from an idle worker, warm up (JIT, caches, connections), and idle again before measuring.
  await settle(worker);
  if (options.warmup > 0) {
    console.log(`  warm-up ${options.warmup} s`);
    await load(options.warmup);
    await settle(worker);
  }
  if (profile) {
    await profileScenario(worker, result, async () => (await load(PROFILE_SECONDS)).requests.total);
    await settle(worker);
  }

  result.loadAverageBefore = round(loadavg()[0] ?? 0, 2);
  const seconds = Math.max(options.duration, scenario.minDurationSeconds ?? 0);
  console.log(`  measuring ${seconds} s at ${connections} connections`);
  const { value: run, usage } = await withCpuUsage(worker, () => load(seconds));

  const responses = run.requests.total;
  const statusCounts = Object.fromEntries(
    Object.entries(run.statusCodeStats).map(([status, { count }]) => [status, count]),
  );
  const expected = statusCounts[String(scenario.expectedStatus)] ?? 0;

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
    drainMs: usage.drainMs,
    timeouts: run.timeouts,
    cpu: cpuPerRequest(usage, responses),
  } satisfies Partial<ScenarioResult>);
  console.log(
    `  ${result.rps} req/s, p50 ${run.latency.p50} ms, p99 ${run.latency.p99} ms, ${result.errors} errors, ${result.cpu?.workerUsPerRequest} µs CPU/request (worker)`,
  );
  return result;
}

/**
 * A scenario that drives the worker itself (`measure`, e.g. WebSocket fan-out): it gets the
 * same settle / warm-up / CPU accounting, and its samples take the place of responses.
 */
async function runMeasuredScenario(
  worker: LocalWorker,
  ctx: ScenarioContext,
  measure: NonNullable<Scenario["measure"]>,
  result: ScenarioResult,
  profile: boolean,
  durationSeconds: number,
): Promise<ScenarioResult> {
  try {
    await settle(worker);
    if (options.warmup > 0) {
      console.log(`  warm-up ${options.warmup} s`);
      await measure(ctx, { durationSeconds: options.warmup, phase: "warmup" });
      await settle(worker);
    }
    if (profile) {
      // "warmup": the scenario keeps its sockets open for the measured run that follows.
      const profiled = () => measure(ctx, { durationSeconds: PROFILE_SECONDS, phase: "warmup" });
      await profileScenario(worker, result, async () => (await profiled()).latenciesMs.length);
      await settle(worker);
    }
    result.loadAverageBefore = round(loadavg()[0] ?? 0, 2);
    console.log(`  measuring ${durationSeconds} s`);
    const started = performance.now();
    const { value: measured, usage } = await withCpuUsage(worker, () =>
      measure(ctx, { durationSeconds, phase: "measure" }),
    );
    const seconds = round((measured.elapsedMs ?? performance.now() - started) / 1000, 2);
    const latencies = [...measured.latenciesMs].sort((a, b) => a - b);
    const samples = latencies.length;
    Object.assign(result, {
      requests: measured.requests,
      durationSeconds: seconds,
      responses: samples,
      rps: round(samples / seconds, 0),
      latencyMs: {
        p50: round(percentile(latencies, 0.5), 1),
        p99: round(percentile(latencies, 0.99), 1),
        average: round(latencies.reduce((sum, value) => sum + value, 0) / Math.max(1, samples), 2),
        max: round(latencies.at(-1) ?? 0, 1),
      },
      statusCounts: {},
      errors: measured.errors,
      socketErrors: 0,
      drainMs: usage.drainMs,
      timeouts: 0,
      cpu: cpuPerRequest(usage, samples),
      details: measured.details,
    } satisfies Partial<ScenarioResult>);
    console.log(
      `  ${samples} samples, p50 ${result.latencyMs?.p50} ms, p99 ${result.latencyMs?.p99} ms, ${measured.errors} errors, ${result.cpu?.workerUsPerRequest} µs CPU/sample (worker), load generator ${result.cpu?.loadGeneratorCoresBusy} of a core`,
    );
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
    console.log(`  skipped: ${result.error}`);
  }
  return result;
}

/** Runs `load` (which returns how many requests it completed) under perf; see bench/profile.ts. */
async function profileScenario(
  worker: LocalWorker,
  result: ScenarioResult,
  load: () => Promise<number>,
): Promise<void> {
  console.log(`  profiling ${PROFILE_SECONDS} s (perf, worker workerd)`);
  const pid = workerdWorkerPid(worker);
  if (pid === undefined) {
    console.warn("  profile skipped: no worker workerd process found");
    return;
  }
  const dataFile = join(tmpdir(), `edge-api-bench-${process.pid}-${result.name}.perf.data`);
  try {
    const summary = await profileWhile(pid, dataFile, load);
    result.profile = summary;
    const split = Object.entries(summary.categoriesUsPerRequest)
      .filter(([, us]) => us > 0)
      .map(([category, us]) => `${category} ${us}`)
      .join(", ");
    console.log(`  worker workerd ${summary.workerdUsPerRequest} µs/request: ${split}`);
  } catch (error) {
    console.warn(`  profile failed: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    rmSync(dataFile, { force: true });
  }
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
}

// ---------------------------------------------------------------------------- output

function writeResults(
  results: ScenarioResult[],
  tables: {
    main: string;
    budgets: string;
    split: string;
    ownWorkers?: string;
    profiles?: string;
    bundle: string;
  },
): void {
  const file = writeResultsFile(flags.label, {
    method: {
      target: `wrangler dev (proxy workerd → worker workerd), local D1/KV/R2/Queues/DOs, temporary state, ${options.snapshot ? "from a snapshot copy of the tree" : "in the working tree"}`,
      loadGenerator: "autocannon (programmatic) in the bench process, not in the worker's process tree",
      cpu: "utime+stime from /proc/<pid>/stat over the worker's process tree, per response served",
    },
    bundle,
    results,
  });
  // A labelled run is a variant kept beside the default one: the README shows the default.
  if (flags.label) return;
  const resultsDir = join(benchDir, "results");
  const overridden = Object.entries(vars)
    .filter(([key]) => !(key in WORKER_VARS))
    .map(([key, value]) => `\`${key}=${value}\``);
  updateReadmeSection("bench:latest", [
    `Run of ${startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC: ${options.duration} s per scenario at ${options.connections} connections after ${options.warmup} s warm-up, on ${machine.cpuModel} × ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, wrangler ${machine.wrangler}, load average ${machine.loadAverageAtStart.toFixed(2)} at start, ${options.snapshot ? "from a snapshot of the tree" : "in the working tree"}${overridden.length > 0 ? `, with ${overridden.join(", ")}` : ""} ([results/${relative(resultsDir, file)}](results/${relative(resultsDir, file)})).`,
    "",
    tables.main,
    "",
    "Budgets:",
    "",
    tables.budgets,
    "",
    tables.bundle,
    ...(tables.ownWorkers ? ["", tables.ownWorkers] : []),
    "",
    "CPU µs per request by process:",
    "",
    tables.split,
    ...(tables.profiles
      ? ["", "Worker workerd CPU µs per request by kind of work (`--profile`, perf):", "", tables.profiles]
      : []),
  ]);
}

/**
 * bench/results/<UTC date>[-label].json: the machine, the options and `content` (a second run on
 * the same day with the same label replaces it). Returns the file's path.
 */
function writeResultsFile(label: string | undefined, content: Record<string, unknown>): string {
  const date = startedAt.toISOString().slice(0, 10);
  const resultsDir = join(benchDir, "results");
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${date}${label ? `-${label}` : ""}.json`);
  const document = {
    date,
    label: label ?? null,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    options: { ...options, vars },
    machine,
    ...content,
  };
  writeFileSync(file, `${JSON.stringify(document, null, 2)}\n`);
  console.log(`bench: wrote ${relative(root, file)}`);
  return file;
}

/** Replaces what stands between `<!-- marker:start -->` and `<!-- marker:end -->` in bench/README.md. */
function updateReadmeSection(marker: string, lines: string[]): void {
  const readmePath = join(benchDir, "README.md");
  if (!existsSync(readmePath)) return;
  const readme = readFileSync(readmePath, "utf8");
  const start = `<!-- ${marker}:start -->`;
  const end = `<!-- ${marker}:end -->`;
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  if (from < 0 || to < from) {
    console.warn(`bench: ${relative(root, readmePath)} has no ${start} … ${end} markers; table not updated`);
    return;
  }
  const section = [start, ...lines, end].join("\n");
  writeFileSync(readmePath, readme.slice(0, from) + section + readme.slice(to + end.length));
  console.log(`bench: updated ${marker} in ${relative(root, readmePath)}`);
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
