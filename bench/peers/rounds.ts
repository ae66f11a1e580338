/**
 * How `npm run bench -- --peers` measures: every stack side by side, in rounds, so that whatever
 * the machine does over the minutes of a run (other work, CPU frequency, a neighbour's test suite)
 * lands on both sides of a ratio alike instead of in it.
 *
 * 1. Every worker is started up front (ours, ours with a comparison's vars such as the peer's
 *    scrypt parameters, the peer: an idle `wrangler dev` costs next to nothing) and every scenario
 *    is set up once on its worker (users, tokens), probed, and warmed up, as is each worker's
 *    ceiling (`GET /health/live`).
 * 2. Then `rounds` times: for each comparison, each stack in turn (the order reversed every other
 *    round) runs a slice of its ceiling, then a slice of the scenario.
 * 3. A stack's figures are sums over its slices (responses, seconds, CPU ticks per process), so
 *    req/s and CPU µs/request are over the whole run; p50/p99 are the median of the slices' (a
 *    percentile does not add up). The ratios are also taken round by round: their spread shows how
 *    stable each is within one run.
 *
 * A slice sends a fixed number of requests (autocannon's `amount`), sized from the rate the stack
 * reached so far to last about its share of the run. A timed slice would cut the requests in flight
 * when it stops, and the CPU they had spent would be charged to the responses counted: at 4
 * connections and about 40 of our sign-ins a slice that is a tenth, against a thirtieth of the
 * peer's (faster) sign-ins, a bias in the ratio itself.
 */
import { loadavg } from "node:os";
import autocannon, { type AutocannonRequest } from "autocannon";
import type { LocalWorker } from "../../scripts/lib/local-worker.ts";
import { type CpuUsage, cpuPerRequest, settle, withCpuUsage } from "../cpu.ts";
import { round, type ScenarioResult } from "../report.ts";
import {
  BASELINE,
  type BenchRequest,
  prepareRequests,
  type Scenario,
  type ScenarioContext,
  scenarios,
} from "../scenarios.ts";
import { comparisons, type PeerRatio, pairResults, peerRatios, type Stack } from "./comparison.ts";

export const DEFAULT_ROUNDS = 3;
/** The shortest slice: below a few seconds, the settle and connection set-up around it weigh too much. */
export const MIN_SLICE_SECONDS = 3;
/** autocannon ends a run at its next sample: at its default 1 s, a 5 s slice could be timed 6 s. */
const SAMPLE_INTERVAL_MS = 50;
/** Requests per connection after the warm-up, whose latency sizes the first slice. */
const CALIBRATION_REQUESTS_PER_CONNECTION = 4;
/** Seconds before autocannon counts a request as timed out (as in bench/run.ts). */
const REQUEST_TIMEOUT_SECONDS = 10;

const ceilingScenario = scenarios.find((scenario) => scenario.name === BASELINE) as Scenario;

export interface RoundsOptions {
  rounds: number;
  /** Seconds per scenario and stack over the whole run (a scenario's minDurationSeconds wins). */
  durationSeconds: number;
  /** Seconds of unmeasured load per scenario at set-up (then a few requests that give the first slice's rate). */
  warmupSeconds: number;
  connections: number;
}

/** A worker the comparison needs: ours, ours with a comparison's vars, the peer. */
export interface LaneSpec {
  name: string;
  stack: Stack;
  /** Vars of ours on top of the run's (Comparison.ours.vars). */
  vars?: Record<string, string>;
}

export interface Lane extends LaneSpec {
  worker?: LocalWorker;
  ctx?: ScenarioContext;
  /** Why the worker could not be started. */
  error?: string;
}

export function lanesNeeded(): LaneSpec[] {
  const lanes: LaneSpec[] = [{ name: "ours", stack: "ours" }];
  for (const { ours } of comparisons) {
    if (ours.vars && !lanes.some((lane) => lane.name === varsLaneName(ours.vars))) {
      lanes.push({ name: varsLaneName(ours.vars), stack: "ours", vars: ours.vars });
    }
  }
  lanes.push({ name: "peer", stack: "peer" });
  return lanes;
}

