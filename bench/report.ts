/**
 * The benchmark's figures as data (ScenarioResult), the budgets checked against the
 * baseline of the same run, and the tables printed and written to bench/README.md.
 */
import type { BuildReport } from "../scripts/build-check.ts";
import { PROFILE_CATEGORIES, type ProfileSummary } from "./profile.ts";
import { BASELINE, type Budget, type Scenario } from "./scenarios.ts";

export type ProcessRole = "wrangler_node" | "workerd_proxy" | "workerd_worker" | "other";

export interface CpuFigures {
  /** utime+stime of the worker's process tree, µs per response: the figure to compare with Cloudflare's CPU time. */
  workerUsPerRequest: number;
  /** The same plus this process (autocannon), µs per response. */
  withLoadGeneratorUsPerRequest: number;
  loadGeneratorUsPerRequest: number;
  byProcessUsPerRequest: Record<ProcessRole, number>;
  /** Share of the machine's cores the worker tree used during the run. */
  workerCoresBusy: number;
  /**
   * Cores this process (the load generator: autocannon, or a scenario's own clients such as the
   * fan-out's WebSockets) kept busy while it drove the load. Near 1.0 it is the bottleneck: Node
   * runs its clients on one thread.
   */
  loadGeneratorCoresBusy: number;
}

export interface ScenarioResult {
  name: string;
  description: string;
  expectedStatus: number;
  requests: string[];
  /** Set when the scenario could not be measured (setup or probe failed). */
  error?: string;
  /** Connections used (the run's, or fewer when the scenario caps them). */
  connections?: number;
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
  cpu?: CpuFigures;
  loadAverageBefore?: number;
  /** Figures particular to a measured scenario (e.g. fan-out per socket). */
  details?: Record<string, unknown>;
  /** Vars of a worker started for this scenario alone (Scenario.vars). */
  ownWorker?: { vars: Record<string, string> };
  /** The baseline measured again right before this scenario (the default); ratios are to it. `rps` unrounded. */
  pairedBaseline?: { rps: number; cpuUsPerRequest: number; workerdWorkerUsPerRequest: number };
  vsBaseline?: { rps: number; cpu: number; cpuExtraUs: number; workerdWorkerExtraUs: number };
  budgets?: BudgetCheck[];
  /** With --profile: the worker workerd's CPU by kind of work, from perf in a phase of its own (bench/profile.ts). */
  profile?: ProfileSummary;
}

export interface BudgetCheck {
  /** The budget as issue 11 states it. */
  budget: string;
  /** What this run measured, in the budget's terms. */
  measured: string;
  verdict: "PASS" | "MISS" | "REPORTED" | "NOT MEASURED";
}

/** Ratios to the scenario's paired baseline, or to the run's first baseline without one. */
/**
 * Responses over seconds, unrounded: `rps` is rounded for the tables, which at 5 sign-ins a second
 * moves a ratio by 10 %. Budgets and ratios use this; `rps` is for display.
 */
export const exactRps = (result: ScenarioResult): number =>
  (result.responses ?? 0) / Math.max(result.durationSeconds ?? 0, Number.EPSILON);

export function addRatios(results: ScenarioResult[]): void {
  const first = results.find((result) => result.name === BASELINE);
  const firstFigures =
    first?.rps && first.cpu
      ? {
          rps: exactRps(first),
          cpuUsPerRequest: first.cpu.workerUsPerRequest,
          workerdWorkerUsPerRequest: first.cpu.byProcessUsPerRequest.workerd_worker,
        }
      : undefined;
  for (const result of results) {
    const base = result.pairedBaseline ?? firstFigures;
    if (!result.rps || !result.cpu || !base) continue;
    // Unrounded: the tables print two decimals, the budgets compare the ratio itself.
    result.vsBaseline = {
      rps: exactRps(result) / base.rps,
      cpu: result.cpu.workerUsPerRequest / base.cpuUsPerRequest,
      cpuExtraUs: result.cpu.workerUsPerRequest - base.cpuUsPerRequest,
      workerdWorkerExtraUs: result.cpu.byProcessUsPerRequest.workerd_worker - base.workerdWorkerUsPerRequest,
    };
  }
}

