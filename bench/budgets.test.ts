/**
 * The benchmark's verdicts: what makes a budget PASS or MISS, from figures made up here (no
 * worker runs, nothing is timed). A tie the tables round to 1.00 must not pass a budget that
 * says "≤ the peer's", and a budget line must not print "1.00 ×" beside a MISS.
 */
import { describe, expect, it } from "vitest";
import { type Pair, peerBudgets } from "./peers/comparison.ts";
import { type PairFigures, workerOnlyPeerBudgets } from "./peers/worker-only-rounds.ts";
import { addRatios, budgetFigure, checkBudgets, type ScenarioResult } from "./report.ts";
import type { Scenario } from "./scenarios.ts";

const cpu = (workerUsPerRequest: number): NonNullable<ScenarioResult["cpu"]> => ({
  workerUsPerRequest,
  withLoadGeneratorUsPerRequest: workerUsPerRequest,
  loadGeneratorUsPerRequest: 0,
  byProcessUsPerRequest: { wrangler_node: 0, workerd_proxy: 0, workerd_worker: workerUsPerRequest, other: 0 },
  workerCoresBusy: 1,
  loadGeneratorCoresBusy: 0,
});

/** A measured scenario: `rps` requests a second over 10 s at `cpuUs` µs of CPU each. */
const result = (name: string, rps: number, cpuUs: number, extra: Partial<ScenarioResult> = {}) =>
  ({
    name,
    description: name,
    expectedStatus: 200,
    requests: [],
    durationSeconds: 10,
    responses: rps * 10,
    rps,
    latencyMs: { p50: 1, p99: 2, average: 1, max: 3 },
    cpu: cpu(cpuUs),
    ...extra,
  }) satisfies ScenarioResult;

describe("budgetFigure", () => {
  it("prints two decimals, and more where two would print the limit for a value that is not it", () => {
    expect(budgetFigure(1.0617, 1)).toBe("1.06");
    expect(budgetFigure(1.0017, 1)).toBe("1.002");
    expect(budgetFigure(0.99951, 1)).toBe("0.9995");
    expect(budgetFigure(1, 1)).toBe("1.00");
    expect(budgetFigure(0.69996, 0.7)).toBe("0.69996");
    expect(budgetFigure(1.4, 1.4)).toBe("1.40");
  });
});

describe("worker-only budgets against the peer", () => {
  const pair = (name: string, ours: number, peer: number, errors = 0): PairFigures => ({
    name,
    description: name,
    rounds: 3,
    secondsPerSlice: 10,
    ours: { responses: 100, seconds: 10, rps: 10, cpuUsPerRequest: ours, errors },
    peer: { responses: 100, seconds: 10, rps: 10, cpuUsPerRequest: peer, errors: 0 },
    rpsRatio: 1,
    cpuRatio: Math.round((ours / peer) * 100) / 100,
    cpuRatioByRound: [1, 1, 1],
  });
  const signIn = (pairs: PairFigures[]) =>
    workerOnlyPeerBudgets(pairs).find((check) => check.budget.includes("sign-in")) ?? {};

  it("a sign-in 0.2 % dearer than the peer's misses, though its ratio rounds to 1.00", () => {
    expect(signIn([pair("signin-peer-params", 112_163, 111_971)])).toEqual({
      budget: "worker-only: sign-in CPU ≤ the peer's at the same scrypt parameters",
      measured: "112.2 vs 112.0 ms (1.002 ×)",
      verdict: "MISS",
    });
  });

  it("passes at equal or lower CPU", () => {
    expect(signIn([pair("signin-peer-params", 75_400, 75_400)])).toMatchObject({ verdict: "PASS" });
    expect(signIn([pair("signin-peer-params", 75_000, 75_400)])).toMatchObject({
      measured: "75.0 vs 75.4 ms (0.99 ×)",
      verdict: "PASS",
    });
  });

  it("is not measured when a side answered errors, or did not run", () => {
    expect(signIn([pair("signin-peer-params", 1, 2, 3)])).toMatchObject({ verdict: "NOT MEASURED" });
    expect(signIn([])).toMatchObject({ measured: "not run", verdict: "NOT MEASURED" });
  });
});

