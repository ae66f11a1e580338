/**
 * The fan-out scenarios of bench/notify-fanout.ts run against the production bundle in workerd
 * through Miniflare (bench/worker-only.ts), without `wrangler dev`'s proxy, which under
 * `npm run bench` relays every one of the frames a notification fans out to (about 50 ms per
 * notification to 1,000 sockets: bench/README.md "Fan-out"). In production the hub's sockets
 * are the clients' own connections, so this is where the fan-out's tail latency means the
 * most. Each scenario: a warm-up, then at least its minDurationSeconds (30 s) of notifications
 * one at a time; a sample is the time until the LAST socket has the frame.
 */
import { loadavg } from "node:os";
import { nearestRank } from "./notify-fanout.ts";
import { round } from "./report.ts";
import type { Scenario, ScenarioContext } from "./scenarios.ts";

export type FanoutResult = {
  name: string;
  description: string;
  sockets?: number;
  /** What the clients' sockets agreed with the server ("none": no permessage-deflate). */
  negotiatedExtensions?: string[];
  samples?: number;
  p50Ms?: number;
  p99Ms?: number;
  maxMs?: number;
  errors?: number;
  /** The workerd's CPU (Worker + simulators) per notification, idle rate removed. */
  workerdCpuMsPerNotification?: number;
  /** This process's CPU per notification: the WebSocket clients parsing their frames. */
  loadGeneratorCpuMsPerNotification?: number;
  budgetMs?: number;
  loadAverageAtStart: number;
  error?: string;
};

export async function measureFanout(
  ctx: ScenarioContext,
  scenario: Scenario,
  how: {
    warmupSeconds: number;
    durationSeconds: number;
    workerdCpuMicros: () => number;
    idleMicrosPerSecond: number;
  },
): Promise<FanoutResult> {
  const result: FanoutResult = {
    name: scenario.name,
    description: scenario.description,
    loadAverageAtStart: round(loadavg()[0] ?? 0, 2),
    budgetMs: scenario.budgets?.find((budget) => budget.kind === "p99")?.maxMs,
  };
  console.log(`\n▶ ${scenario.name} (worker-only): ${scenario.description}`);
  if (!scenario.measure) {
    result.error = "not a fan-out scenario";
    return result;
  }
  try {
    await scenario.measure(ctx, { durationSeconds: Math.max(2, how.warmupSeconds), phase: "warmup" });
    const seconds = Math.max(how.durationSeconds, scenario.minDurationSeconds ?? 0);
    const workerdBefore = how.workerdCpuMicros();
    const ownBefore = process.cpuUsage();
    const started = performance.now();
    const measured = await scenario.measure(ctx, { durationSeconds: seconds, phase: "measure" });
    const wallSeconds = (performance.now() - started) / 1000;
    const workerdMicros = how.workerdCpuMicros() - workerdBefore - how.idleMicrosPerSecond * wallSeconds;
    const own = process.cpuUsage(ownBefore);
    const samples = measured.latenciesMs.length;
    const details = measured.details as { sockets?: number; negotiatedExtensions?: string[] } | undefined;
    result.sockets = Number(details?.sockets) || undefined;
    result.negotiatedExtensions = details?.negotiatedExtensions;
    result.samples = samples;
    result.errors = measured.errors;
    if (samples > 0) {
      result.p50Ms = nearestRank(measured.latenciesMs, 0.5);
      result.p99Ms = nearestRank(measured.latenciesMs, 0.99);
      result.maxMs = round(Math.max(...measured.latenciesMs), 1);
      result.workerdCpuMsPerNotification = round(Math.max(0, workerdMicros) / samples / 1000, 2);
      result.loadGeneratorCpuMsPerNotification = round((own.user + own.system) / samples / 1000, 2);
    }
    console.log(
      `  ${samples} notifications in ${round(wallSeconds, 1)} s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, workerd ${result.workerdCpuMsPerNotification} ms CPU per notification, ${measured.errors} errors, extensions: ${result.negotiatedExtensions?.join(", ")}`,
    );
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
    console.log(`  failed: ${result.error}`);
  }
  return result;
}

export function renderFanoutTable(rows: FanoutResult[]): string {
  const lines = [
    "| scenario (worker-only) | sockets | notifications | p50 ms | p99 ms | max ms | errors | workerd CPU ms / notification | load generator CPU ms / notification | budget p99 | verdict |",
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
  ];
  for (const row of rows) {
    const verdict =
      row.error || row.p99Ms === undefined || row.budgetMs === undefined
        ? "NOT MEASURED"
        : row.p99Ms < row.budgetMs
          ? "PASS"
          : "MISS";
    lines.push(
      `| ${row.name} | ${row.sockets ?? "—"} | ${row.samples ?? "—"} | ${row.p50Ms ?? "—"} | ${row.p99Ms ?? "—"} | ${row.maxMs ?? "—"} | ${row.errors ?? "—"} | ${row.workerdCpuMsPerNotification ?? "—"} | ${row.loadGeneratorCpuMsPerNotification ?? "—"} | < ${row.budgetMs ?? "—"} ms | ${row.error ? `NOT MEASURED: ${row.error.slice(0, 120)}` : verdict} |`,
    );
  }
  return lines.join("\n");
}
