/**
 * `npm run bench -- --peers`: the same four jobs on this platform ("ours") and on the peer a team
 * would pick instead (bench/peers/better-auth: Hono + Better Auth on D1), each scenario paired with
 * the bare route of its own stack (`GET /health/live`, the ceiling), then one table of ratios
 * ours/peer and the budgets of issue 22. The stacks are measured in rounds, side by side
 * (bench/peers/rounds.ts); this file says what is measured and how it is judged.
 *
 * | job       | ours                                   | peer                                         |
 * |-----------|----------------------------------------|----------------------------------------------|
 * | sign-up   | POST /api/v1/auth/register             | POST /api/auth/sign-up/email                 |
 * | sign-in   | POST /api/v1/auth/login                | POST /api/auth/sign-in/email                 |
 * | sign-in at the peer's scrypt parameters | the same, on a worker of its own with PASSWORD_HASH_PARAMS set to them | the sign-in above |
 * | who am I  | GET /api/v1/users/me, 40 users' tokens | GET /api/auth/get-session, 40 users' tokens  |
 * | revoked   | GET /api/v1/users/me after logout: 401 | GET /api/auth/get-session after sign-out: 200 `null` (Better Auth's refusal) |
 */
import { budgetFigure, budgetRatio, exactRps, round, type ScenarioResult, signed } from "../report.ts";
import type { BenchRequest, Scenario, ScenarioContext } from "../scenarios.ts";
import { bearer, registerUser } from "../seed.ts";

/** Users whose tokens the "who am I" scenarios cycle through (issue 22 measured the peer over 40). */
export const WHOAMI_USERS = 40;
/** Revoked sessions whose tokens the refusal scenarios cycle through. */
const REVOKED_SESSIONS = 8;
/**
 * Each sign-up and sign-in is one scrypt (tens of ms of CPU, on the one thread that runs the
 * Worker's isolate): 4 connections keep that thread busy with a request always queued on both
 * stacks, and more would only lengthen the queue (latency), not add responses.
 */
const PASSWORD_CONNECTIONS = 4;
/**
 * At 5 to 16 sign-ins a second, the run has to be long for the ratios to rest on enough responses:
 * 30 s per stack is about 150 of ours at OWASP's parameters and 480 of the peer's (20 s gave 100 to
 * 330), spread over the rounds.
 */
export const PASSWORD_MIN_SECONDS = 30;

/** Better Auth's default password hashing (@better-auth/utils/password, node:crypto scrypt). */
export const PEER_SCRYPT = { N: 16_384, r: 16, p: 1, keyLength: 64 };
/** PEER_SCRYPT as our PASSWORD_HASH_PARAMS setting (src/lib/password.ts parseScryptParams). */
export const PEER_SCRYPT_SETTING = `N=${PEER_SCRYPT.N},r=${PEER_SCRYPT.r},p=${PEER_SCRYPT.p},keyLength=${PEER_SCRYPT.keyLength}`;
/** Ours (src/lib/password.ts CURRENT_PARAMS, OWASP's setting). */
export const OUR_SCRYPT = { N: 16_384, r: 8, p: 5 };

export type Stack = "ours" | "peer";

export interface Comparison {
  name: string;
  description: string;
  /** With `vars`, run on a worker of its own started with them, running beside the others. */
  ours: Scenario;
  /** The peer's scenario, or the name of the comparison whose peer result this row is set beside. */
  peer: Scenario | string;
}

const runTag = Date.now().toString(36);
let sequence = 0;
/** A fresh address per request: sign-up must create an account every time. */
const freshEmail = (stack: Stack) => `peers-${stack}-${runTag}-${(sequence++).toString(36)}@example.com`;
const PASSPHRASE = "peer bench correct horse battery staple 42";
const json = { "content-type": "application/json" };

/**
 * Better Auth refuses a state-changing request that looks like a browser's (Node's fetch sends
 * `Sec-Fetch-Mode`) without an Origin it trusts; its base URL's origin is trusted. A web client
 * of the peer sends that Origin, so every request to it here does too.
 */