/** "ours+PASSWORD_HASH_PARAMS": the values are in the results (ownWorker.vars) and the start-up log. */
const varsLaneName = (vars: Record<string, string> | undefined) =>
  `ours+${Object.keys(vars ?? {}).join("+")}`;

/** One request mix on one worker, driven slice after slice. */
interface Load {
  scenario: Scenario;
  requests: BenchRequest[];
  connections: number;
  /** How long each slice should last; its request count is sized from `rate`. */
  sliceSeconds: number;
  /** Responses and seconds so far: the calibration's until a slice is measured, then the slices'. */
  rate: { responses: number; seconds: number; measured: boolean };
}

/** One scenario of one stack: its load, its lane's ceiling, and the slices measured of each. */
interface Job {
  lane: Lane;
  scenario: Scenario;
  load?: Load;
  ceiling?: Load;
  slices: Slice[];
  ceilingSlices: Slice[];
  error?: string;
}

export interface Slice {
  round: number;
  /** Requests sent (every one answered or failed before the slice ends). */
  sent: number;
  /** autocannon's wall time from the first request to the last answer. */
  seconds: number;
  responses: number;
  statusCounts: Record<string, number>;
  errors: number;
  socketErrors: number;
  timeouts: number;
  latencyMs: { p50: number; p99: number; average: number; max: number };
  usage: CpuUsage;
  loadAverageBefore: number;
}

export interface RoundsOutcome {
  results: Record<Stack, ScenarioResult[]>;
  /** Every ratio over the whole run, and in each round alone. */
  ratios: Array<{ name: string; run?: number; rounds: Array<number | undefined> }>;
  /** What ran in which order, and the target length of each job's slices. */
  plan: {
    rounds: number;
    order: string[][];
    sliceSeconds: Record<string, number>;
    loadAverageAtRoundStart: number[];
  };
}

export async function measureInRounds(lanes: Lane[], options: RoundsOptions): Promise<RoundsOutcome> {
  const { jobs, groups } = planJobs(lanes);
  const ceilingSeconds = Math.max(MIN_SLICE_SECONDS, options.durationSeconds / options.rounds);
  const sliceSeconds = (scenario: Scenario) =>
    Math.max(
      MIN_SLICE_SECONDS,
      Math.max(options.durationSeconds, scenario.minDurationSeconds ?? 0) / options.rounds,
    );
  await setUp(lanes, jobs, { ...options, ceilingSeconds, sliceSeconds });

  const order: string[][] = [];
  const loadAverageAtRoundStart: number[] = [];
  for (let roundNumber = 1; roundNumber <= options.rounds; roundNumber++) {
    loadAverageAtRoundStart.push(round(loadavg()[0] ?? 0, 2));
    console.log(
      `\n■ round ${roundNumber} of ${options.rounds} (load average ${loadAverageAtRoundStart.at(-1)}): per job, ceiling | scenario`,
    );
    order.push(await runRound(groups, roundNumber));
  }

  const resultsOf = (roundNumber?: number) => {
    const inRound = (slices: Slice[]) =>
      roundNumber === undefined ? slices : slices.filter((slice) => slice.round === roundNumber);
    const byStack: Record<Stack, ScenarioResult[]> = { ours: [], peer: [] };
    for (const job of jobs)
      byStack[job.lane.stack].push(combine(job, inRound(job.slices), inRound(job.ceilingSlices)));
    return byStack;
  };
  const ratiosOf = (byStack: Record<Stack, ScenarioResult[]>): PeerRatio[] =>
    peerRatios(pairResults(byStack.ours, byStack.peer));
  const results = resultsOf();
  const perRound = Array.from({ length: options.rounds }, (_, index) => ratiosOf(resultsOf(index + 1)));
  return {
    results,
    ratios: ratiosOf(results).map((ratio, index) => ({
      name: ratio.name,
      run: ratio.value,
      rounds: perRound.map((ratios) => ratios[index]?.value),
    })),
    plan: {
      rounds: options.rounds,
      order,
      sliceSeconds: Object.fromEntries([
        ["ceiling GET /health/live", round(ceilingSeconds, 2)],
        ...jobs.map((job) => [label(job), round(sliceSeconds(job.scenario), 2)]),
      ]),
      loadAverageAtRoundStart,
    },
  };
}

