/**
 * `npm run d1:replication -- --env production [--mode auto|disabled]`: turns D1 read
 * replication on (or off) for the databases an environment of wrangler.toml binds, and
 * prints each one's mode. Without --mode it only prints.
 *
 * Why a script: read replication is a setting of the D1 database, not of wrangler.toml
 * (wrangler's configuration schema has no field for it, and `wrangler d1` no command), so
 * it is set through the Cloudflare API, as docs/SCALING.md#turning-read-replication-on says.
 * Reading needs a Wrangler login (`wrangler d1 info`); changing needs CLOUDFLARE_API_TOKEN
 * (an API token with D1 edit) and CLOUDFLARE_ACCOUNT_ID.
 *
 * Exit 0 when every database is in the asked mode, 1 when one could not be set, 2 on a usage error.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { experimental_readRawConfig } from "wrangler";
import { runWrangler } from "./lib/wrangler.ts";

const root = resolve(import.meta.dirname, "..");
const MODES = ["auto", "disabled"] as const;

let options: { env?: string; mode?: string; config?: string };
try {
  ({ values: options } = parseArgs({
    options: {
      env: { type: "string", short: "e" },
      mode: { type: "string" },
      config: { type: "string", short: "c", default: "wrangler.toml" },
    },
  }));
  if (!options.env) throw new Error("--env is required: local D1 has no replicas");
  if (options.mode !== undefined && !MODES.includes(options.mode as (typeof MODES)[number])) {
    throw new Error(`--mode must be one of ${MODES.join(", ")}`);
  }
} catch (error) {
  console.error((error as Error).message);
  console.error(
    "usage: npm run d1:replication -- --env <name> [--mode auto|disabled] [--config wrangler.toml]",
  );
  process.exit(2);
}
const environment = options.env as string;

type Section = { d1_databases?: { binding?: string; database_name?: string }[] };
const { rawConfig } = experimental_readRawConfig({
  config: resolve(root, options.config ?? "wrangler.toml"),
});
const section = (rawConfig as { env?: Record<string, Section | undefined> }).env?.[environment];
const databases = (section?.d1_databases ?? []).filter((database) => database.database_name);
if (databases.length === 0) {
  console.error(`d1:replication: [env.${environment}] binds no D1 database`);
  process.exit(2);
}

/** `wrangler d1 info <name> --json`: the database's id and, when set, its replication mode. */
function databaseInfo(name: string): { uuid: string; mode: string } {
  const info = JSON.parse(
    runWrangler(root, ["d1", "info", name, "--env", environment, "--json"], { quiet: true }),
  ) as {
    uuid: string;
    "read_replication.mode"?: string;
    read_replication?: { mode?: string };
  };
  return {
    uuid: info.uuid,
    mode: info["read_replication.mode"] ?? info.read_replication?.mode ?? "disabled",
  };
}

async function setMode(uuid: string, mode: string): Promise<void> {
  const token = process.env.CLOUDFLARE_API_TOKEN;
  const account = process.env.CLOUDFLARE_ACCOUNT_ID;
  if (!token || !account)
    throw new Error("set CLOUDFLARE_API_TOKEN (D1 edit) and CLOUDFLARE_ACCOUNT_ID to change it");
  const response = await fetch(
    `https://api.cloudflare.com/client/v4/accounts/${account}/d1/database/${uuid}`,
    {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ read_replication: { mode } }),
    },
  );
  if (!response.ok)
    throw new Error(`the Cloudflare API answered ${response.status}: ${await response.text()}`);
}

let failed = 0;
for (const { binding, database_name: name } of databases) {
  const label = `${binding} (${name})`;
  try {
    const { uuid, mode } = databaseInfo(name as string);
    if (options.mode && options.mode !== mode) {
      await setMode(uuid, options.mode);
      console.log(`${label}: read replication ${mode} → ${options.mode}`);
    } else {
      console.log(`${label}: read replication ${mode}`);
    }
  } catch (error) {
    failed += 1;
    console.error(`${label}: ${(error as Error).message}`);
  }
}
process.exit(failed > 0 ? 1 : 0);