const peerOrigin = (ctx: ScenarioContext) => ({ origin: ctx.url });

/** A Better Auth account through its public API; its bearer token is the session token it answers. */
async function peerSignUp(ctx: ScenarioContext): Promise<{ email: string; token: string }> {
  const email = freshEmail("peer");
  const res = await ctx.api(
    "POST",
    "/api/auth/sign-up/email",
    { email, password: PASSPHRASE, name: "Peer" },
    200,
    peerOrigin(ctx),
  );
  const token = res.headers.get("set-auth-token");
  if (!token) throw new Error("the peer's sign-up answered no set-auth-token header (bearer plugin)");
  return { email, token };
}

/** One account registered on our worker (its hash at that worker's PASSWORD_HASH_PARAMS), signing in. */
async function ourSignIn(ctx: ScenarioContext): Promise<BenchRequest> {
  const account = await registerUser(ctx, "peers-signin");
  return {
    method: "POST",
    path: "/api/v1/auth/login",
    headers: json,
    body: JSON.stringify({ email: account.email, password: account.password }),
  };
}

async function many<T>(count: number, make: (index: number) => Promise<T>): Promise<T[]> {
  const made: T[] = [];
  for (let i = 0; i < count; i++) made.push(await make(i));
  return made;
}

export const comparisons: Comparison[] = [
  {
    name: "signup",
    description: "sign-up with email and password: one scrypt, a user, a session and its token",
    ours: {
      name: "signup",
      description:
        "POST /api/v1/auth/register (scrypt N=16384 r=8 p=5, user, personal organization, session, token pair)",
      expectedStatus: 201,
      maxConnections: PASSWORD_CONNECTIONS,
      minDurationSeconds: PASSWORD_MIN_SECONDS,
      request: {
        method: "POST",
        path: "/api/v1/auth/register",
        headers: json,
        makeBody: () =>
          JSON.stringify({ email: freshEmail("ours"), password: PASSPHRASE, password_confirm: PASSPHRASE }),
      },
    },
    peer: {
      name: "signup",
      description: "POST /api/auth/sign-up/email (scrypt N=16384 r=16 p=1, user, account, session)",
      expectedStatus: 200,
      maxConnections: PASSWORD_CONNECTIONS,
      minDurationSeconds: PASSWORD_MIN_SECONDS,
      async setup(ctx) {
        return {
          method: "POST",
          path: "/api/auth/sign-up/email",
          headers: { ...json, ...peerOrigin(ctx) },
          makeBody: () => JSON.stringify({ email: freshEmail("peer"), password: PASSPHRASE, name: "Peer" }),
        };
      },
    },
  },
  {
    name: "signin",
    description: "sign-in with a password: one scrypt verify, a new session and its token(s)",
    ours: {
      name: "signin",
      description: "POST /api/v1/auth/login (scrypt N=16384 r=8 p=5: OWASP's, 2.5× the peer's work)",
      expectedStatus: 200,
      maxConnections: PASSWORD_CONNECTIONS,
      minDurationSeconds: PASSWORD_MIN_SECONDS,
      setup: ourSignIn,
    },
    peer: {
      name: "signin",
      description: "POST /api/auth/sign-in/email (scrypt N=16384 r=16 p=1)",
      expectedStatus: 200,
      maxConnections: PASSWORD_CONNECTIONS,
      minDurationSeconds: PASSWORD_MIN_SECONDS,
      async setup(ctx) {
        const { email } = await peerSignUp(ctx);
        return {
          method: "POST",
          path: "/api/auth/sign-in/email",
          headers: { ...json, ...peerOrigin(ctx) },
          body: JSON.stringify({ email, password: PASSPHRASE }),
        };
      },
    },
  },
  {
    name: "signin-peer-params",
    description: "our sign-in at the peer's scrypt parameters, beside the peer's sign-in",
    ours: {
      name: "signin-peer-params",
      description: `POST /api/v1/auth/login, account registered and signed in with PASSWORD_HASH_PARAMS=${PEER_SCRYPT_SETTING} (the peer's)`,
      expectedStatus: 200,
      maxConnections: PASSWORD_CONNECTIONS,
      minDurationSeconds: PASSWORD_MIN_SECONDS,
      // Registered under this setting, the stored hash has these parameters and is never rehashed.
      vars: { PASSWORD_HASH_PARAMS: PEER_SCRYPT_SETTING },
      setup: ourSignIn,
    },
    peer: "signin",
  },
  {
    name: "whoami",
    description: `the authenticated "who am I" over ${WHOAMI_USERS} users' tokens`,
    ours: {
      name: "whoami",
      description: `GET /api/v1/users/me with the access JWTs of ${WHOAMI_USERS} users`,
      expectedStatus: 200,
      async setup(ctx) {
        const users = await many(WHOAMI_USERS, (i) => registerUser(ctx, `peers-me-${i}`));
        return users.map((user) => ({ path: "/api/v1/users/me", headers: bearer(user.accessToken) }));
      },
    },
    peer: {
      name: "whoami",
      description: `GET /api/auth/get-session with the bearer session tokens of ${WHOAMI_USERS} users`,
      expectedStatus: 200,
      async setup(ctx) {
        const users = await many(WHOAMI_USERS, () => peerSignUp(ctx));
        return users.map((user) => ({ path: "/api/auth/get-session", headers: bearer(user.token) }));
      },
    },
  },
  {
    name: "revoked",
    description: `a revoked session's token refused (${REVOKED_SESSIONS} signed-out sessions)`,
    ours: {
      name: "revoked",
      description: "GET /api/v1/users/me with the access JWT of a session ended by POST /auth/logout: 401",
      expectedStatus: 401,
      async setup(ctx) {
        const users = await many(REVOKED_SESSIONS, (i) => registerUser(ctx, `peers-revoked-${i}`));
        for (const user of users)
          await ctx.api("POST", "/api/v1/auth/logout", undefined, 204, bearer(user.accessToken));
        return users.map((user) => ({ path: "/api/v1/users/me", headers: bearer(user.accessToken) }));
      },
    },
    peer: {
      name: "revoked",
      description:
        "GET /api/auth/get-session with the token of a session ended by POST /api/auth/sign-out: 200 with `null`, Better Auth's refusal",
      expectedStatus: 200,
      async setup(ctx) {
        const users = await many(REVOKED_SESSIONS, () => peerSignUp(ctx));
        const requests: BenchRequest[] = [];
        for (const user of users) {
          await ctx.api("POST", "/api/auth/sign-out", {}, 200, { ...bearer(user.token), ...peerOrigin(ctx) });
          const after = await ctx.api("GET", "/api/auth/get-session", undefined, 200, bearer(user.token));
          // Better Auth answers 200 either way: only the body tells a refusal from a session.
          if (after.body !== null && after.body !== "null")
            throw new Error(
              `the peer still knows a signed-out session: ${JSON.stringify(after.body).slice(0, 200)}`,
            );
          requests.push({ path: "/api/auth/get-session", headers: bearer(user.token) });
        }
        return requests;
      },
    },
  },
];

