/**
 * notify() → delivery on every socket, through the public API of a local worker:
 *
 * - `notify_fanout`: one user with FANOUT_SOCKETS sockets open (phones, tabs). Each round
 *   sends one notification (POST /api/v1/notifications/test, which runs notify()) and
 *   measures from just before the request until the last socket has the frame.
 * - `notify_fanout_users`: FANOUT_USERS users with SOCKETS_PER_USER sockets each. Each round
 *   sends one notification to every user at once (one request per user, concurrently) and
 *   measures, per user, until the last of that user's sockets has it: many hubs in parallel.
 *
 * - `notify_fanout_1000`: one user with LARGE_FANOUT_SOCKETS sockets, on a worker of its own
 *   started with NOTIFICATIONS_MAX_SOCKETS_PER_USER raised to that many (the default, 100, would
 *   close the oldest 900 with 4008).
 *
 * A sample is one notification fully delivered, i.e. the time to the LAST socket that got it;
 * rounds run back to back for the duration, so the figures are latency at that fan-out, not
 * maximum throughput. Sockets connect with
 * a Bearer header (the server flow) and stay open from the warm-up to the end of the
 * measured run, so opening them is never measured.
 */
import type { Measurement, Scenario, ScenarioContext } from "./scenarios.ts";
import { registerUser } from "./seed.ts";

export const FANOUT_SOCKETS = 100;
/** The large fan-out of issue 22: one user with this many sockets. */
export const LARGE_FANOUT_SOCKETS = 1_000;
/**
 * Fan-out scenarios run at least this long whatever --duration says: a p99 needs samples, and
 * in 10 s (about 370 notifications) it is the 4th-slowest one.
 */
export const FANOUT_MIN_SECONDS = 30;
/** The close code the hub sends to the oldest sockets of a user over its limit (tooManyConnections). */
const TOO_MANY_CONNECTIONS = 4008;
/** How long the opening of a large fan-out waits for close frames still in flight once every socket is open. */
const CLOSE_FRAME_GRACE_MS = 500;
export const FANOUT_USERS = 50;
export const SOCKETS_PER_USER = 2;
/** A notification not on every socket after this long counts as an error. */
const DELIVERY_TIMEOUT_MS = 10_000;
const TEST_PATH = "/api/v1/notifications/test";

type Frame = { type: string; data?: { id: string } };

/** Node's WebSocket (undici) also takes `{ headers }`, which the DOM typings do not declare. */
const NodeWebSocket = WebSocket as unknown as new (
  url: string,
  init: { headers: Record<string, string> },
) => WebSocket;

