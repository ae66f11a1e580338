/**
 * `npm run bench:hot-path`: what the production bundle's own code costs per request, with no HTTP,
 * no proxy and no load generator in the measurement: the request is handed to the Worker's `fetch`
 * in the same isolate, thousands of times in a row, and the workerd's CPU over the loop is divided
 * by the requests.
 *
 * Why: the profile of `npm run bench:worker-only` puts the Worker's JavaScript of GET /users/me at
 * about 4 % of the workerd's CPU per request; the rest is the HTTP server, Miniflare's entry worker,
 * V8 and the kernel, and on this machine their share moves by 10 % or more from one minute to the
 * next. A change that saves a few percent of our JavaScript is lost in that. Here almost everything
 * measured is ours: the bundle's middleware, handlers and their memory, the Request, Response and
 * Headers objects they make, and the garbage collection all that causes.
 *
 * How: a driver module (written to .generated/hot-path/driver.js at each run) is the Worker's main
 * module; it imports the bundle, hands every request to the bundle's own default export, and
 * answers POST /__bench/hot-path by running a list of requests in a loop through the same `fetch`,
 * with the same `env` and execution context. The state is seeded over HTTP as in
 * `npm run bench:worker-only` (bench/scenarios.ts). Scenarios alternate round by round, so that the
 * machine's drift lands on all of them alike; the median round is reported.
 *
 *   npm run bench:hot-path                                  # baseline and whoami, 7 rounds of 5,000 requests
 *   npm run bench:hot-path -- --scenarios whoami,me_api_key --rounds 9 --requests 5000
 *   npm run bench:hot-path -- --profile       # then where each scenario's CPU goes, by kind of work
 *
 * Compare two commits by running it in a worktree of each, one after the other, more than once.
 * It prints only: a figure of this tool is not a figure of what Cloudflare bills (no HTTP parsing,
 * no network), it is the share of it our code decides.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { buildWorker } from "../scripts/build-check.ts";
import { applyLocalMigrations } from "../scripts/lib/local-worker.ts";
import { V8_PERF_FLAGS } from "./js-owners.ts";
import { comparisons } from "./peers/comparison.ts";
import { perfUnavailable, profileWhile } from "./profile.ts";
import { renderBundle, round } from "./report.ts";
import {
  type BenchRequest,
  createScenarioContext,
  prepareRequests,
  type Scenario,
  scenarios,
} from "./scenarios.ts";
import { cpuMicros, generatedDir, OUR_BUNDLE, withMiniflare } from "./worker-only-miniflare.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const LOOP_PATH = "/__bench/hot-path";

const { values: flags } = parseArgs({
  options: {
    scenarios: { type: "string", default: "baseline,whoami" },
    rounds: { type: "string", default: "7" },
    requests: { type: "string", default: "5000" },
    profile: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});

/** `npm run bench`'s scenarios and ours of the peer pairs (whoami, signin …), as bench:worker-only has them. */
const known: Scenario[] = [...scenarios, ...comparisons.map((comparison) => comparison.ours)];

/** Scenarios that can be sent again and again as they are: no body made per request, no vars of their own. */
function loopable(): Scenario[] {
  return known.filter((scenario) => {
    const defined = scenario.request;
    const requests = defined ? (Array.isArray(defined) ? defined : [defined]) : [];
    return !scenario.vars && requests.every((request) => !request.makeBody);
  });
}

if (flags.help) {
  console.log(`npm run bench:hot-path -- [--scenarios a,b] [--rounds N] [--requests N] [--profile]
  The production bundle's own CPU per request: requests handed to its fetch in a loop inside the
  isolate, the workerd's CPU over the loop divided by the requests (bench/hot-path.ts says why).
  --profile: then one more loop per scenario under Linux perf, its CPU split by kind of work.
  Scenarios that may loop (one that makes a body per request is refused when it runs): ${loopable()
    .map((scenario) => scenario.name)
    .join(", ")}.`);
  process.exit(0);
}

function wholeNumber(name: string, value: string | undefined, min: number, max: number): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max)
    throw new Error(`--${name} must be a whole number, ${min}..${max}`);
  return parsed;
}
const rounds = wholeNumber("rounds", flags.rounds, 1, 99);
const requestsPerRound = wholeNumber("requests", flags.requests, 100, 1_000_000);
const unavailable = flags.profile ? perfUnavailable() : undefined;
if (unavailable) console.warn(`bench:hot-path: no profile, Linux perf is unavailable: ${unavailable}`);
const profile = Boolean(flags.profile) && !unavailable;
const selected = (flags.scenarios ?? "").split(",").map((name) => {
  const scenario = known.find((each) => each.name === name);
  if (!scenario) throw new Error(`bench:hot-path: no scenario "${name}"`);
  if (scenario.vars) throw new Error(`bench:hot-path: ${name} needs a workerd of its own (vars)`);
  return scenario;
});

/**
 * The Worker's main module for this tool. Everything but the loop goes to the bundle unchanged,
 * and the bundle's other exports (the Durable Object classes wrangler.toml binds) are re-exported.
 */
