/**
 * Starts the Worker the way `npm run dev` does (`wrangler dev`, local D1, KV, R2,
 * Queues and Durable Objects), for scripted checks and the benchmark:
 *
 *   const worker = await startLocalWorker({ vars: { API_DOCS_ENABLED: "false" } });
 *   try { await fetch(`${worker.url}/health`); } finally { await worker.stop(); }
 *
 * By default it runs on a free port with its state in a fresh temporary directory
 * (migrations applied there), so a check never touches the developer's .wrangler
 * state or a `npm run dev` already listening on :8787. stop() ends the whole process
 * tree: wrangler starts workerd (twice: the dev proxy and the worker) and esbuild.
 *
 * `snapshot: true` runs it from a copy of the tree taken now (node_modules linked, not
 * copied): `wrangler dev` reloads the Worker whenever a watched file changes, which drops
 * every open socket and charges a rebuild to whatever is being measured, so a benchmark
 * taken while someone edits src/ needs the copy.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  cpSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureDevVars } from "./dev-vars.ts";
import { isAlive, processTree } from "./proc.ts";
import { wranglerBin } from "./wrangler.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface LocalWorkerOptions {
  /** Port for wrangler dev; a free one when omitted. */
  port?: number;
  /** Local persistence directory (D1, KV, R2, DO state); a fresh temporary one when omitted, removed on stop(). */
  persistTo?: string;
  /** `--var KEY:VALUE` overrides of wrangler.toml [vars] (and .dev.vars). */
  vars?: Record<string, string>;
  /** How long to wait for GET /health/live to answer 200. Default 90 s. */
  startTimeoutMs?: number;
  /** Keep the temporary directory (state and wrangler.log) after stop(), for debugging. */
  keepTemp?: boolean;
  /** Run from a copy of the tree taken at start (see the top of this file); removed on stop(). */
  snapshot?: boolean;
}

export interface LocalWorker {
  /** http://127.0.0.1:<port>, no trailing slash. */
  url: string;
  /** The `wrangler dev` process (leader of its own process group). */
  pid: number;
  /** The tree wrangler runs in: the project, or its snapshot copy. */
  root: string;
  persistTo: string;
  /** wrangler dev's stdout and stderr (the worker's console lines included). */
  logPath: string;
  /** wrangler's DevTools inspector (Chrome DevTools Protocol) for the Worker's isolate. */
  inspectorPort: number;
  /** The last `lines` lines of logPath. */
  logTail(lines?: number): string;
  /** wrangler and every process it started (workerd, esbuild), parents first. */
  processTreePids(): number[];
  /** Ends the whole tree (SIGTERM, then SIGKILL after a grace period) and removes temporary state. */
  stop(): Promise<void>;
}

/** Workers not yet stopped, ended on exit or Ctrl-C even when the caller forgot or crashed. */
const running = new Set<LocalWorker>();
let exitHooksInstalled = false;

export async function startLocalWorker(options: LocalWorkerOptions = {}): Promise<LocalWorker> {
  // Same preparation as `npm run dev`: docs assets (the [assets] directory must exist) and .dev.vars.
  await import("../copy-docs-assets.ts");
  ensureDevVars(root);
  const tempDir = mkdtempSync(join(tmpdir(), "edge-api-worker-"));
  const workerRoot = options.snapshot ? snapshotTree(join(tempDir, "tree")) : root;
  return startWranglerDev(workerRoot, tempDir, options);
}

/**
 * `wrangler dev` of the project in `workerRoot` (its wrangler.toml, its node_modules/.bin/wrangler)
 * the way startLocalWorker runs ours: state in `persistTo` or `tempDir`, migrations applied there,
 * output to `tempDir`/wrangler.log, answered once GET /health/live is 200. `tempDir` is removed on
 * stop() (unless keepTemp) and when the start fails. The benchmark starts its peer with it too
 * (bench/peers/peer-worker.ts), so both stacks run, are stopped and are cleaned up alike.
 */
