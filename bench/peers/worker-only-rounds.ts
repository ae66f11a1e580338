/**
 * `npm run bench:worker-only`'s comparison with the peer: each pair of bench/peers/comparison.ts
 * measured on the two production bundles in workerd (Miniflare's Node API, no dev proxy, no
 * inspector), so CPU per request is the Worker's plus the local simulators', close to what
 * Cloudflare bills, without the dev stack that `npm run bench -- --peers` carries (our log line
 * through wrangler's Node and the dev proxy, bench/README.md "Against the peer").
 *
 * Both workerds run at once and each pair is measured in rounds, as `--peers` does under
 * `wrangler dev` (bench/peers/rounds.ts): ours for a slice, the peer for a slice, ROUNDS times,
 * so a drift of the machine falls on both stacks. A stack's CPU is its own workerd's (its
 * processes only), minus that workerd's idle rate, over the responses of its slices.
 */
import { budgetRatio, round } from "../report.ts";
import type { BenchRequest, Scenario } from "../scenarios.ts";
import type { Stack } from "./comparison.ts";
import { DEFAULT_ROUNDS, MIN_SLICE_SECONDS } from "./rounds.ts";

/** One workerd with a bundle in it: where to send requests and which processes are its. */
export type RunningWorker = { url: string; pids: number[] };

export type PreparedSide = { worker: RunningWorker; scenario: Scenario; requests: BenchRequest[] };

export type SideFigures = {
  responses: number;
  seconds: number;
  rps: number;
  cpuUsPerRequest: number;
  /** Responses without the scenario's expected status, plus connection errors. */
  errors: number;
};

export type PairFigures = {
  name: string;
  description: string;
  rounds: number;
  secondsPerSlice: number;
  ours: SideFigures;
  peer: SideFigures;
  /** ours / peer. */
  rpsRatio: number;
  cpuRatio: number;
  /** ours / peer CPU of each round, to see how far one round is from the sum. */
  cpuRatioByRound: number[];
};

/** What one slice of load returned (autocannon's result, the fields used here). */
export type SliceRun = {
  requests: { total: number };
  duration: number;
  errors: number;
  statusCodeStats: Record<string, { count: number } | undefined>;
};

export type RoundsHarness = {
  load: (url: string, scenario: Scenario, requests: BenchRequest[], seconds: number) => Promise<SliceRun>;
  cpuMicros: (pids: number[]) => number;
  /** Waits until the workerds are idle (queue consumers and waitUntil drained). */
  quiet: () => Promise<void>;
  sleep: (ms: number) => Promise<void>;
};

/** As many rounds, and slices no shorter, as `--peers` under `wrangler dev` (rounds.ts). */
const ROUNDS = DEFAULT_ROUNDS;
const IDLE_SAMPLE_MS = 2_000;

type Totals = { responses: number; seconds: number; cpuMicros: number; errors: number };

async function idleRate(worker: RunningWorker, harness: RoundsHarness): Promise<number> {
  const before = harness.cpuMicros(worker.pids);
  await harness.sleep(IDLE_SAMPLE_MS);
  return (harness.cpuMicros(worker.pids) - before) / (IDLE_SAMPLE_MS / 1000);
}

async function slice(
  side: PreparedSide,
  seconds: number,
  idleMicrosPerSecond: number,
  harness: RoundsHarness,
): Promise<Totals> {
  const before = harness.cpuMicros(side.worker.pids);
  const started = performance.now();
  const run = await harness.load(side.worker.url, side.scenario, side.requests, seconds);
  await harness.quiet();
  const wallSeconds = (performance.now() - started) / 1000;
  const used = harness.cpuMicros(side.worker.pids) - before - idleMicrosPerSecond * wallSeconds;
  const expected = run.statusCodeStats[String(side.scenario.expectedStatus)]?.count ?? 0;
  return {
    responses: run.requests.total,
    seconds: run.duration,
    cpuMicros: Math.max(0, used),
    errors: run.requests.total - expected + run.errors,
  };
}

const figures = (totals: Totals): SideFigures => ({
  responses: totals.responses,
  seconds: round(totals.seconds, 1),
  rps: round(totals.responses / Math.max(totals.seconds, Number.EPSILON), 1),
  cpuUsPerRequest: totals.responses > 0 ? Math.round(totals.cpuMicros / totals.responses) : 0,
  errors: totals.errors,
});

/**
 * Measures one pair in ROUNDS rounds of a slice per stack (ours first in odd rounds, the peer
 * first in even ones), after `warmupSeconds` of load on each. `seconds` is per stack in all.
 */