// ---------------------------------------------------------------------------- plan, set-up, rounds

/**
 * A job per scenario of each stack, on its worker, and the groups they are measured in: each
 * comparison whose peer side is a scenario of its own, with the comparisons whose rows are set
 * beside that same peer result (our sign-in at the peer's scrypt parameters), so that the peer's
 * slice is next to each of ours.
 */
function planJobs(lanes: Lane[]): { jobs: Job[]; groups: Job[][] } {
  const jobs = new Map<Scenario, Job>();
  const jobOf = (scenario: Scenario, stack: Stack) => {
    const name = stack === "peer" ? "peer" : scenario.vars ? varsLaneName(scenario.vars) : "ours";
    const lane = lanes.find((each) => each.name === name);
    if (!lane) throw new Error(`no worker "${name}" for ${stack} ${scenario.name} (lanesNeeded() lists it)`);
    let job = jobs.get(scenario);
    if (!job) {
      job = { lane, scenario, slices: [], ceilingSlices: [] };
      jobs.set(scenario, job);
    }
    return job;
  };
  const groups = comparisons.flatMap((comparison) => {
    if (typeof comparison.peer === "string") return [];
    const sharing = comparisons.filter((other) => other.peer === comparison.name);
    return [
      [
        jobOf(comparison.ours, "ours"),
        jobOf(comparison.peer, "peer"),
        ...sharing.map((other) => jobOf(other.ours, "ours")),
      ],
    ];
  });
  return { jobs: [...jobs.values()], groups };
}

const label = (job: Job) => `${job.lane.stack} ${job.scenario.name}`;

/** Each worker's ceiling, then every job, prepared once; a job that cannot be is skipped with its reason. */
async function setUp(
  lanes: Lane[],
  jobs: Job[],
  options: RoundsOptions & { ceilingSeconds: number; sliceSeconds: (scenario: Scenario) => number },
): Promise<void> {
  console.log(`\n■ set-up: every scenario seeded, probed and warmed up once on its worker`);
  const ceilings = new Map<Lane, Load | string>();
  for (const lane of lanes) {
    if (!lane.worker || !lane.ctx) continue;
    try {
      ceilings.set(lane, await prepare(lane, ceilingScenario, options.ceilingSeconds, options));
    } catch (error) {
      ceilings.set(lane, `${lane.name}: the ceiling: ${message(error)}`);
    }
  }
  for (const job of jobs) {
    const ceiling = ceilings.get(job.lane);
    if (!job.lane.worker || ceiling === undefined)
      job.error = `${job.lane.name} did not start: ${job.lane.error}`;
    else if (typeof ceiling === "string") job.error = ceiling;
    else {
      job.ceiling = ceiling;
      try {
        job.load = await prepare(job.lane, job.scenario, options.sliceSeconds(job.scenario), options);
      } catch (error) {
        job.error = message(error);
      }
    }
    if (job.error) {
      console.log(`  ✗ ${label(job)} skipped: ${job.error}`);
      if (job.lane.worker)
        console.error(`--- ${job.lane.name}: wrangler dev log (tail) ---\n${job.lane.worker.logTail(20)}`);
    }
  }
}