export async function startWranglerDev(
  workerRoot: string,
  tempDir: string,
  options: Omit<LocalWorkerOptions, "snapshot"> = {},
): Promise<LocalWorker> {
  installExitHooks();
  const persistTo = options.persistTo ?? join(tempDir, "state");
  const logPath = join(tempDir, "wrangler.log");
  const removeTemp = () => {
    if (!options.keepTemp) rmSync(tempDir, { recursive: true, force: true });
  };

  try {
    applyLocalMigrations(workerRoot, persistTo);
  } catch (error) {
    removeTemp();
    throw error;
  }

  const port = options.port ?? (await freePort());
  const inspectorPort = await freePort();
  const args = [
    "dev",
    "--port",
    String(port),
    "--ip",
    "127.0.0.1",
    "--persist-to",
    persistTo,
    "--inspector-port",
    String(inspectorPort),
    "--show-interactive-dev-session=false",
    ...Object.entries(options.vars ?? {}).flatMap(([key, value]) => ["--var", `${key}:${value}`]),
  ];
  // Output goes to a file, not a pipe: nothing in this process has to read the per-request
  // log lines (the benchmark's load generator runs here and must not be charged for them).
  const logFd = openSync(logPath, "a");
  const child = spawn(wranglerBin(workerRoot), args, {
    cwd: workerRoot,
    env: wranglerEnv(),
    detached: true,
    stdio: ["ignore", logFd, logFd],
  });
  closeSync(logFd);
  if (child.pid === undefined) {
    removeTemp();
    throw new Error(`could not start ${wranglerBin(workerRoot)}`);
  }
  const pid = child.pid;
  let exited = false;
  child.on("exit", () => {
    exited = true;
  });

  const logTail = (lines = 40) =>
    existsSync(logPath) ? readFileSync(logPath, "utf8").trimEnd().split("\n").slice(-lines).join("\n") : "";

  let stopping: Promise<void> | undefined;
  const worker: LocalWorker = {
    url: `http://127.0.0.1:${port}`,
    pid,
    root: workerRoot,
    persistTo,
    logPath,
    inspectorPort,
    logTail,
    processTreePids: () => processTree(pid),
    stop() {
      stopping ??= (async () => {
        await killTree(pid);
        running.delete(worker);
        removeTemp();
      })();
      return stopping;
    },
  };
  running.add(worker);

  const deadline = Date.now() + (options.startTimeoutMs ?? 90_000);
  let lastProblem = "no answer yet";
  while (true) {
    if (exited) {
      const tail = logTail();
      await worker.stop();
      throw new Error(`wrangler dev in ${workerRoot} exited before answering /health/live:\n${tail}`);
    }
    if (Date.now() > deadline) {
      const tail = logTail();
      await worker.stop();
      throw new Error(
        `wrangler dev in ${workerRoot} did not answer GET /health/live with 200 in time (${lastProblem}):\n${tail}`,
      );
    }
    try {
      const response = await fetch(`${worker.url}/health/live`, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.status === 200) return worker;
      lastProblem = `status ${response.status}`;
    } catch (error) {
      lastProblem = error instanceof Error ? error.message : String(error);
    }
    await sleep(250);
  }
}

/** `wrangler d1 migrations apply DB --local` of the project in `workerRoot`, into the state directory `persistTo`. */
export function applyLocalMigrations(workerRoot: string, persistTo: string): void {
  const migrate = spawnSync(
    wranglerBin(workerRoot),
    ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo],
    {
      cwd: workerRoot,
      env: wranglerEnv(),
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 120_000,
    },
  );
  if (migrate.status !== 0) {
    throw new Error(
      `wrangler d1 migrations apply in ${workerRoot} failed (exit ${migrate.status ?? migrate.signal}):\n${migrate.stdout}\n${migrate.stderr}`,
    );
  }
}

/** Not copied into a snapshot: dependencies are linked; local state, VCS data and build output are not needed. */
const SNAPSHOT_SKIP = new Set(["node_modules", ".git", ".wrangler", "coverage", "dist"]);

/**
 * Copies the project into `dir` (about 10 MB: sources, config, .dev.vars and the docs assets)
 * and links node_modules, so wrangler and esbuild resolve packages exactly as in the tree.
 */
function snapshotTree(dir: string): string {
  cpSync(root, dir, {
    recursive: true,
    filter: (source) => {
      const path = relative(root, source);
      const top = path.split(sep)[0] ?? "";
      return !SNAPSHOT_SKIP.has(top) && path !== join(".generated", "build");
    },
  });
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"), "dir");
  return dir;
}

/**
 * Node 24 from this project's node_modules/.bin first on PATH (the wrangler shim runs
 * `#!/usr/bin/env node`), for any wrangler this harness runs, the peer's included.
 */
export function wranglerEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${join(root, "node_modules", ".bin")}${delimiter}${process.env.PATH ?? ""}`,
    WRANGLER_SEND_METRICS: "false",
    NO_COLOR: "1",
    FORCE_COLOR: "0",
  };
}

async function killTree(pid: number): Promise<void> {
  // Collect the tree first: once wrangler dies its children are re-parented and no longer found under it.
  const pids = processTree(pid);
  signal(-pid, "SIGTERM"); // the process group created by `detached: true`
  for (const each of pids) signal(each, "SIGTERM");
  if (await waitForExit(pids, 5_000)) return;
  signal(-pid, "SIGKILL");
  for (const each of pids) if (isAlive(each)) signal(each, "SIGKILL");
  if (!(await waitForExit(pids, 3_000))) {
    console.error(`local-worker: processes ${pids.filter(isAlive).join(", ")} survived SIGKILL`);
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

async function waitForExit(pids: readonly number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!pids.some(isAlive)) return true;
    await sleep(100);
  }
  return !pids.some(isAlive);
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  // Last resort on any exit (including an uncaught exception): synchronous, so SIGKILL only.
  process.on("exit", () => {
    for (const worker of running) {
      signal(-worker.pid, "SIGKILL");
      for (const pid of worker.processTreePids()) signal(pid, "SIGKILL");
    }
  });
  for (const name of ["SIGINT", "SIGTERM"] as const) {
    process.once(name, () => {
      console.error(`\nlocal-worker: ${name}, stopping wrangler dev`);
      void Promise.allSettled([...running].map((worker) => worker.stop())).then(() => process.exit(130));
    });
  }
}

/** A port free on 127.0.0.1 right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error("no port"))));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