function checkBudget(budget: Budget, result: ScenarioResult): BudgetCheck {
  const label = budgetLabel(budget);
  const measuredOk =
    !result.error && result.cpu && result.latencyMs && (budget.kind === "p99" || result.vsBaseline);
  if (!measuredOk)
    return { budget: label, measured: result.error ? "skipped" : "—", verdict: "NOT MEASURED" };
  const vs = result.vsBaseline;
  const cpu = result.cpu as CpuFigures;
  switch (budget.kind) {
    case "rps": {
      const ratio = vs?.rps ?? 0;
      return {
        budget: label,
        measured: `${budgetFigure(ratio, budget.min)} ×`,
        verdict: ratio >= budget.min ? "PASS" : "MISS",
      };
    }
    case "cpu_extra": {
      const extra = vs?.cpuExtraUs ?? 0;
      return {
        budget: label,
        measured: `${signed(extra)} µs`,
        verdict: extra <= budget.maxUs ? "PASS" : "MISS",
      };
    }
    case "p99": {
      // No sample, no percentile: a run where nothing arrived must not read as a fast one.
      if (!result.responses) return { budget: label, measured: "no samples", verdict: "NOT MEASURED" };
      const p99 = result.latencyMs?.p99 ?? Number.POSITIVE_INFINITY;
      return { budget: label, measured: `${p99} ms`, verdict: p99 < budget.maxMs ? "PASS" : "MISS" };
    }
    case "report_cpu_ms":
      return {
        budget: label,
        measured: `${(cpu.workerUsPerRequest / 1000).toFixed(1)} ms (workerd worker ${(cpu.byProcessUsPerRequest.workerd_worker / 1000).toFixed(1)} ms)`,
        verdict: "REPORTED",
      };
  }
}

function budgetLabel(budget: Budget): string {
  switch (budget.kind) {
    case "rps":
      return `req/s ≥ ${budget.min.toFixed(2)} × baseline`;
    case "cpu_extra":
      return `CPU ≤ baseline + ${budget.maxUs} µs`;
    case "p99":
      return `p99 < ${budget.maxMs} ms`;
    case "report_cpu_ms":
      return "CPU ms per request (reported, no limit)";
  }
}

export function checkBudgets(results: ScenarioResult[], scenarios: Scenario[]): void {
  for (const result of results) {
    const budgets = scenarios.find((scenario) => scenario.name === result.name)?.budgets ?? [];
    if (budgets.length > 0) result.budgets = budgets.map((budget) => checkBudget(budget, result));
  }
}

/** PASS when every budget passed, MISS when any missed, "" without budgets. */
function budgetSummary(result: ScenarioResult): string {
  const checks = result.budgets ?? [];
  if (checks.length === 0) return "";
  if (checks.some((check) => check.verdict === "MISS")) return "MISS";
  if (checks.some((check) => check.verdict === "NOT MEASURED")) return "NOT MEASURED";
  if (checks.every((check) => check.verdict === "REPORTED")) return "reported";
  return "PASS";
}

// ---------------------------------------------------------------------------- tables

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

export function renderTable(results: ScenarioResult[]): string {
  const header = [
    "scenario",
    "expect",
    "conns",
    "req/s",
    "× base",
    "p50 ms",
    "p99 ms",
    "errors",
    "CPU µs/req",
    "× base",
    "+µs vs base",
    "CPU µs/req incl. load gen",
    "base req/s · µs",
    "budgets",
  ];
  const rows = results.map((result) => {
    if (result.error || !result.cpu || !result.latencyMs) {
      const blanks = Array.from({ length: header.length - 5 }, () => "");
      return [result.name, String(result.expectedStatus), "", "skipped", ...blanks, budgetSummary(result)];
    }
    const base = result.pairedBaseline;
    return [
      result.name,
      String(result.expectedStatus),
      result.connections === undefined ? "—" : String(result.connections),
      String(result.rps),
      result.vsBaseline ? result.vsBaseline.rps.toFixed(2) : "",
      String(result.latencyMs.p50),
      String(result.latencyMs.p99),
      String(result.errors),
      String(result.cpu.workerUsPerRequest),
      result.vsBaseline ? result.vsBaseline.cpu.toFixed(2) : "",
      result.vsBaseline ? signed(result.vsBaseline.cpuExtraUs) : "",
      String(result.cpu.withLoadGeneratorUsPerRequest),
      base ? `${round(base.rps, 0)} · ${base.cpuUsPerRequest}` : result.name === BASELINE ? "" : "first",
      budgetSummary(result),
    ];
  });
  return markdownTable(header, rows, (column) => column >= 1 && column < header.length - 1);
}