/** One round: each group's jobs in turn, in order on odd rounds and reversed on even ones. Returns what ran. */
async function runRound(groups: Job[][], roundNumber: number): Promise<string[]> {
  const ran: string[] = [];
  for (const group of groups) {
    // Alternating who goes first: the stack measured right after another's heavy slice is not always the same one.
    for (const job of roundNumber % 2 === 1 ? group : [...group].reverse()) {
      if (job.error || !job.load || !job.ceiling || !job.lane.worker) continue;
      ran.push(label(job));
      try {
        const ceiling = await measureSlice(job.lane.worker, job.ceiling, roundNumber);
        job.ceilingSlices.push(ceiling);
        const slice = await measureSlice(job.lane.worker, job.load, roundNumber);
        job.slices.push(slice);
        console.log(`  ${label(job).padEnd(26)} ${describeSlice(ceiling)} | ${describeSlice(slice)}`);
      } catch (error) {
        job.error = message(error);
        console.log(`  ✗ ${label(job)}: ${job.error}`);
      }
    }
  }
  return ran;
}

// ---------------------------------------------------------------------------- one scenario's load and slices

/** Seeds the scenario (its setup), checks each request answers the expected status, and warms it up. */
async function prepare(
  lane: Lane,
  scenario: Scenario,
  sliceSeconds: number,
  options: RoundsOptions,
): Promise<Load> {
  const { worker, ctx } = lane;
  if (!worker || !ctx) throw new Error(`${lane.name} is not running`);
  if (scenario.measure)
    throw new Error(`${scenario.name} drives the worker itself, which --peers does not run`);
  const requests = await prepareRequests(worker.url, ctx, scenario);
  const load: Load = {
    scenario,
    requests,
    connections: Math.min(options.connections, scenario.maxConnections ?? options.connections),
    sliceSeconds,
    rate: { responses: 0, seconds: 0, measured: false },
  };
  await settle(worker);
  if (options.warmupSeconds > 0) await drive(worker, load, { duration: options.warmupSeconds });
  // The rate the first slice is sized from, on the warm worker: the warm-up's own is no guide, its
  // first answers wait for compilation and caches (0 to 1 req/s on a busy machine). A few requests
  // per connection, all answered, so none is cut off.
  const calibration = await drive(worker, load, {
    amount: CALIBRATION_REQUESTS_PER_CONNECTION * load.connections,
  });
  // Little's law (a closed loop: rate = connections ÷ latency) leaves out the half-empty tail of so short a run.
  const seconds = calibration.latency.average / 1000;
  load.rate =
    seconds > 0
      ? { responses: load.connections, seconds, measured: false }
      : { responses: calibration.requests.total, seconds: calibration.duration, measured: false };
  console.log(
    `  ${lane.name.padEnd(26)} ${scenario.name}: ${requests.length} request(s) at ${load.connections} connections, warm ${round(load.rate.responses / load.rate.seconds, 1)} req/s`,
  );
  return load;
}

/** One slice: the worker idle first, then `amount` requests with the CPU of the worker's tree read around them. */
async function measureSlice(worker: LocalWorker, load: Load, roundNumber: number): Promise<Slice> {
  await settle(worker);
  const rate = load.rate.responses / Math.max(load.rate.seconds, Number.EPSILON);
  // At least two requests per connection: autocannon refuses fewer requests than connections.
  const sent = Math.max(2 * load.connections, Math.round(rate * load.sliceSeconds));
  const loadAverageBefore = round(loadavg()[0] ?? 0, 2);
  const { value: run, usage } = await withCpuUsage(worker, () => drive(worker, load, { amount: sent }));
  // The next slice is sized from the slices measured (the calibration is short and its tail weighs).
  if (!load.rate.measured) load.rate = { responses: 0, seconds: 0, measured: true };
  load.rate.responses += run.requests.total;
  load.rate.seconds += run.duration;
  const statusCounts = Object.fromEntries(
    Object.entries(run.statusCodeStats).map(([status, { count }]) => [status, count]),
  );
  const responses = run.requests.total;
  return {
    round: roundNumber,
    sent,
    seconds: run.duration,
    responses,
    statusCounts,
    errors: responses - (statusCounts[String(load.scenario.expectedStatus)] ?? 0) + run.errors,
    socketErrors: run.errors - run.timeouts,
    timeouts: run.timeouts,
    latencyMs: {
      p50: run.latency.p50,
      p99: run.latency.p99,
      average: round(run.latency.average, 2),
      max: run.latency.max,
    },
    usage,
    loadAverageBefore,
  };
}

