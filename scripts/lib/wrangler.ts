/** Runs the project's own Wrangler (node_modules/.bin), on the Node that npm put on PATH. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function wranglerBin(root: string): string {
  return join(root, "node_modules", ".bin", "wrangler");
}

export function runWrangler(root: string, args: string[], options: { quiet?: boolean } = {}): string {
  const result = spawnSync(wranglerBin(root), args, {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: process.env.CI ?? "" },
    stdio: options.quiet ? ["ignore", "pipe", "pipe"] : ["ignore", "pipe", "inherit"],
  });
  if (result.status !== 0) {
    throw new Error(
      `wrangler ${args.join(" ")} failed (exit ${result.status}):\n${result.stdout}\n${result.stderr ?? ""}`,
    );
  }
  return result.stdout;
}

/** `wrangler d1 execute DB --local --json`: the rows of each statement. */
export function d1Local(root: string, sql: string): Array<Record<string, unknown>> {
  const out = runWrangler(root, ["d1", "execute", "DB", "--local", "--json", "--command", sql], {
    quiet: true,
  });
  const parsed = JSON.parse(out) as Array<{ results: Array<Record<string, unknown>> }>;
  return parsed.flatMap((statement) => statement.results ?? []);
}

/**
 * `wrangler d1 execute DB --local --file`: the statements run as one batch, so either all of
 * them are written or, when one fails, none (and the error says why).
 */
export function d1LocalFile(root: string, statements: readonly string[]): void {
  if (statements.length === 0) return;
  const dir = mkdtempSync(join(tmpdir(), "edge-api-sql-"));
  const file = join(dir, "statements.sql");
  try {
    writeFileSync(file, `${statements.join("\n")}\n`);
    runWrangler(root, ["d1", "execute", "DB", "--local", "--yes", "--file", file], { quiet: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
