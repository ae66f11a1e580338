/**
 * Starts the peer Worker (bench/peers/better-auth: Hono + Better Auth on a local D1) the way
 * scripts/lib/local-worker.ts starts ours: `wrangler dev` from the peer's own node_modules, on a
 * free port of 127.0.0.1, its state in a fresh temporary directory with the schema migration
 * applied, output to a file. The result has the LocalWorker shape, so the benchmark's settle,
 * CPU accounting and scenario runner treat both stacks alike.
 *
 * The peer's dependencies are installed on first use (`npm ci` in its folder, from its
 * committed lockfile), so a fresh clone runs `npm run bench -- --peers` without a manual step.
 */
import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, type LocalWorker, sleep } from "../../scripts/lib/local-worker.ts";
import { isAlive, processTree } from "../../scripts/lib/proc.ts";

export const PEER_ROOT = join(dirname(fileURLToPath(import.meta.url)), "better-auth");
const projectRoot = join(PEER_ROOT, "..", "..", "..");
const START_TIMEOUT_MS = 90_000;

/** Node 24 (the project's, from node_modules/.bin) first on PATH: wrangler's shim runs `#!/usr/bin/env node`. */
function peerEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${join(projectRoot, "node_modules", ".bin")}${delimiter}${process.env.PATH ?? ""}`,
    WRANGLER_SEND_METRICS: "false",
    NO_COLOR: "1",
    FORCE_COLOR: "0",
  };
}

/** `npm ci` in the peer's folder when its wrangler is missing (a fresh clone). */
export function ensurePeerInstalled(): void {
  if (existsSync(join(PEER_ROOT, "node_modules", ".bin", "wrangler"))) return;
  console.log(`bench: installing the peer's dependencies (npm ci in ${PEER_ROOT})`);
  const result = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], {
    cwd: PEER_ROOT,
    env: peerEnv(),
    stdio: ["ignore", "inherit", "inherit"],
    timeout: 600_000,
  });
  if (result.status !== 0) throw new Error(`npm ci in ${PEER_ROOT} failed (exit ${result.status})`);
}

/** The peer's schema in a local D1 state directory (the layout `wrangler --persist-to` uses). */
function applyPeerMigrations(persistTo: string): void {
  const migrate = spawnSync(
    join(PEER_ROOT, "node_modules", ".bin", "wrangler"),
    ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo],
    { cwd: PEER_ROOT, env: peerEnv(), encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 },
  );
  if (migrate.status !== 0) {
    throw new Error(`peer: d1 migrations apply failed:\n${migrate.stdout}\n${migrate.stderr}`);
  }
}

/**
 * For `npm run bench:worker-only`: the peer's deployable bundle (`wrangler deploy --dry-run
 * --outdir`, the peer's own wrangler) and a fresh local state with its schema, both under `dir`.
 */
export function preparePeerBundle(dir: string): {
  configPath: string;
  modulesDir: string;
  persistTo: string;
} {
  ensurePeerInstalled();
  const modulesDir = join(dir, "peer-build");
  const build = spawnSync(
    join(PEER_ROOT, "node_modules", ".bin", "wrangler"),
    ["deploy", "--dry-run", "--outdir", modulesDir],
    { cwd: PEER_ROOT, env: peerEnv(), encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 300_000 },
  );
  if (build.status !== 0) {
    throw new Error(`peer: wrangler deploy --dry-run failed:\n${build.stdout}\n${build.stderr}`);
  }
  const persistTo = join(dir, "peer-state");
  applyPeerMigrations(persistTo);
  return { configPath: join(PEER_ROOT, "wrangler.toml"), modulesDir, persistTo };
}

export async function startPeerWorker(): Promise<LocalWorker> {
  ensurePeerInstalled();
  const wrangler = join(PEER_ROOT, "node_modules", ".bin", "wrangler");
  const tempDir = mkdtempSync(join(tmpdir(), "peer-better-auth-"));
  const persistTo = join(tempDir, "state");
  const logPath = join(tempDir, "wrangler.log");
  const env = peerEnv();
  const removeTemp = () => rmSync(tempDir, { recursive: true, force: true });

  try {
    applyPeerMigrations(persistTo);
  } catch (error) {
    removeTemp();
    throw error;
  }

  const port = await freePort();
  const inspectorPort = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logFd = openSync(logPath, "a");
  const child = spawn(
    wrangler,
    [
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
      // Better Auth checks the Origin of state-changing requests against its base URL.
      "--var",
      `BETTER_AUTH_URL:${url}`,
    ],
    { cwd: PEER_ROOT, env, detached: true, stdio: ["ignore", logFd, logFd] },
  );
  closeSync(logFd);
  if (child.pid === undefined) {
    removeTemp();
    throw new Error(`could not start ${wrangler}`);
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
    url,
    pid,
    root: PEER_ROOT,
    persistTo,
    logPath,
    inspectorPort,
    logTail,
    processTreePids: () => processTree(pid),
    stop() {
      stopping ??= stopTree(pid).then(removeTemp);
      return stopping;
    },
  };
  // Ctrl-C or a crash of the harness must not leave the peer's workerd behind.
  const onExit = () => {
    for (const each of [pid, ...processTree(pid)]) signal(each, "SIGKILL");
  };
  process.once("exit", onExit);

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (true) {
    if (exited || Date.now() > deadline) {
      const tail = logTail();
      await worker.stop();
      throw new Error(`the peer's wrangler dev did not answer GET /health/live:\n${tail}`);
    }
    try {
      const response = await fetch(`${url}/health/live`, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.status === 200) return worker;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
}

async function stopTree(pid: number): Promise<void> {
  const pids = processTree(pid);
  signal(-pid, "SIGTERM");
  for (const each of pids) signal(each, "SIGTERM");
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline && pids.some(isAlive)) await sleep(100);
  for (const each of pids) if (isAlive(each)) signal(each, "SIGKILL");
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}