function drive(worker: LocalWorker, load: Load, size: { duration: number } | { amount: number }) {
  return autocannon({
    url: worker.url,
    connections: load.connections,
    timeout: REQUEST_TIMEOUT_SECONDS,
    sampleInt: SAMPLE_INTERVAL_MS,
    ...size,
    requests: load.requests.map(({ makeBody, ...request }) => ({
      ...request,
      method: request.method ?? "GET",
      ...(makeBody ? { setupRequest: (built: AutocannonRequest) => ({ ...built, body: makeBody() }) } : {}),
    })),
  });
}

function describeSlice(slice: Slice): string {
  const rps = slice.responses / Math.max(slice.seconds, Number.EPSILON);
  const cpu = slice.responses > 0 ? Math.round(slice.usage.workerMicros / slice.responses) : 0;
  return `${round(rps, rps < 100 ? 1 : 0)} req/s, ${cpu} µs/req, ${slice.responses} in ${slice.seconds} s${slice.errors ? `, ${slice.errors} errors` : ""}`;
}

// ---------------------------------------------------------------------------- combining slices

/** A job's slices (all, or one round's) as one result: sums, and the median of the slices' percentiles. */
function combine(job: Job, slices: Slice[], ceilingSlices: Slice[]): ScenarioResult {
  const result: ScenarioResult = {
    name: job.scenario.name,
    description: job.scenario.description,
    expectedStatus: job.scenario.expectedStatus,
    requests: (job.load?.requests ?? []).map((request) => `${request.method ?? "GET"} ${request.path}`),
    connections: job.load?.connections,
    ...(job.lane.vars ? { ownWorker: { vars: job.lane.vars } } : {}),
  };
  if (job.error) result.error = job.error;
  if (slices.length === 0) {
    result.error ??= "not measured";
    return result;
  }
  const figures = sumSlices(slices);
  const ceiling = ceilingSlices.length > 0 ? sumSlices(ceilingSlices) : undefined;
  return {
    ...result,
    ...figures,
    ...(ceiling?.cpu
      ? {
          pairedBaseline: {
            rps: ceiling.responses / Math.max(ceiling.durationSeconds, Number.EPSILON),
            cpuUsPerRequest: ceiling.cpu.workerUsPerRequest,
            workerdWorkerUsPerRequest: ceiling.cpu.byProcessUsPerRequest.workerd_worker,
          },
        }
      : {}),
    details: {
      note: "sums over the slices; p50/p99 are the median of the slices'",
      slices: slices.map(sliceRecord),
      ceilingSlices: ceilingSlices.map(sliceRecord),
    },
  };
}

