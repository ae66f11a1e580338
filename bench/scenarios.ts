/**
 * The benchmark's scenarios, in the order they run (baseline first: every other one is
 * reported as a ratio to it). Each drives one kind of request at fixed concurrency and
 * declares the status it expects; any other status counts as an error.
 *
 * A scenario that needs data seeds it in `setup` through the public API (ctx.api), so it
 * exercises the same paths a client would, and shares anything reusable through
 * ctx.once() (bench/seed.ts: one user, its token and API keys, the catalog):
 *
 *   const user = await benchUser(ctx);
 *   return { path: "/api/v1/users/me", headers: bearer(user.accessToken) };
 *
 * `budgets` are the performance budgets of issue 11, checked against the baseline of the
 * same run and printed PASS / MISS (bench/README.md explains each one).
 */

import { runWrangler } from "../scripts/lib/wrangler.ts";
import { notifyFanoutScenarios } from "./notify-fanout.ts";
import { bearer, benchApiKey, benchUser, registerUser, seedCatalog } from "./seed.ts";

export interface BenchRequest {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  headers?: Record<string, string>;
  /** Sent as is; set content-type in headers. */
  body?: string;
  /**
   * A new body for every request (the probe's and each one autocannon sends), for requests that
   * must differ each time, e.g. a sign-up with a fresh address. Takes the place of `body`.
   */
  makeBody?: () => string;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON when the response is JSON, else the text. */
  body: unknown;
}

export interface ScenarioContext {
  /** http://127.0.0.1:<port> of the worker under test. */
  url: string;
  /** The worker's local persistence directory (for `wrangler d1 execute --persist-to`, if bulk seeding needs it). */
  persistTo: string;
  /**
   * One request through the public API; throws unless the status is `expect` (when given).
   * A JSON body is serialised and sent with content-type application/json.
   */
  api(
    method: string,
    path: string,
    body?: unknown,
    expect?: number,
    headers?: Record<string, string>,
  ): Promise<ApiResponse>;
  /** Runs `create` once per worker and returns the same value to every scenario that asks for `key`. */
  once<T>(key: string, create: () => Promise<T>): Promise<T>;
  /**
   * One SQL statement on the worker's local D1 (`wrangler d1 execute --local --persist-to`), for
   * the few things no public route may do (granting staff); returns the rows.
   */
  d1(sql: string): Array<Record<string, unknown>>;
}

/**
 * A budget of issue 11, relative to the baseline of the same run:
 * - `rps`: requests/s at least `min` × the baseline's;
 * - `cpu_extra`: CPU µs per request (worker process tree) at most `maxUs` above the baseline's;
 * - `p99`: p99 latency under `maxMs`;
 * - `report_cpu_ms`: no limit, the CPU milliseconds per request are reported (login).
 */
export type Budget =
  | { kind: "rps"; min: number }
  | { kind: "cpu_extra"; maxUs: number }
  | { kind: "p99"; maxMs: number }
  | { kind: "report_cpu_ms" };

/** What a `measure` scenario reports: one latency per sample (e.g. per notification delivered). */
export interface Measurement {
  latenciesMs: number[];
  errors: number;
  /** What was driven, for the results file, e.g. "POST /api/v1/notifications/test". */
  requests: string[];
  /** Wall time of the measured part; the whole call when omitted. */
  elapsedMs?: number;
  /** Figures particular to the scenario, recorded in the results file. */
  details?: Record<string, unknown>;
}

export interface Scenario {
  /** Short identifier used by --scenarios and in the results. */
  name: string;
  /** What the scenario measures, as printed in the results. */
  description: string;
  /** The status every response must have; anything else is an error. */
  expectedStatus: number;
  /**
   * Seeds what the scenario needs (through ctx.api) and returns the request(s) to drive;
   * several are cycled through by each connection. Runs before the warm-up, outside
   * the measurement.
   */
  setup?: (ctx: ScenarioContext) => Promise<BenchRequest | BenchRequest[]>;
  /** The request(s) when no setup is needed. */
  request?: BenchRequest | BenchRequest[];
  /**
   * For what autocannon cannot drive (WebSockets): the scenario runs the load itself for
   * `durationSeconds` and reports its samples. Called once for the warm-up and once for the
   * measured run (`phase`); CPU is accounted the same way as for request scenarios.
   */
  measure?: (
    ctx: ScenarioContext,
    run: { durationSeconds: number; phase: "warmup" | "measure" },
  ) => Promise<Measurement>;
  /** Checked after the run; see Budget. */
  budgets?: Budget[];
  /** The measured run lasts at least this many seconds, whatever --duration says (fan-out: a p99 needs samples). */
  minDurationSeconds?: number;
  /** At most this many connections (the run's --connections otherwise), for requests that take long by design. */
  maxConnections?: number;
  /**
   * wrangler.toml vars this scenario needs on top of the run's. The scenario then gets a worker
   * of its own, started for it with these vars and stopped after it, and is compared with a
   * baseline measured on that worker.
   */
  vars?: Record<string, string>;
}