// ---------------------------------------------------------------------------- budgets

export interface PeerBudgetCheck {
  budget: string;
  measured: string;
  verdict: "PASS" | "MISS" | "REPORTED" | "NOT MEASURED";
}

export type Pair = { name: string; ours?: ScenarioResult; peer?: ScenarioResult };

const measured = (result: ScenarioResult | undefined): result is ScenarioResult =>
  Boolean(result && !result.error && result.rps && result.cpu);

/** The budgets of issue 22 that compare the stacks, or ours with its own ceiling under `wrangler dev`. */
export function peerBudgets(pairs: Pair[]): PeerBudgetCheck[] {
  const checks: PeerBudgetCheck[] = [];
  const whoami = pairs.find((pair) => pair.name === "whoami");
  const signin = pairs.find((pair) => pair.name === "signin");
  const sameParams = pairs.find((pair) => pair.name === "signin-peer-params");
  const notMeasured = (budget: string, why = "skipped"): PeerBudgetCheck => ({
    budget,
    measured: why,
    verdict: "NOT MEASURED",
  });

  const rpsBudget = "/users/me req/s ≥ 1.00 × the peer's get-session";
  const cpuBudget = "/users/me CPU µs/req ≤ the peer's get-session";
  if (measured(whoami?.ours) && measured(whoami?.peer)) {
    const ours = whoami.ours;
    const peer = whoami.peer;
    const rpsRatio = exactRps(ours) / exactRps(peer);
    checks.push({
      budget: rpsBudget,
      measured: `${budgetFigure(rpsRatio, 1)} ×`,
      verdict: rpsRatio >= 1 ? "PASS" : "MISS",
    });
    const oursCpu = ours.cpu?.workerUsPerRequest ?? 0;
    const peerCpu = peer.cpu?.workerUsPerRequest ?? 0;
    checks.push({
      budget: cpuBudget,
      measured: `${oursCpu} vs ${peerCpu} µs (${budgetRatio(oursCpu, peerCpu)} ×)`,
      verdict: oursCpu <= peerCpu ? "PASS" : "MISS",
    });
  } else {
    checks.push(notMeasured(rpsBudget), notMeasured(cpuBudget));
  }

  const ceilingRps = "/users/me (40 users) req/s ≥ 0.70 × /health/live (wrangler dev)";
  const ceilingCpu = "/users/me (40 users) CPU ≤ 1.40 × /health/live (wrangler dev)";
  const me = whoami?.ours;
  if (measured(me) && me.pairedBaseline) {
    const rpsRatio = exactRps(me) / me.pairedBaseline.rps;
    const cpuRatio = (me.cpu?.workerUsPerRequest ?? 0) / me.pairedBaseline.cpuUsPerRequest;
    checks.push({
      budget: ceilingRps,
      measured: `${budgetFigure(rpsRatio, 0.7)} ×`,
      verdict: rpsRatio >= 0.7 ? "PASS" : "MISS",
    });
    checks.push({
      budget: ceilingCpu,
      measured: `${budgetFigure(cpuRatio, 1.4)} ×`,
      verdict: cpuRatio <= 1.4 ? "PASS" : "MISS",
    });
  } else {
    checks.push(notMeasured(ceilingRps), notMeasured(ceilingCpu));
  }

  const sameBudget = `sign-in CPU ≤ the peer's at the same scrypt parameters (${PEER_SCRYPT_SETTING})`;
  if (measured(sameParams?.ours) && measured(sameParams?.peer)) {
    const oursCpu = sameParams.ours.cpu?.workerUsPerRequest ?? 0;
    const peerCpu = sameParams.peer.cpu?.workerUsPerRequest ?? 0;
    checks.push({
      budget: sameBudget,
      measured: `${(oursCpu / 1000).toFixed(1)} vs ${(peerCpu / 1000).toFixed(1)} ms (${budgetRatio(oursCpu, peerCpu)} ×)`,
      verdict: oursCpu <= peerCpu ? "PASS" : "MISS",
    });
  } else {
    checks.push(notMeasured(sameBudget));
  }
  if (measured(signin?.ours) && measured(signin?.peer)) {
    const oursCpu = signin.ours.cpu?.workerUsPerRequest ?? 0;
    const peerCpu = signin.peer.cpu?.workerUsPerRequest ?? 0;
    checks.push({
      budget: `sign-in CPU at each stack's own parameters (ours N=${OUR_SCRYPT.N} r=${OUR_SCRYPT.r} p=${OUR_SCRYPT.p}: ${((OUR_SCRYPT.r * OUR_SCRYPT.p) / (PEER_SCRYPT.r * PEER_SCRYPT.p)).toFixed(1)}× the scrypt work)`,
      measured: `${(oursCpu / 1000).toFixed(1)} vs ${(peerCpu / 1000).toFixed(1)} ms (${(oursCpu / peerCpu).toFixed(2)} ×)`,
      verdict: "REPORTED",
    });
  }
  return checks;
}