const DRIVER = `import worker from "../build/index.js";
export * from "../build/index.js";

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname !== ${JSON.stringify(LOOP_PATH)}) return worker.fetch(request, env, ctx);
    const { requests, count } = await request.json();
    const client = request.headers.get("cf-connecting-ip");
    const statuses = {};
    for (let i = 0; i < count; i++) {
      const each = requests[i % requests.length];
      const headers = new Headers(each.headers);
      if (client && !headers.has("cf-connecting-ip")) headers.set("cf-connecting-ip", client);
      const init = { method: each.method ?? "GET", headers, body: each.body };
      const response = await worker.fetch(new Request(new URL(each.path, url), init), env, ctx);
      await response.arrayBuffer();
      statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    }
    return Response.json({ statuses });
  },
  queue: (batch, env, ctx) => worker.queue(batch, env, ctx),
  scheduled: (controller, env, ctx) => worker.scheduled(controller, env, ctx),
};
`;

type Loop = { statuses: Record<string, number> };

async function loop(url: string, requests: BenchRequest[], count: number): Promise<Loop> {
  const response = await fetch(`${url}${LOOP_PATH}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ requests, count }),
    signal: AbortSignal.timeout(600_000),
  });
  if (!response.ok) throw new Error(`the loop answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as Loop;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

async function main(): Promise<void> {
  console.log(
    `bench:hot-path: ${cpus()[0]?.model.trim() ?? "unknown"} × ${cpus().length}, load average ${round(loadavg()[0] ?? 0, 2)}; ${rounds} rounds of ${requestsPerRound} requests per scenario`,
  );
  const bundle = buildWorker(root);
  console.log(`bench:hot-path: ${renderBundle(bundle)}`);
  const driverPath = join(generatedDir, "hot-path", "driver.js");
  mkdirSync(dirname(driverPath), { recursive: true });
  writeFileSync(driverPath, DRIVER);

  const tempDir = mkdtempSync(join(tmpdir(), "edge-api-hot-path-"));
  try {
    const persistTo = join(tempDir, "state");
    applyLocalMigrations(root, persistTo);
    await withMiniflare(
      persistTo,
      // With V8's perf map only when profiling: it makes every compiled function a little dearer.
      profile ? V8_PERF_FLAGS : [],
      async (url, pids) => {
        const ctx = createScenarioContext({ url, persistTo, root });
        const plans = new Map<string, BenchRequest[]>();
        for (const scenario of selected) {
          const requests = await prepareRequests(url, ctx, scenario);
          if (requests.some((request) => request.makeBody))
            throw new Error(`bench:hot-path: ${scenario.name} makes a body per request; it cannot loop`);
          plans.set(scenario.name, requests);
          // Warm: compiled and optimised before the first measured round, as a busy isolate is.
          await loop(url, requests, requestsPerRound);
        }
        const perRequest = new Map<string, number[]>(selected.map((scenario) => [scenario.name, []]));
        for (let index = 0; index < rounds; index++) {
          for (const scenario of selected) {
            const requests = plans.get(scenario.name) as BenchRequest[];
            const before = cpuMicros(pids);
            const { statuses } = await loop(url, requests, requestsPerRound);
            const used = cpuMicros(pids) - before;
            const expected = statuses[String(scenario.expectedStatus)] ?? 0;
            if (expected !== requestsPerRound)
              throw new Error(
                `bench:hot-path: ${scenario.name} answered ${JSON.stringify(statuses)}, expected ${scenario.expectedStatus} every time`,
              );
            perRequest.get(scenario.name)?.push(used / requestsPerRound);
          }
        }
        console.log("\n| scenario | µs/request (median) | min … max | rounds |\n|---|--:|--:|--:|");
        for (const scenario of selected) {
          const figures = perRequest.get(scenario.name) ?? [];
          console.log(
            `| ${scenario.name} | ${round(median(figures), 1)} | ${round(Math.min(...figures), 1)} … ${round(Math.max(...figures), 1)} | ${figures.length} |`,
          );
        }
        if (profile) {
          for (const scenario of selected) {
            const requests = plans.get(scenario.name) as BenchRequest[];
            const pid = pids[0] as number;
            const dataFile = join(tempDir, `${scenario.name}.perf.data`);
            const summary = await profileWhile(pid, dataFile, async () => {
              await loop(url, requests, requestsPerRound);
              return requestsPerRound;
            });
            console.log(
              `\n◆ ${scenario.name} under perf: ${summary.workerdUsPerRequest} µs/request in the workerd (V8's perf map on: a little dearer than above)`,
            );
            for (const [category, us] of Object.entries(summary.categoriesUsPerRequest))
              if (us > 0) console.log(`  ${category}: ${us} µs`);
            console.log(
              `  heaviest symbols: ${summary.topSymbols
                .slice(0, 10)
                .map((entry) => `${entry.symbol} ${round(entry.percent, 1)} %`)
                .join("; ")}`,
            );
          }
        }
      },
      {},
      { ...OUR_BUNDLE, mainModule: driverPath },
    );
  } finally {
    rmSync(tempDir, { recursive: true, force: true });
  }
}

await main();
process.exit();