/** A socket that timestamps every notification it receives (performance.now()). */
class TimedSocket {
  private readonly arrivals = new Map<string, number>();
  private readonly waiting = new Map<string, (at: number) => void>();
  readonly ws: WebSocket;
  /** The close code, once the close event came (see closedByServer). */
  closedWith?: number;
  private closing = false;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.addEventListener("message", (event) => {
      const at = performance.now();
      const frame = JSON.parse(String(event.data)) as Frame;
      if (frame.type !== "notification" || !frame.data) return;
      this.arrivals.set(frame.data.id, at);
      this.waiting.get(frame.data.id)?.(at);
    });
    ws.addEventListener("close", (event) => {
      this.closedWith = event.code;
    });
  }

  static open(url: string, token: string): Promise<TimedSocket> {
    const wsUrl = `${url.replace(/^http/, "ws")}/api/v1/notifications/ws`;
    // The server flow: a Bearer header, no ticket.
    const ws = new NodeWebSocket(wsUrl, { headers: { authorization: `Bearer ${token}` } });
    const socket = new TimedSocket(ws);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no hello within 10 s")), 10_000);
      ws.addEventListener("message", function hello(event) {
        if ((JSON.parse(String(event.data)) as Frame).type !== "hello") return;
        clearTimeout(timer);
        ws.removeEventListener("message", hello);
        resolve(socket);
      });
      ws.addEventListener("error", () => reject(new Error(`socket to ${wsUrl} failed`)));
    });
  }

  /**
   * When notification `id` arrived (it may have come before the request that sent it returned).
   * No timeout of its own: deliverOnce() keeps one per notification, not one per socket.
   */
  arrivalOf(id: string): Promise<number> {
    const known = this.arrivals.get(id);
    if (known !== undefined) {
      this.arrivals.delete(id);
      return Promise.resolve(known);
    }
    return new Promise((resolve) => {
      this.waiting.set(id, (at) => {
        this.waiting.delete(id);
        this.arrivals.delete(id);
        resolve(at);
      });
    });
  }

  isWaitingFor(id: string): boolean {
    return this.waiting.has(id);
  }

  /** Stops waiting for `id`: it timed out, and the round counts as an error. */
  forget(id: string): void {
    this.waiting.delete(id);
    this.arrivals.delete(id);
  }

  /**
   * Whether the server closed the socket. Not just the close event: Node's WebSocket (undici) fires
   * it only once the TCP connection ends, and under `wrangler dev` that happens about 10 s after the
   * hub's last event (when an idle hub hibernates), which a hub busy with sockets being opened or
   * notifications being sent never reaches. The close frame itself moves readyState to CLOSING at once,
   * so a socket CLOSING that this side did not close was closed by the server (code not known yet).
   */
  get closedByServer(): boolean {
    return this.closedWith !== undefined || (this.ws.readyState === WebSocket.CLOSING && !this.closing);
  }

  close(): void {
    this.closing = true;
    this.ws.close(1000, "bench done");
  }
}

type Recipient = { token: string; sockets: TimedSocket[] };

/**
 * The WebSocket extensions the sockets agreed with the server, each once ("none" for none). The
 * Worker declines permessage-deflate (REFUSE_WEBSOCKET_COMPRESSION); were it negotiated, every
 * frame would also cost a deflate in the workerd and an inflate here, so the results say which.
 */
function negotiatedExtensions(sockets: TimedSocket[]): string[] {
  return [...new Set(sockets.map((socket) => socket.ws.extensions || "none"))];
}

async function recipient(ctx: ScenarioContext, label: string, sockets: number): Promise<Recipient> {
  const token = (await registerUser(ctx, label)).accessToken;
  const opened: TimedSocket[] = [];
  for (let i = 0; i < sockets; i++) opened.push(await TimedSocket.open(ctx.url, token));
  return { token, sockets: opened };
}

/** Sends one notification to `who` and resolves with the time until its last socket had it, and per socket. */
async function deliverOnce(
  ctx: ScenarioContext,
  who: Recipient,
): Promise<{ allMs: number; perSocketMs: number[] }> {
  const started = performance.now();
  const res = await fetch(`${ctx.url}${TEST_PATH}`, {
    method: "POST",
    headers: { authorization: `Bearer ${who.token}` },
  });
  const body = (await res.json()) as { id?: string };
  if (res.status !== 201 || !body.id) throw new Error(`POST ${TEST_PATH} answered ${res.status}`);
  const id = body.id;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const missing = who.sockets.filter((socket) => socket.isWaitingFor(id)).length;
      for (const socket of who.sockets) socket.forget(id);
      reject(
        new Error(
          `notification ${id} not on ${missing} of ${who.sockets.length} sockets within ${DELIVERY_TIMEOUT_MS} ms`,
        ),
      );
    }, DELIVERY_TIMEOUT_MS);
  });
  const arrivals = await Promise.race([
    Promise.all(who.sockets.map((socket) => socket.arrivalOf(id))),
    timedOut,
  ]).finally(() => clearTimeout(timer));
  const perSocketMs = arrivals.map((at) => at - started);
  return { allMs: Math.max(...perSocketMs), perSocketMs };
}

export function nearestRank(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return 0;
  return Math.round((sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0) * 10) / 10;
}