function sumSlices(slices: Slice[]) {
  const sum = (pick: (slice: Slice) => number) => slices.reduce((total, slice) => total + pick(slice), 0);
  const responses = sum((slice) => slice.responses);
  const seconds = sum((slice) => slice.seconds);
  const usage: CpuUsage = {
    workerMicros: sum((slice) => slice.usage.workerMicros),
    ownMicros: sum((slice) => slice.usage.ownMicros),
    byProcess: {
      wrangler_node: sum((slice) => slice.usage.byProcess.wrangler_node),
      workerd_proxy: sum((slice) => slice.usage.byProcess.workerd_proxy),
      workerd_worker: sum((slice) => slice.usage.byProcess.workerd_worker),
      other: sum((slice) => slice.usage.byProcess.other),
    },
    wallSeconds: sum((slice) => slice.usage.wallSeconds),
    workSeconds: sum((slice) => slice.usage.workSeconds),
    drainMs: sum((slice) => slice.usage.drainMs),
  };
  const statusCounts: Record<string, number> = {};
  for (const slice of slices)
    for (const [status, count] of Object.entries(slice.statusCounts))
      statusCounts[status] = (statusCounts[status] ?? 0) + count;
  const rps = responses / Math.max(seconds, Number.EPSILON);
  return {
    durationSeconds: round(seconds, 2),
    responses,
    rps: round(rps, rps < 100 ? 1 : 0),
    latencyMs: {
      p50: median(slices.map((slice) => slice.latencyMs.p50)),
      p99: median(slices.map((slice) => slice.latencyMs.p99)),
      average: round(sum((slice) => slice.latencyMs.average * slice.responses) / Math.max(responses, 1), 2),
      max: Math.max(...slices.map((slice) => slice.latencyMs.max)),
    },
    statusCounts,
    errors: sum((slice) => slice.errors),
    socketErrors: sum((slice) => slice.socketErrors),
    timeouts: sum((slice) => slice.timeouts),
    drainMs: usage.drainMs,
    cpu: cpuPerRequest(usage, responses),
    loadAverageBefore: round(sum((slice) => slice.loadAverageBefore) / slices.length, 2),
  };
}

/** A slice as the results file keeps it. */
function sliceRecord(slice: Slice) {
  const perResponse = (micros: number) => (slice.responses > 0 ? Math.round(micros / slice.responses) : 0);
  return {
    round: slice.round,
    sent: slice.sent,
    responses: slice.responses,
    seconds: slice.seconds,
    rps: round(slice.responses / Math.max(slice.seconds, Number.EPSILON), 1),
    cpuUsPerRequest: perResponse(slice.usage.workerMicros),
    workerdWorkerUsPerRequest: perResponse(slice.usage.byProcess.workerd_worker),
    latencyMs: { p50: slice.latencyMs.p50, p99: slice.latencyMs.p99 },
    errors: slice.errors,
    loadAverageBefore: slice.loadAverageBefore,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

// ---------------------------------------------------------------------------- report

/**
 * Each ratio over the run and in each round, with its spread: max ÷ min − 1 over the rounds. A
 * ratio whose rounds spread by more than the 15 % a repeat run must agree within will hardly
 * reproduce.
 */
export function renderRatioSpread(outcome: RoundsOutcome): string {
  const format = (value: number | undefined) => (value === undefined ? "—" : value.toFixed(2));
  const header = [
    "ratio (ours/peer unless said)",
    "run",
    ...outcome.plan.order.map((_, index) => `round ${index + 1}`),
    "min..max",
    "spread",
  ];
  const rows = outcome.ratios.map((ratio) => {
    const known = ratio.rounds.filter((value) => value !== undefined);
    const min = known.length > 0 ? Math.min(...known) : undefined;
    const max = known.length > 0 ? Math.max(...known) : undefined;
    return [
      ratio.name,
      format(ratio.run),
      ...ratio.rounds.map(format),
      min === undefined || max === undefined ? "—" : `${format(min)}..${format(max)}`,
      min && max ? `${Math.round((max / min - 1) * 100)} %` : "—",
    ];
  });
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? "").length)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join(" | ")} |`;
  const rule = `|${widths.map((width, i) => (i === 0 ? "-".repeat(width + 2) : `${"-".repeat(width + 1)}:`)).join("|")}|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

/** The per-round ratios as the results file keeps them. */
export function ratiosRecord(outcome: RoundsOutcome) {
  return outcome.ratios.map((ratio) => {
    const known = ratio.rounds.filter((value) => value !== undefined);
    const rounded = (value: number | undefined) => (value === undefined ? null : round(value, 3));
    return {
      ratio: ratio.name,
      run: rounded(ratio.run),
      rounds: ratio.rounds.map(rounded),
      min: rounded(known.length > 0 ? Math.min(...known) : undefined),
      max: rounded(known.length > 0 ? Math.max(...known) : undefined),
    };
  });
}