describe("--peers budgets", () => {
  const budgetsOf = (pairs: Pair[]) => Object.fromEntries(peerBudgets(pairs).map((c) => [c.budget, c]));

  it("compare the figures themselves: a tie rounded to 1.00 misses", () => {
    const checks = budgetsOf([
      {
        name: "whoami",
        // 0.9996 × the peer's requests/s, at 0.999 × its CPU.
        ours: result("whoami", 249.9, 9_990, {
          pairedBaseline: { rps: 357.1, cpuUsPerRequest: 7_136, workerdWorkerUsPerRequest: 0 },
        }),
        peer: result("get-session", 250, 10_000),
      },
      {
        name: "signin-peer-params",
        ours: result("signin-peer-params", 8, 122_400),
        peer: result("signin", 8, 122_196),
      },
    ]);
    expect(checks["/users/me req/s ≥ 1.00 × the peer's get-session"]).toMatchObject({
      measured: "0.9996 ×",
      verdict: "MISS",
    });
    expect(checks["/users/me CPU µs/req ≤ the peer's get-session"]).toMatchObject({
      measured: "9990 vs 10000 µs (0.999 ×)",
      verdict: "PASS",
    });
    // 249.9 ÷ 357.1 = 0.6998: under 0.70, though it rounds to it.
    expect(checks["/users/me (40 users) req/s ≥ 0.70 × /health/live (wrangler dev)"]).toMatchObject({
      measured: "0.6998 ×",
      verdict: "MISS",
    });
    expect(checks["/users/me (40 users) CPU ≤ 1.40 × /health/live (wrangler dev)"]).toMatchObject({
      measured: "1.3999 ×",
      verdict: "PASS",
    });
    const signIn = Object.values(checks).find((check) => check.budget.startsWith("sign-in CPU ≤"));
    expect(signIn).toMatchObject({ measured: "122.4 vs 122.2 ms (1.002 ×)", verdict: "MISS" });
  });

  it("are not measured when a side failed", () => {
    const checks = peerBudgets([
      { name: "whoami", ours: result("whoami", 100, 1_000, { error: "probe failed" }) },
    ]);
    expect(checks.every((check) => check.verdict === "NOT MEASURED")).toBe(true);
  });
});

describe("issue 11's budgets against /health/live", () => {
  const scenario = (name: string, budgets: Scenario["budgets"]) => ({ name, budgets }) as Scenario;

  it("compare the unrounded ratio of the unrounded rates with the minimum", () => {
    const results = [
      result("baseline", 300, 5_000),
      // The table's rps is rounded to 210; 2,099 responses in 10 s is 209.9 a second.
      result("me_jwt", 210, 6_000, {
        responses: 2_099,
        pairedBaseline: { rps: 300, cpuUsPerRequest: 5_000, workerdWorkerUsPerRequest: 2_000 },
      }),
      result("health", 210, 6_000, {
        pairedBaseline: { rps: 300, cpuUsPerRequest: 5_000, workerdWorkerUsPerRequest: 2_000 },
      }),
    ];
    addRatios(results);
    checkBudgets(results, [
      scenario("me_jwt", [{ kind: "rps", min: 0.7 }]),
      scenario("health", [{ kind: "rps", min: 0.7 }]),
    ]);
    // 209.9 ÷ 300 = 0.6997: MISS, and printed so.
    expect(results[1]?.budgets?.[0]).toMatchObject({ measured: "0.6997 ×", verdict: "MISS" });
    expect(results[2]?.budgets?.[0]).toMatchObject({ measured: "0.70 ×", verdict: "PASS" });
  });
});