export function renderBudgets(results: ScenarioResult[]): string {
  const rows = results.flatMap((result) =>
    (result.budgets ?? []).map((check) => [result.name, check.budget, check.measured, check.verdict]),
  );
  return markdownTable(
    ["scenario", "budget (issue 11)", "measured", "verdict"],
    rows,
    (column) => column === 2,
  );
}

export function renderCpuSplit(results: ScenarioResult[]): string {
  const header = [
    "scenario",
    "wrangler (node)",
    "workerd dev proxy",
    "workerd worker",
    "other",
    "worker tree",
    "workerd worker +µs vs base",
    "load gen",
  ];
  const rows = results
    .filter((result) => result.cpu)
    .map((result) => {
      const cpu = result.cpu as CpuFigures;
      const split = cpu.byProcessUsPerRequest;
      return [
        result.name,
        String(split.wrangler_node),
        String(split.workerd_proxy),
        String(split.workerd_worker),
        String(split.other),
        String(cpu.workerUsPerRequest),
        result.vsBaseline ? signed(result.vsBaseline.workerdWorkerExtraUs) : "",
        String(cpu.loadGeneratorUsPerRequest),
      ];
    });
  return markdownTable(header, rows, (column) => column >= 1);
}

/** With --profile: µs per request of the worker workerd by kind of work, one row per scenario. */
export function renderProfiles(results: ScenarioResult[]): string | undefined {
  const profiled = results.filter((result) => result.profile);
  if (profiled.length === 0) return undefined;
  const header = ["scenario", "worker workerd µs/req", ...PROFILE_CATEGORIES];
  const rows = profiled.map((result) => {
    const profile = result.profile as ProfileSummary;
    return [
      result.name,
      String(profile.workerdUsPerRequest),
      ...PROFILE_CATEGORIES.map((category) => String(profile.categoriesUsPerRequest[category])),
    ];
  });
  return markdownTable(header, rows, (column) => column >= 1);
}

/** Scenarios measured on a worker of their own, with the vars it was started with. */
export function renderOwnWorkers(results: ScenarioResult[]): string | undefined {
  const own = results.filter((result) => result.ownWorker);
  if (own.length === 0) return undefined;
  return own
    .map((result) => {
      const vars = Object.entries(result.ownWorker?.vars ?? {})
        .map(([key, value]) => `${key}=${value}`)
        .join(" ");
      return `- \`${result.name}\` ran on a worker of its own, started with \`${vars}\`, and is compared with the baseline measured on that worker.`;
    })
    .join("\n");
}

export function renderBundle(bundle: BuildReport | undefined): string {
  if (!bundle) return "Bundle: not measured (--skip-build-check).";
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
  return `Bundle (\`npm run build:check\`, production build${bundle.minified ? ", minified" : ""}): ${kib(bundle.gzipBytes)} gzip (${kib(bundle.rawBytes)} raw) against the ${kib(bundle.budgetBytes)} budget: **${bundle.withinBudget ? "PASS" : "MISS"}**. Heaviest: ${bundle.heaviest
    .slice(0, 4)
    .map(({ source, bytes }) => `${source} ${kib(bytes)}`)
    .join(", ")}.`;
}

export function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/**
 * A ratio on a budget line, checked against `limit`: two decimals, or as many more as it takes
 * not to print the limit itself for a value that is not it, so a line never shows "1.00 ×" beside a
 * MISS (or a PASS it did not earn). Verdicts compare the numbers, never this text.
 */
export function budgetFigure(value: number, limit: number): string {
  for (let digits = 2; digits <= 6; digits++) {
    const text = value.toFixed(digits);
    if (value === limit || Number(text) !== limit) return text;
  }
  return String(value);
}

/** `ours ÷ theirs` on a budget line whose limit is 1 (budgetFigure). */
export const budgetRatio = (ours: number, theirs: number): string => budgetFigure(ours / theirs, 1);

export function signed(value: number): string {
  return value > 0 ? `+${value}` : String(value);
}