/** Where a scenario's worker answers and keeps its local state. */
export interface ScenarioWorker {
  /** http://127.0.0.1:<port>, no trailing slash. */
  url: string;
  persistTo: string;
  /** The tree whose wrangler (node_modules/.bin) and wrangler.toml serve ctx.d1: ours, its snapshot, or the peer's. */
  root: string;
}

/** The ScenarioContext of one worker, for every harness (run.ts, peers/rounds.ts, worker-only.ts). */
export function createScenarioContext(worker: ScenarioWorker): ScenarioContext {
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
    d1(sql) {
      const out = runWrangler(
        worker.root,
        ["d1", "execute", "DB", "--local", "--persist-to", worker.persistTo, "--json", "--command", sql],
        { quiet: true },
      );
      const statements = JSON.parse(out) as Array<{ results?: Array<Record<string, unknown>> }>;
      return statements.flatMap((statement) => statement.results ?? []);
    },
  };
}

/**
 * The scenario's requests (its setup seeds through the public API, once), each probed once: a
 * request that does not answer the expected status stops the scenario before any load, with
 * what it answered.
 */
export async function prepareRequests(
  url: string,
  ctx: ScenarioContext,
  scenario: Scenario,
): Promise<BenchRequest[]> {
  const defined = scenario.setup ? await scenario.setup(ctx) : scenario.request;
  if (!defined) throw new Error(`${scenario.name}: the scenario defines neither setup nor request`);
  const requests = Array.isArray(defined) ? defined : [defined];
  for (const request of requests) {
    const method = request.method ?? "GET";
    const response = await fetch(`${url}${request.path}`, {
      method,
      headers: request.headers,
      body: request.makeBody?.() ?? request.body,
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    if (response.status !== scenario.expectedStatus)
      throw new Error(
        `${scenario.name}: probe ${method} ${request.path} answered ${response.status}, expected ${scenario.expectedStatus}: ${text.slice(0, 300)}`,
      );
  }
  return requests;
}

export const BASELINE = "baseline";

/** The global per-principal policies and `login`, lifted so far that no scenario reaches them. */
const LIFTED_POLICIES = {
  anonymous: "1000000/60",
  user: "1000000/60",
  api_key: "1000000/60",
  login: "1000000/60",
  register: "1000000/60",
};

/**
 * wrangler.toml vars every benchmark run overrides (`--var` on the command line wins).
 *
 * Rate limits are lifted so that each scenario measures its own work rather than the 429 path:
 * the global policies (`anonymous`, `user`, `api_key`: every request in the benchmark comes
 * from 127.0.0.1, and one user or key sends thousands of requests a minute), `login` (the
 * login scenario signs one account in many times a second) and `register` (the sign-up
 * scenario of `--peers` registers many accounts a second from that one address). The counters are still read and
 * written on every request, exactly as in production; only the numbers they are compared with
 * are higher. The 429 storm scenarios put a limit back for themselves: `rate_limited` on a
 * worker of its own with a strict `anonymous` policy, `rate_limited_api_key` with a key whose
 * own limit is 1 per hour.
 */
export const WORKER_VARS: Record<string, string> = {
  RATE_LIMIT_POLICIES: JSON.stringify(LIFTED_POLICIES),
};

/** The probe must see the limit already spent: sends `request` until it answers 429. */
async function exhaust(ctx: ScenarioContext, request: BenchRequest, atMost: number): Promise<void> {
  for (let i = 0; i < atMost; i++) {
    const res = await ctx.api(request.method ?? "GET", request.path, undefined, undefined, request.headers);
    if (res.status === 429) return;
  }
  throw new Error(`${request.path} never answered 429 in ${atMost} requests: is the limit in place?`);
}

const PRODUCT_LIST_QUERY = "limit=20&filter[price][gte]=50&sort=-price";

export const scenarios: Scenario[] = [
  {
    name: BASELINE,
    description: "GET /health/live: no binding touched, the ceiling of this runtime on this machine",
    expectedStatus: 200,
    request: { path: "/health/live" },
  },
  {
    name: "service_info",
    description:
      "GET /: the middleware chain for an anonymous caller (rate-limit counter in isolate memory, KV at most once a second), small JSON body",
    expectedStatus: 200,
    request: { path: "/" },
  },
  {
    name: "health",
    description: "GET /health: a D1 query, two KV reads, an R2 head and two queue sends per request",
    expectedStatus: 200,
    request: { path: "/health" },
  },
  {
    name: "me_jwt",
    description:
      "GET /api/v1/users/me with an access JWT: ES256 verify, revocation check (KV read), rate-limit counter (memory), one D1 read",
    expectedStatus: 200,
    budgets: [
      { kind: "rps", min: 0.7 },
      { kind: "cpu_extra", maxUs: 400 },
    ],
    async setup(ctx) {
      const user = await benchUser(ctx);
      return { path: "/api/v1/users/me", headers: bearer(user.accessToken) };
    },
  },
  {
    name: "me_api_key",
    description:
      "GET /api/v1/orgs/{org_id} with an API key (org:read): checksum, SHA-256, cached key lookup (isolate memory; KV, else D1, once a minute), rate-limit counter (memory), one D1 read. /users/me answers API keys 403 by contract, so the key reads its own organization",
    expectedStatus: 200,
    budgets: [
      { kind: "rps", min: 0.7 },
      { kind: "cpu_extra", maxUs: 400 },
    ],
    async setup(ctx) {
      const { key, orgId } = await benchApiKey(ctx, "reader", ["org:read"]);
      return { path: `/api/v1/orgs/${orgId}`, headers: bearer(key) };
    },
  },
  {
    name: "login",
    description:
      "POST /api/v1/auth/login: one scrypt (N=16384, r=8, p=5) per sign-in, a new session and a token pair; 4 connections",
    expectedStatus: 200,
    // Each sign-in is ~100 ms of CPU by design: 50 connections would only measure queueing.
    maxConnections: 4,
    budgets: [{ kind: "report_cpu_ms" }],
    async setup(ctx) {
      const account = await registerUser(ctx, "login");
      return {
        method: "POST",
        path: "/api/v1/auth/login",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: account.email, password: account.password }),
      };
    },
  },
  {
    name: "products_list",
    description: `GET /api/v1/products?${PRODUCT_LIST_QUERY}&filter[category_id]=… over 10,000 products in 8 categories (seeded through the API)`,
    expectedStatus: 200,
    budgets: [{ kind: "rps", min: 0.5 }],
    async setup(ctx) {
      const catalog = await seedCatalog(ctx);
      return catalog.categoryIds.map((id) => ({
        path: `/api/v1/products?${PRODUCT_LIST_QUERY}&filter[category_id]=${id}`,
      }));
    },
  },
  {
    name: "tasks_create",
    description:
      "POST /api/v1/tasks (add) with an access JWT: insert, queue send, 202; the consumer that runs each task afterwards is charged too",
    expectedStatus: 202,
    budgets: [{ kind: "rps", min: 0.5 }],
    async setup(ctx) {
      const user = await benchUser(ctx);
      return {
        method: "POST",
        path: "/api/v1/tasks",
        headers: { ...bearer(user.accessToken), "content-type": "application/json" },
        body: JSON.stringify({ type: "add", payload: { x: 2, y: 3 } }),
      };
    },
  },
  ...notifyFanoutScenarios,
  {
    name: "rate_limited",
    description:
      "429 storm: one anonymous client far over its limit (`anonymous` at 10 per hour on a worker of its own), GET /",
    expectedStatus: 429,
    budgets: [{ kind: "rps", min: 0.85 }],
    vars: { RATE_LIMIT_POLICIES: JSON.stringify({ ...LIFTED_POLICIES, anonymous: "10/1h" }) },
    async setup(ctx) {
      const request: BenchRequest = { path: "/" };
      await exhaust(ctx, request, 20);
      return request;
    },
  },
  {
    name: "rate_limited_api_key",
    description:
      "429 storm: an API key far over its own limit (1 per hour), GET /api/v1/orgs/{org_id}: key lookup, then the refusal",
    expectedStatus: 429,
    budgets: [{ kind: "rps", min: 0.85 }],
    async setup(ctx) {
      const { key, orgId } = await benchApiKey(ctx, "limited", ["org:read"], {
        limit: 1,
        window_seconds: 3600,
      });
      const request: BenchRequest = { path: `/api/v1/orgs/${orgId}`, headers: bearer(key) };
      await exhaust(ctx, request, 5);
      return request;
    },
  },
];
