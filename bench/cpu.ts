/**
 * CPU accounting for the benchmark: utime+stime of the worker's whole process tree (wrangler's
 * Node, the dev-proxy workerd, the worker's workerd, esbuild) from /proc, split by process, and
 * waiting for the worker to go idle so background work (queue consumers, waitUntil) is charged
 * to the scenario that caused it.
 */
import type { LocalWorker } from "../scripts/lib/local-worker.ts";
import { sleep } from "../scripts/lib/local-worker.ts";
import { clockTicksPerSecond, cpuTicks, readCmdline } from "../scripts/lib/proc.ts";
import { type CpuFigures, type ProcessRole, round } from "./report.ts";

const IDLE_WINDOW_MS = 500;
export const SETTLE_MAX_MS = 15_000;
const DRAIN_MAX_MS = 15_000;

export interface CpuUsage {
  workerMicros: number;
  ownMicros: number;
  byProcess: Record<ProcessRole, number>;
  wallSeconds: number;
  /** Wall time of `work` alone (before the drain): while this process drove the load. */
  workSeconds: number;
  drainMs: number;
}

/**
 * Runs `work` and charges it the CPU of the worker's process tree, including the background
 * work it caused: CPU is read once the worker is idle again.
 */
export async function withCpuUsage<T>(
  worker: LocalWorker,
  work: () => Promise<T>,
): Promise<{ value: T; usage: CpuUsage }> {
  const port = new URL(worker.url).port;
  const pidsBefore = worker.processTreePids();
  const ticksBefore = cpuTicks(pidsBefore);
  const ownBefore = process.cpuUsage();
  const wallStarted = performance.now();
  const value = await work();
  const own = process.cpuUsage(ownBefore);
  const workSeconds = (performance.now() - wallStarted) / 1000;
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
  return {
    value,
    usage: { workerMicros, ownMicros: own.user + own.system, byProcess, wallSeconds, workSeconds, drainMs },
  };
}

export function cpuPerRequest(usage: CpuUsage, responses: number): CpuFigures {
  const perRequest = (micros: number) => (responses > 0 ? round(micros / responses, 0) : 0);
  return {
    workerUsPerRequest: perRequest(usage.workerMicros),
    withLoadGeneratorUsPerRequest: perRequest(usage.workerMicros + usage.ownMicros),
    loadGeneratorUsPerRequest: perRequest(usage.ownMicros),
    byProcessUsPerRequest: {
      wrangler_node: perRequest(usage.byProcess.wrangler_node),
      workerd_proxy: perRequest(usage.byProcess.workerd_proxy),
      workerd_worker: perRequest(usage.byProcess.workerd_worker),
      other: perRequest(usage.byProcess.other),
    },
    workerCoresBusy: round(usage.workerMicros / 1_000_000 / usage.wallSeconds, 2),
    loadGeneratorCoresBusy: round(usage.ownMicros / 1_000_000 / usage.workSeconds, 2),
  };
}

/**
 * Waits until the worker's process tree is idle: at most 3 % of a core used over one
 * IDLE_WINDOW_MS window. Bounded by maxMs; returns how long it waited.
 */
export async function settle(worker: LocalWorker, maxMs: number = SETTLE_MAX_MS): Promise<number> {
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

/** The workerd that runs the Worker (and the local binding simulators), not the dev proxy. */
export function workerdWorkerPid(worker: LocalWorker): number | undefined {
  const port = new URL(worker.url).port;
  return worker.processTreePids().find((pid) => processRole(pid, port) === "workerd_worker");
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