// ---------------------------------------------------------------------------- table

const ratio = (a: number | undefined, b: number | undefined) => (a && b ? (a / b).toFixed(2) : "");

export function pairResults(ours: ScenarioResult[], peer: ScenarioResult[]): Pair[] {
  return comparisons.map((comparison) => ({
    name: comparison.name,
    ours: ours.find((result) => result.name === comparison.ours.name),
    peer: peer.find(
      (result) =>
        result.name === (typeof comparison.peer === "string" ? comparison.peer : comparison.peer.name),
    ),
  }));
}

/** One row per job: each stack's req/s and CPU with its paired ceiling, and the ratios ours/peer. */
export function renderPeerTable(pairs: Pair[]): string {
  const header = [
    "scenario",
    "conns",
    "ours req/s",
    "ours ceiling req/s",
    "peer req/s",
    "peer ceiling req/s",
    "req/s ours/peer",
    "ours CPU µs/req",
    "ours ceiling µs",
    "peer CPU µs/req",
    "peer ceiling µs",
    "CPU ours/peer",
    "ours workerd µs",
    "peer workerd µs",
    "ours p50/p99 ms",
    "peer p50/p99 ms",
    "errors ours/peer",
  ];
  const rows = pairs.map(({ name, ours, peer }) => {
    const cell = (
      result: ScenarioResult | undefined,
      pick: (r: ScenarioResult) => number | string | undefined,
    ) => (result && !result.error ? String(pick(result) ?? "") : "skipped");
    return [
      name,
      String(ours?.connections ?? peer?.connections ?? ""),
      cell(ours, (r) => r.rps),
      cell(ours, (r) => r.pairedBaseline && round(r.pairedBaseline.rps, 0)),
      cell(peer, (r) => r.rps),
      cell(peer, (r) => r.pairedBaseline && round(r.pairedBaseline.rps, 0)),
      ratio(measured(ours) ? exactRps(ours) : undefined, measured(peer) ? exactRps(peer) : undefined),
      cell(ours, (r) => r.cpu?.workerUsPerRequest),
      cell(ours, (r) => r.pairedBaseline?.cpuUsPerRequest),
      cell(peer, (r) => r.cpu?.workerUsPerRequest),
      cell(peer, (r) => r.pairedBaseline?.cpuUsPerRequest),
      ratio(ours?.cpu?.workerUsPerRequest, peer?.cpu?.workerUsPerRequest),
      cell(ours, (r) => r.cpu?.byProcessUsPerRequest.workerd_worker),
      cell(peer, (r) => r.cpu?.byProcessUsPerRequest.workerd_worker),
      cell(ours, (r) => `${r.latencyMs?.p50} / ${r.latencyMs?.p99}`),
      cell(peer, (r) => `${r.latencyMs?.p50} / ${r.latencyMs?.p99}`),
      `${ours?.errors ?? "—"} / ${peer?.errors ?? "—"}`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

export function renderPeerBudgets(checks: PeerBudgetCheck[]): string {
  const widths = [
    Math.max(6, ...checks.map((c) => c.budget.length)),
    Math.max(8, ...checks.map((c) => c.measured.length)),
    12,
  ];
  const line = (cells: string[]) =>
    `| ${cells[0]?.padEnd(widths[0] ?? 0)} | ${cells[1]?.padStart(widths[1] ?? 0)} | ${cells[2]?.padEnd(widths[2] ?? 0)} |`;
  return [
    line(["budget (issue 22)", "measured", "verdict"]),
    `|${"-".repeat((widths[0] ?? 0) + 2)}|${"-".repeat((widths[1] ?? 0) + 1)}:|${"-".repeat((widths[2] ?? 0) + 2)}|`,
    ...checks.map((check) => line([check.budget, check.measured, check.verdict])),
  ].join("\n");
}

/** Each stack's ceiling (GET /health/live): the mean of the ceilings paired with its scenarios. */
function ceilingFigures(pairs: Pair[]) {
  // A peer result set beside two rows counts once.
  const baselines = (results: Array<ScenarioResult | undefined>) =>
    [...new Set(results)]
      .filter((result) => result && !result.error)
      .map((result) => result?.pairedBaseline)
      .filter((base) => base !== undefined);
  const oursBase = baselines(pairs.map((pair) => pair.ours));
  const peerBase = baselines(pairs.map((pair) => pair.peer));
  if (oursBase.length === 0 || peerBase.length === 0) return undefined;
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  return {
    oursRps: mean(oursBase.map((base) => base.rps)),
    peerRps: mean(peerBase.map((base) => base.rps)),
    oursCpu: mean(oursBase.map((base) => base.cpuUsPerRequest)),
    peerCpu: mean(peerBase.map((base) => base.cpuUsPerRequest)),
  };
}

/** The ceilings themselves compared: what each stack's bare route costs on this machine. */
export function ceilingSummary(pairs: Pair[]): string {
  const figures = ceilingFigures(pairs);
  if (!figures) return "";
  const oursRps = round(figures.oursRps, 0);
  const peerRps = round(figures.peerRps, 0);
  const oursCpu = round(figures.oursCpu, 0);
  const peerCpu = round(figures.peerCpu, 0);
  return `Ceilings (GET /health/live, mean of the paired runs): ours ${oursRps} req/s at ${oursCpu} µs/req (our middleware chain and access log), the peer's bare Hono route ${peerRps} req/s at ${peerCpu} µs/req: ours/peer ${(oursRps / peerRps).toFixed(2)} × req/s, ${signed(oursCpu - peerCpu)} µs.`;
}

// ---------------------------------------------------------------------------- ratios

export interface PeerRatio {
  name: string;
  /** Undefined when a side was not measured. */
  value?: number;
}

/**
 * Every ratio the comparison rests on, as numbers: per job ours/peer req/s and CPU µs/request, our
 * `/users/me` over our own ceiling (two budgets), and the ceilings ours/peer. Taken over a whole run
 * and over each round alone (bench/peers/rounds.ts), to show how much each moves.
 */
export function peerRatios(pairs: Pair[]): PeerRatio[] {
  const ratios: PeerRatio[] = [];
  const cpuOf = (result: ScenarioResult) => result.cpu?.workerUsPerRequest ?? 0;
  for (const { name, ours, peer } of pairs) {
    const both = measured(ours) && measured(peer);
    ratios.push(
      { name: `${name} req/s`, value: both ? exactRps(ours) / exactRps(peer) : undefined },
      { name: `${name} CPU`, value: both ? cpuOf(ours) / cpuOf(peer) : undefined },
    );
  }
  const me = pairs.find((pair) => pair.name === "whoami")?.ours;
  const base = measured(me) ? me.pairedBaseline : undefined;
  ratios.push(
    {
      name: "/users/me ÷ our /health/live, req/s",
      value: me && base ? exactRps(me) / base.rps : undefined,
    },
    {
      name: "/users/me ÷ our /health/live, CPU",
      value: me && base ? cpuOf(me) / base.cpuUsPerRequest : undefined,
    },
  );
  const ceilings = ceilingFigures(pairs);
  ratios.push(
    { name: "ceilings ours/peer, req/s", value: ceilings && ceilings.oursRps / ceilings.peerRps },
    { name: "ceilings ours/peer, CPU", value: ceilings && ceilings.oursCpu / ceilings.peerCpu },
  );
  return ratios;
}