export async function measurePairInRounds(
  pair: { name: string; description: string; ours: PreparedSide; peer: PreparedSide },
  how: { seconds: number; warmupSeconds: number },
  harness: RoundsHarness,
): Promise<PairFigures> {
  const sides: Record<Stack, PreparedSide> = { ours: pair.ours, peer: pair.peer };
  const secondsPerSlice = Math.max(MIN_SLICE_SECONDS, Math.round(how.seconds / ROUNDS));
  console.log(
    `\n▷ ${pair.name} (worker-only, ours vs peer, ${ROUNDS} rounds of ${secondsPerSlice} s per stack)`,
  );
  for (const stack of ["ours", "peer"] as const) {
    const side = sides[stack];
    if (how.warmupSeconds > 0)
      await harness.load(side.worker.url, side.scenario, side.requests, how.warmupSeconds);
  }
  await harness.quiet();
  const idle = {
    ours: await idleRate(pair.ours.worker, harness),
    peer: await idleRate(pair.peer.worker, harness),
  };
  const totals: Record<Stack, Totals> = {
    ours: { responses: 0, seconds: 0, cpuMicros: 0, errors: 0 },
    peer: { responses: 0, seconds: 0, cpuMicros: 0, errors: 0 },
  };
  const cpuRatioByRound: number[] = [];
  for (let roundIndex = 0; roundIndex < ROUNDS; roundIndex++) {
    const order: Stack[] = roundIndex % 2 === 0 ? ["ours", "peer"] : ["peer", "ours"];
    const perRequest: Partial<Record<Stack, number>> = {};
    for (const stack of order) {
      const measured = await slice(sides[stack], secondsPerSlice, idle[stack], harness);
      const total = totals[stack];
      total.responses += measured.responses;
      total.seconds += measured.seconds;
      total.cpuMicros += measured.cpuMicros;
      total.errors += measured.errors;
      perRequest[stack] = measured.responses > 0 ? measured.cpuMicros / measured.responses : Number.NaN;
    }
    cpuRatioByRound.push(round((perRequest.ours ?? Number.NaN) / (perRequest.peer ?? Number.NaN), 2));
  }
  const ours = figures(totals.ours);
  const peer = figures(totals.peer);
  const result: PairFigures = {
    name: pair.name,
    description: pair.description,
    rounds: ROUNDS,
    secondsPerSlice,
    ours,
    peer,
    rpsRatio: round(ours.rps / Math.max(peer.rps, Number.EPSILON), 2),
    cpuRatio: round(ours.cpuUsPerRequest / Math.max(peer.cpuUsPerRequest, 1), 2),
    cpuRatioByRound,
  };
  console.log(
    `  ours ${ours.rps} req/s, ${ours.cpuUsPerRequest} µs CPU/request; peer ${peer.rps} req/s, ${peer.cpuUsPerRequest} µs; CPU ×${result.cpuRatio} (rounds ${cpuRatioByRound.join(", ")}), errors ${ours.errors} / ${peer.errors}`,
  );
  return result;
}

/** The table of the pairs: both stacks' figures and the ratios. */
export function renderPairsTable(pairs: PairFigures[]): string {
  const lines = [
    "| pair (worker-only, in rounds) | ours req/s | peer req/s | req/s ours/peer | ours CPU µs/req | peer CPU µs/req | CPU ours/peer | CPU ratio by round | errors ours / peer |",
    "|---|--:|--:|--:|--:|--:|--:|---|--:|",
  ];
  for (const pair of pairs) {
    lines.push(
      `| ${pair.name} | ${pair.ours.rps} | ${pair.peer.rps} | ${pair.rpsRatio} | ${pair.ours.cpuUsPerRequest} | ${pair.peer.cpuUsPerRequest} | ${pair.cpuRatio} | ${pair.cpuRatioByRound.join(" / ")} | ${pair.ours.errors} / ${pair.peer.errors} |`,
    );
  }
  return lines.join("\n");
}

/** The two CPU budgets of issue 22 that compare the stacks, checked on the worker-only figures. */
export function workerOnlyPeerBudgets(
  pairs: PairFigures[],
): Array<{ budget: string; measured: string; verdict: "PASS" | "MISS" | "NOT MEASURED" }> {
  const check = (name: string, budget: string) => {
    const pair = pairs.find((each) => each.name === name);
    if (!pair || pair.ours.errors > 0 || pair.peer.errors > 0 || pair.peer.cpuUsPerRequest === 0)
      return { budget, measured: pair ? "errors in the run" : "not run", verdict: "NOT MEASURED" as const };
    const { ours, peer } = { ours: pair.ours.cpuUsPerRequest, peer: pair.peer.cpuUsPerRequest };
    const measured = `${(ours / 1000).toFixed(1)} vs ${(peer / 1000).toFixed(1)} ms (${budgetRatio(ours, peer)} ×)`;
    // The figures themselves, not the ratio the table rounds to two decimals: 1.003 is not ≤ 1.
    return { budget, measured, verdict: ours <= peer ? ("PASS" as const) : ("MISS" as const) };
  };
  return [
    check("whoami", "worker-only: /users/me CPU µs/req ≤ the peer's get-session"),
    check("signin-peer-params", "worker-only: sign-in CPU ≤ the peer's at the same scrypt parameters"),
  ];
}