/** Rounds of `round()` until the duration is over; each round returns its samples or throws (an error). */
async function runRounds(
  durationSeconds: number,
  round: () => Promise<Array<{ allMs: number; perSocketMs: number[] }>>,
): Promise<{
  latenciesMs: number[];
  perSocketMs: number[];
  errors: number;
  firstError?: string;
  rounds: number;
  elapsedMs: number;
}> {
  let firstError: string | undefined;
  const latenciesMs: number[] = [];
  const perSocketMs: number[] = [];
  let errors = 0;
  let rounds = 0;
  const started = performance.now();
  while (performance.now() - started < durationSeconds * 1000) {
    rounds += 1;
    const outcomes = await round().catch((error: unknown) => {
      firstError ??= error instanceof Error ? error.message : String(error);
      return null;
    });
    if (!outcomes) {
      errors += 1;
      continue;
    }
    for (const outcome of outcomes) {
      latenciesMs.push(outcome.allMs);
      perSocketMs.push(...outcome.perSocketMs);
    }
  }
  if (firstError) console.warn(`  first error: ${firstError}`);
  return { latenciesMs, perSocketMs, errors, firstError, rounds, elapsedMs: performance.now() - started };
}

/**
 * One user's `count` sockets, opened one after the other. The hub closes a user's oldest sockets
 * beyond NOTIFICATIONS_MAX_SOCKETS_PER_USER (code 4008): as soon as it closes one, the fan-out
 * cannot reach `count`, and this stops with the limit it met rather than measure a smaller fan-out.
 */
async function largeRecipient(ctx: ScenarioContext, label: string, count: number): Promise<Recipient> {
  const token = (await registerUser(ctx, label)).accessToken;
  const opened: TimedSocket[] = [];
  const stopIfAnyClosed = (afterOpening: number) => {
    const closed = opened.filter((socket) => socket.closedByServer);
    if (closed.length === 0) return;
    for (const socket of opened) socket.close();
    const codes = [...new Set(closed.map((socket) => socket.closedWith ?? TOO_MANY_CONNECTIONS))];
    const known = closed.some((socket) => socket.closedWith !== undefined);
    throw new Error(
      `the notification hub keeps fewer sockets per user than ${count}: after opening ${afterOpening}, ${closed.length} older one(s) got a close frame (${known ? `code ${codes.join(", ")}` : `code not reported yet, ${TOO_MANY_CONNECTIONS} expected`}: is NOTIFICATIONS_MAX_SOCKETS_PER_USER at least ${count} on this worker?); fan-out to ${count} sockets of one user cannot be measured`,
    );
  };
  for (let i = 0; i < count; i++) {
    opened.push(await TimedSocket.open(ctx.url, token));
    stopIfAnyClosed(i + 1);
  }
  // A close frame travels on its own connection: the last ones may land after the last hello.
  await new Promise((resolve) => setTimeout(resolve, CLOSE_FRAME_GRACE_MS));
  stopIfAnyClosed(count);
  return { token, sockets: opened };
}

