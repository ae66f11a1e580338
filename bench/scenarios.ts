/**
 * The benchmark's scenarios, in the order they run (baseline first: every other one is
 * reported as a ratio to it). Each drives one kind of request at fixed concurrency and
 * declares the status it expects; any other status counts as an error.
 *
 * A scenario that needs data seeds it in `setup` through the public API (ctx.api), so it
 * exercises the same paths a client would, and shares anything reusable through
 * ctx.once(): for example the identity scenarios will sign up one user once and reuse
 * its access token and API key:
 *
 *   const me = await ctx.once("user", async () => {
 *     const login = await ctx.api("POST", "/api/v1/auth/login", { email, password }, 200);
 *     return { token: login.body.access_token as string };
 *   });
 *   return { method: "GET", path: "/api/v1/users/me", headers: { authorization: `Bearer ${me.token}` } };
 */

export interface BenchRequest {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  headers?: Record<string, string>;
  /** Sent as is; set content-type in headers. */
  body?: string;
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
  /** Runs `create` once per benchmark run and returns the same value to every scenario that asks for `key`. */
  once<T>(key: string, create: () => Promise<T>): Promise<T>;
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
}

export const BASELINE = "baseline";

/**
 * wrangler.toml vars every benchmark run overrides (`--var` on the command line wins).
 * The global per-principal rate limits are lifted to their maximum so that scenarios
 * measure their own work rather than the 429 path; the counters are still read and
 * written on every request, as in production. Route policies (login, ...) keep their
 * defaults, so a 429-storm scenario can still drive one client far over its limit.
 */
export const WORKER_VARS: Record<string, string> = {
  RATE_LIMIT_POLICIES: JSON.stringify({ anonymous: "1000000/60", user: "1000000/60", api_key: "1000000/60" }),
};

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
      "GET /: the middleware chain for an anonymous caller (rate-limit counter included), small JSON body",
    expectedStatus: 200,
    request: { path: "/" },
  },
  {
    name: "health",
    description: "GET /health: a D1 query, two KV reads, an R2 head and two queue sends per request",
    expectedStatus: 200,
    request: { path: "/health" },
  },
];
