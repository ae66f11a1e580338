/**
 * `npm run bench:log-cost`: what one JSON access-log line (console.log, the shape
 * src/middleware/request-context.ts writes) costs in workerd itself, with and without a
 * DevTools inspector session attached, outside `wrangler dev`.
 *
 * Why: under `wrangler dev` the line costs about a millisecond of CPU per request across
 * three processes. wrangler keeps a DevTools session on the Worker's isolate (Runtime.enable,
 * for source-mapped exceptions), so every console.log is also serialised as a
 * Runtime.consoleAPICalled event, relayed by the dev proxy's InspectorProxyWorker and POSTed
 * to wrangler's Node as a debug log, besides the line workerd prints to its stdout for
 * wrangler to print. A deployed Worker has none of that. This script runs the workerd binary
 * wrangler uses, with a one-file Worker and a config of its own (no dev proxy, no wrangler,
 * stdout to a file), and measures the line's cost as the CPU difference between a route that
 * logs and one that does not, first with no inspector, then with a session that enables the
 * Runtime domain as wrangler's does.
 *
 *   npm run bench:log-cost                  # 5 s per measurement, 10 connections
 *   npm run bench:log-cost -- --duration 10
 */
import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { freePort, sleep } from "../scripts/lib/local-worker.ts";
import { clockTicksPerSecond, cpuTicks, isAlive } from "../scripts/lib/proc.ts";

const { values: flags } = parseArgs({
  options: {
    duration: { type: "string", default: "5" },
    connections: { type: "string", default: "10" },
  },
});
const duration = Number(flags.duration);
const connections = Number(flags.connections);

/** The access-log line, field for field as request-context.ts writes it (about 300 bytes). */
const WORKER = `export default {
  fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/log") {
      console.log(JSON.stringify({
        level: "info", msg: "request", time: new Date().toISOString(),
        request_id: crypto.randomUUID(), method: request.method, route: "/api/v1/users/me",
        path: url.pathname, status: 200, duration_ms: 1.23,
        principal: "user:0190c6d2-4b1a-7e3c-9d5f-2a3b4c5d6e7f", ip: "203.0.113.7",
      }));
    }
    return new Response("ok");
  },
};
`;

function config(port: number): string {
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .mainWorker) ],
  sockets = [ ( name = "http", address = "127.0.0.1:${port}", http = (), service = "main" ) ],
);
const mainWorker :Workerd.Worker = (
  modules = [ (name = "worker", esModule = embed "worker.mjs") ],
  compatibilityDate = "2026-10-20",
);
`;
}

/** The workerd binary of the miniflare that wrangler dev runs. */
function workerdBinary(): string {
  const fromMiniflare = createRequire(createRequire(import.meta.url).resolve("miniflare"));
  return fromMiniflare("workerd").default as string;
}

type Mode = { name: string; inspector: boolean };

async function measure(url: string, pid: number, path: string): Promise<number> {
  await autocannon({ url: `${url}${path}`, connections, duration: 2 });
  const before = cpuTicks([pid]).get(pid) ?? 0;
  const run = await autocannon({ url: `${url}${path}`, connections, duration });
  await sleep(300);
  const after = cpuTicks([pid]).get(pid) ?? 0;
  return Math.round(((after - before) * (1_000_000 / clockTicksPerSecond())) / run.requests.total);
}

/** A DevTools session on the worker's isolate with the Runtime domain enabled, as wrangler keeps one. */
async function attachInspector(inspectorPort: number): Promise<WebSocket> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as Array<{
    webSocketDebuggerUrl: string;
  }>;
  const url = targets[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error("workerd's inspector lists no target");
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve());
    socket.addEventListener("error", () => reject(new Error(`inspector ${url}: connection refused`)));
  });
  // Events (one per console.log) are received and dropped, as a client that only relays them would.
  socket.send(JSON.stringify({ id: 1, method: "Runtime.enable" }));
  return socket;
}

async function runMode(mode: Mode, dir: string): Promise<{ withoutLog: number; withLog: number }> {
  const port = await freePort();
  const inspectorPort = await freePort();
  writeFileSync(join(dir, "config.capnp"), config(port));
  const out = openSync(join(dir, `${mode.name}.stdout`), "w");
  const child = spawn(
    workerdBinary(),
    ["serve", "config.capnp", ...(mode.inspector ? [`--inspector-addr=127.0.0.1:${inspectorPort}`] : [])],
    { cwd: dir, stdio: ["ignore", out, out] },
  );
  closeSync(out);
  const pid = child.pid as number;
  const url = `http://127.0.0.1:${port}`;
  let inspector: WebSocket | undefined;
  try {
    for (let tries = 0; ; tries++) {
      try {
        await (await fetch(`${url}/nolog`)).text();
        break;
      } catch (error) {
        if (tries > 50) throw error;
        await sleep(100);
      }
    }
    if (mode.inspector) inspector = await attachInspector(inspectorPort);
    const withoutLog = await measure(url, pid, "/nolog");
    const withLog = await measure(url, pid, "/log");
    return { withoutLog, withLog };
  } finally {
    inspector?.close();
    child.kill("SIGTERM");
    for (let i = 0; i < 30 && isAlive(pid); i++) await sleep(100);
    if (isAlive(pid)) child.kill("SIGKILL");
  }
}

const dir = mkdtempSync(join(tmpdir(), "edge-api-log-cost-"));
try {
  writeFileSync(join(dir, "worker.mjs"), WORKER);
  console.log(`log-cost: workerd ${workerdBinary()}, ${duration} s per route at ${connections} connections`);
  const rows: string[] = [];
  for (const mode of [
    { name: "workerd, stdout to a file, no inspector", inspector: false },
    { name: "workerd, stdout to a file, DevTools session with Runtime.enable", inspector: true },
  ]) {
    const { withoutLog, withLog } = await runMode(mode, dir);
    rows.push(`| ${mode.name} | ${withoutLog} | ${withLog} | ${withLog - withoutLog} |`);
    console.log(`log-cost: ${mode.name}: ${withoutLog} µs/request without the line, ${withLog} with it`);
  }
  console.log(
    `\n| setup | CPU µs/req, no log line | CPU µs/req, one log line | the line costs (µs) |\n|---|--:|--:|--:|\n${rows.join("\n")}`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
