/**
 * `npm run dev`: everything a fresh clone needs, then `wrangler dev` on :8787.
 *   1. docs assets copied out of node_modules
 *   2. .dev.vars written with fresh random secrets when missing
 *   3. local D1 migrations applied (to DB and to TENANT_DB_EXAMPLE, the local tenant database)
 *   4. a staff user seeded (its password printed once)
 *   5. wrangler dev with local D1, KV, R2, Queues and Durable Objects
 *   6. once it answers GET /health/live, a banner: API, docs, dev mailbox, /metrics, staff user
 * Extra arguments go to wrangler dev, e.g. `npm run dev -- --port 8788`.
 */
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_PORT, portFromArgs, printBanner, readDevVar, waitUntilLive } from "./lib/dev-banner.ts";
import { ensureDevVars } from "./lib/dev-vars.ts";
import { runWrangler, wranglerBin } from "./lib/wrangler.ts";
import { seedAdmin } from "./seed-admin.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

await import("./copy-docs-assets.ts");

const devVars = ensureDevVars(root);
console.log(
  devVars.created
    ? "dev: wrote .dev.vars with fresh secrets"
    : devVars.added.length > 0
      ? `dev: using existing .dev.vars; added ${devVars.added.join(", ")} (new since it was written)`
      : "dev: using existing .dev.vars",
);

console.log("dev: applying local D1 migrations");
runWrangler(root, ["d1", "migrations", "apply", "DB", "--local"], { quiet: true });
// Every tenant database has the whole schema (docs/SCALING.md), so TENANT_DATABASES can route to it.
runWrangler(root, ["d1", "migrations", "apply", "TENANT_DB_EXAMPLE", "--local"], { quiet: true });

const staff = await seedAdmin();

const args = process.argv.slice(2);
const wranglerArgs = [
  "dev",
  ...(args.some((arg) => arg.startsWith("--port")) ? [] : ["--port", String(DEFAULT_PORT)]),
  ...args,
];
const child = spawn(wranglerBin(root), wranglerArgs, { cwd: root, stdio: "inherit" });
let running = true;
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
child.on("exit", (code) => {
  running = false;
  process.exit(code ?? 0);
});

const baseUrl = `http://localhost:${portFromArgs(args)}`;
if (await waitUntilLive(baseUrl, () => running)) {
  await printBanner({
    baseUrl,
    staff,
    metricsTokenSet: readDevVar(devVars.path, "METRICS_TOKEN") !== undefined,
  });
}
