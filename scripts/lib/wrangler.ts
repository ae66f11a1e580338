/** Runs the project's own Wrangler (node_modules/.bin), on the Node that npm put on PATH. */
import { spawnSync } from "node:child_process";
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
