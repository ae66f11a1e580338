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
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  applyLocalMigrations,
  freePort,
  type LocalWorker,
  startWranglerDev,
  wranglerEnv,
} from "../../scripts/lib/local-worker.ts";
import { wranglerBin } from "../../scripts/lib/wrangler.ts";

export const PEER_ROOT = join(dirname(fileURLToPath(import.meta.url)), "better-auth");

/** `npm ci` in the peer's folder when its wrangler is missing (a fresh clone). */
export function ensurePeerInstalled(): void {
  if (existsSync(wranglerBin(PEER_ROOT))) return;
  console.log(`bench: installing the peer's dependencies (npm ci in ${PEER_ROOT})`);
  const result = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], {
    cwd: PEER_ROOT,
    env: wranglerEnv(),
    stdio: ["ignore", "inherit", "inherit"],
    timeout: 600_000,
  });
  if (result.status !== 0) throw new Error(`npm ci in ${PEER_ROOT} failed (exit ${result.status})`);
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
  const build = spawnSync(wranglerBin(PEER_ROOT), ["deploy", "--dry-run", "--outdir", modulesDir], {
    cwd: PEER_ROOT,
    env: wranglerEnv(),
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 300_000,
  });
  if (build.status !== 0) {
    throw new Error(`peer: wrangler deploy --dry-run failed:\n${build.stdout}\n${build.stderr}`);
  }
  const persistTo = join(dir, "peer-state");
  applyLocalMigrations(PEER_ROOT, persistTo);
  return { configPath: join(PEER_ROOT, "wrangler.toml"), modulesDir, persistTo };
}

/** The peer under `wrangler dev`, started, stopped and cleaned up like ours (startWranglerDev). */
export async function startPeerWorker(): Promise<LocalWorker> {
  ensurePeerInstalled();
  const port = await freePort();
  return startWranglerDev(PEER_ROOT, mkdtempSync(join(tmpdir(), "peer-better-auth-")), {
    port,
    // Better Auth checks the Origin of state-changing requests against its base URL.
    vars: { BETTER_AUTH_URL: `http://127.0.0.1:${port}` },
  });
}