export const notifyFanoutScenarios: Scenario[] = [
  {
    name: "notify_fanout",
    description: `notify() → delivered on all ${FANOUT_SOCKETS} sockets of one user (POST ${TEST_PATH}, one at a time)`,
    expectedStatus: 201,
    budgets: [{ kind: "p99", maxMs: 50 }],
    minDurationSeconds: FANOUT_MIN_SECONDS,
    async measure(ctx, run): Promise<Measurement> {
      const who = await ctx.once("fanout:one-user", () => recipient(ctx, "fanout", FANOUT_SOCKETS));
      const result = await runRounds(run.durationSeconds, async () => [await deliverOnce(ctx, who)]);
      if (run.phase === "measure") for (const socket of who.sockets) socket.close();
      return {
        latenciesMs: result.latenciesMs,
        errors: result.errors,
        elapsedMs: result.elapsedMs,
        requests: [`POST ${TEST_PATH} → ${FANOUT_SOCKETS} sockets of one user`],
        details: {
          sockets: FANOUT_SOCKETS,
          negotiatedExtensions: negotiatedExtensions(who.sockets),
          rounds: result.rounds,
          ...(result.firstError ? { firstError: result.firstError } : {}),
          perSocketP50Ms: nearestRank(result.perSocketMs, 0.5),
          perSocketP99Ms: nearestRank(result.perSocketMs, 0.99),
        },
      };
    },
  },
  {
    name: "notify_fanout_users",
    description: `notify() for ${FANOUT_USERS} users at once → delivered on all ${SOCKETS_PER_USER} sockets of each`,
    expectedStatus: 201,
    minDurationSeconds: FANOUT_MIN_SECONDS,
    async measure(ctx, run): Promise<Measurement> {
      const everyone = await ctx.once("fanout:many-users", async () => {
        const people: Recipient[] = [];
        for (let i = 0; i < FANOUT_USERS; i++)
          people.push(await recipient(ctx, `many-${i}`, SOCKETS_PER_USER));
        return people;
      });
      const result = await runRounds(run.durationSeconds, () =>
        Promise.all(everyone.map((who) => deliverOnce(ctx, who))),
      );
      if (run.phase === "measure")
        for (const who of everyone) for (const socket of who.sockets) socket.close();
      return {
        latenciesMs: result.latenciesMs,
        errors: result.errors,
        elapsedMs: result.elapsedMs,
        requests: [`POST ${TEST_PATH} × ${FANOUT_USERS} users at once → ${SOCKETS_PER_USER} sockets each`],
        details: {
          users: FANOUT_USERS,
          socketsPerUser: SOCKETS_PER_USER,
          negotiatedExtensions: negotiatedExtensions(everyone.flatMap((who) => who.sockets)),
          rounds: result.rounds,
          ...(result.firstError ? { firstError: result.firstError } : {}),
          perSocketP50Ms: nearestRank(result.perSocketMs, 0.5),
          perSocketP99Ms: nearestRank(result.perSocketMs, 0.99),
        },
      };
    },
  },
  {
    name: "notify_fanout_1000",
    description: `notify() → delivered on all ${LARGE_FANOUT_SOCKETS} sockets of one user (POST ${TEST_PATH}, one at a time)`,
    expectedStatus: 201,
    budgets: [{ kind: "p99", maxMs: 150 }],
    minDurationSeconds: FANOUT_MIN_SECONDS,
    // A worker of its own whose hub keeps this many sockets per user (the default is 100).
    vars: { NOTIFICATIONS_MAX_SOCKETS_PER_USER: String(LARGE_FANOUT_SOCKETS) },
    async measure(ctx, run): Promise<Measurement> {
      const who = await ctx.once("fanout:one-user-large", () =>
        largeRecipient(ctx, "fanout-large", LARGE_FANOUT_SOCKETS),
      );
      const result = await runRounds(run.durationSeconds, async () => [await deliverOnce(ctx, who)]);
      if (run.phase === "measure" || result.latenciesMs.length === 0)
        for (const socket of who.sockets) socket.close();
      if (result.latenciesMs.length === 0) {
        const closed = who.sockets.filter((socket) => socket.closedByServer).length;
        throw new Error(
          `no notification reached all ${LARGE_FANOUT_SOCKETS} sockets of one user in ${result.rounds} tries (${result.firstError ?? "no error"}); ${closed} of them were closed by the server`,
        );
      }
      return {
        latenciesMs: result.latenciesMs,
        errors: result.errors,
        elapsedMs: result.elapsedMs,
        requests: [`POST ${TEST_PATH} → ${LARGE_FANOUT_SOCKETS} sockets of one user`],
        details: {
          sockets: LARGE_FANOUT_SOCKETS,
          sample: "until the last of the sockets had the notification",
          negotiatedExtensions: negotiatedExtensions(who.sockets),
          rounds: result.rounds,
          ...(result.firstError ? { firstError: result.firstError } : {}),
          perSocketP50Ms: nearestRank(result.perSocketMs, 0.5),
          perSocketP99Ms: nearestRank(result.perSocketMs, 0.99),
        },
      };
    },
  },
];
