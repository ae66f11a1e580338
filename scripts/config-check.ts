/**
 * `npm run config:check -- --env production [--remote]`: is this environment of
 * wrangler.toml fit to deploy? Reads wrangler.toml with Wrangler's own reader, then runs
 * src/config-check.ts, the same rules the Worker applies (src/env.ts) plus the required
 * secrets and the placeholder refusals (docs/deploying.md). `--remote` also compares the
 * required secrets with `wrangler secret list` (needs a Wrangler login). Without `--env`,
 * the top level (local development) is checked.
 *
 * Exit 0 when fit, 1 with one line per problem otherwise, 2 on a usage error.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { experimental_readRawConfig } from "wrangler";
import { allowWorkerImports } from "./lib/worker-imports.ts";
import { runWrangler } from "./lib/wrangler.ts";

const root = resolve(import.meta.dirname, "..");

let options: { env?: string; remote?: boolean; config?: string };
try {
  ({ values: options } = parseArgs({
    options: {
      env: { type: "string", short: "e" },
      remote: { type: "boolean", default: false },
      config: { type: "string", short: "c", default: "wrangler.toml" },
    },
  }));
} catch (error) {
  console.error((error as Error).message);
  console.error("usage: npm run config:check -- [--env <name>] [--remote] [--config wrangler.toml]");
  process.exit(2);
}

/** src/config-check.ts's entry point. Its types belong to the Worker's tsconfig (Cloudflare's), not Node's. */
type CheckConfig = (input: {
  environment?: string;
  config: unknown;
  existingSecrets?: readonly string[];
}) => { problems: string[]; requiredSecrets: string[] };

allowWorkerImports();
// A specifier held in a variable keeps TypeScript from type-checking the Worker's code under Node's types.
const rules = "../src/config-check.ts";
const { checkConfig } = (await import(rules)) as { checkConfig: CheckConfig };

const { rawConfig } = experimental_readRawConfig({
  config: resolve(root, options.config ?? "wrangler.toml"),
});
const label = options.env ? `[env.${options.env}]` : "the top level";

/** `wrangler secret list --format json`: [{ name, type }]. */
function existingSecrets(environment: string | undefined): string[] {
  const args = ["secret", "list", "--format", "json", ...(environment ? ["--env", environment] : [])];
  const listed = JSON.parse(runWrangler(root, args, { quiet: true })) as Array<{ name: string }>;
  return listed.map((secret) => secret.name);
}

let report: ReturnType<CheckConfig>;
try {
  report = checkConfig({
    environment: options.env,
    config: rawConfig,
    existingSecrets: options.remote ? existingSecrets(options.env) : undefined,
  });
} catch (error) {
  console.error(`config:check: ${(error as Error).message}`);
  process.exit(2);
}

for (const problem of report.problems) console.error(problem);
const secretsNote = options.remote
  ? "checked against `wrangler secret list`"
  : "not checked: add --remote to compare with `wrangler secret list`";
console.log(`Secrets ${label} needs (${secretsNote}): ${report.requiredSecrets.join(", ")}`);
if (report.problems.length > 0) {
  console.error(`config:check: ${report.problems.length} problem(s) in ${label} of ${options.config}`);
  process.exit(1);
}
console.log(`config:check: ${label} of ${options.config} is fit to deploy`);
