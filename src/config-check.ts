/**
 * `npm run config:check -- --env production` (scripts/config-check.ts is the thin CLI):
 * is an environment of wrangler.toml fit to deploy? Pure, so the same checks run in the
 * CLI (Node) and in the tests (workerd); never bundled into the Worker.
 *
 * - The environment's [vars] go through parseConfig() of src/env.ts, the very rules the
 *   Worker applies at its first request: one truth, no second schema to drift.
 * - The secrets it needs are named (their values never leave Cloudflare): always the
 *   signing and encryption keys, then what the configuration turns on (the email
 *   provider's key, Stripe's when plans are sold, R2's S3 keys, identity providers').
 *   With `--remote`, the CLI compares them with `wrangler secret list`.
 * - Placeholders are refused: `REPLACE` ids (`price_REPLACE_…`) anywhere, and in a deployed
 *   environment (staging, production) the domains reserved for documentation and tests
 *   (example.com/.net/.org, *.example, *.test, *.invalid, localhost), which would send
 *   people's links, redirects and email nowhere.
 */

import { routingProblems } from "./db/tenant-routing";
import { EMAIL_PROVIDER_SECRETS } from "./email/provider";
import { type Config, ConfigError, configSchema, parseConfig } from "./env";

/** What wrangler's reader gives for wrangler.toml: the top level, and `env.<name>` for each environment. */
type WranglerSection = { vars?: Record<string, unknown>; d1_databases?: { binding?: string }[] };
export type RawWranglerConfig = WranglerSection & { env?: Record<string, WranglerSection | undefined> };

export type ConfigCheckInput = {
  /** The `--env` name; undefined for the top level (local development). */
  environment?: string;
  config: RawWranglerConfig;
  /** Secret names that exist in Cloudflare (`wrangler secret list`), when checked; undefined: not checked. */
  existingSecrets?: readonly string[];
};

export type ConfigCheckReport = {
  /** One line per problem; the deploy should not go ahead unless this is empty. */
  problems: string[];
  /** The secrets this environment needs, in a stable order. */
  requiredSecrets: string[];
};

/** Keys every deployed Worker needs whatever is switched on: without them sign-in, MFA or webhooks fail. */
const ALWAYS_REQUIRED_SECRETS = ["JWT_PRIVATE_KEYS", "MFA_ENCRYPTION_KEY", "WEBHOOK_SECRET_ENCRYPTION_KEY"];

/** A value that stands for a secret the rules only ask to be set (never its format). */
const SECRET_STAND_IN = "set-as-a-secret";

const PLACEHOLDER_ID = /[\w.-]*REPLACE[\w.-]*/g;
/** RFC 2606 / RFC 6761 names: documentation and testing only, never reachable by a real user. */
const RESERVED_HOST =
  /(?<![\w-])((?:[\w-]+\.)*(?:example\.(?:com|net|org)|[\w-]+\.(?:example|test|invalid|localhost))|localhost|127\.0\.0\.1)(?![\w-]|\.\w)/gi;

export function environmentVars(config: RawWranglerConfig, environment?: string): Record<string, unknown> {
  if (environment === undefined) return config.vars ?? {};
  const section = config.env?.[environment];
  if (!section) throw new Error(`wrangler.toml has no [env.${environment}]`);
  // Wrangler does not inherit [vars] into an environment: what the section says is all it gets.
  return section.vars ?? {};
}

/** The D1 bindings an environment declares (not inherited from the top level either). */
function environmentD1Bindings(config: RawWranglerConfig, environment?: string): Set<string> {
  const section = environment === undefined ? config : config.env?.[environment];
  return new Set(
    (section?.d1_databases ?? []).flatMap((database) => (database.binding ? [database.binding] : [])),
  );
}

/**
 * Secrets that complete a setting made in [vars]: R2's S3 keys beside R2_S3_ENDPOINT or
 * R2_S3_BUCKET, a built-in identity provider's client secret beside its client id. src/env.ts
 * only asks that they be set together, so a stand-in may take their place when the vars are parsed.
 */
function secretsCompletingVars(vars: Record<string, unknown>): string[] {
  const names: string[] = [];
  if (vars.R2_S3_ENDPOINT !== undefined || vars.R2_S3_BUCKET !== undefined) {
    names.push("R2_S3_ACCESS_KEY_ID", "R2_S3_SECRET_ACCESS_KEY");
  }
  for (const provider of ["GOOGLE", "GITHUB"]) {
    if (vars[`OAUTH_${provider}_CLIENT_ID`] !== undefined) names.push(`OAUTH_${provider}_CLIENT_SECRET`);
  }
  return names;
}

/** The secrets a parsed configuration needs, given its vars. */
export function requiredSecrets(config: Config, vars: Record<string, unknown>): string[] {
  const names = [...ALWAYS_REQUIRED_SECRETS];
  // Without it GET /metrics is public in production.
  if (config.isProduction) names.push("METRICS_TOKEN");
  const emailKey = EMAIL_PROVIDER_SECRETS[config.EMAIL_PROVIDER];
  if (emailKey) names.push(emailKey);
  if (config.BILLING_PLANS.plans.length + config.BILLING_PLANS.credit_packs.length > 0) {
    names.push("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET");
  }
  names.push(...secretsCompletingVars(vars));
  return names;
}

function placeholderProblems(vars: Record<string, unknown>, deployed: boolean): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(vars)) {
    if (typeof value !== "string") continue;
    const ids = [...new Set(value.match(PLACEHOLDER_ID) ?? [])];
    if (ids.length > 0) {
      problems.push(
        `${name}: placeholder ${ids.map((id) => `\`${id}\``).join(", ")}: put the real values here`,
      );
    }
    if (!deployed) continue;
    const hosts = [...new Set([...value.matchAll(RESERVED_HOST)].map((match) => match[1]?.toLowerCase()))];
    if (hosts.length > 0) {
      problems.push(
        `${name}: ${hosts.map((host) => `\`${host}\``).join(", ")}: a domain reserved for documentation and tests, not this deployment's own`,
      );
    }
  }
  return problems;
}

function shapeProblems(vars: Record<string, unknown>): string[] {
  const known = new Set(Object.keys(configSchema.shape));
  const problems: string[] = [];
  for (const [name, value] of Object.entries(vars)) {
    if (!known.has(name)) {
      problems.push(
        `${name}: not a setting the Worker reads (src/env.ts); a misspelt name is silently ignored`,
      );
    } else if (typeof value !== "string") {
      // Wrangler hands a TOML number or table to the Worker as JSON, which getConfig() ignores.
      problems.push(`${name}: must be a string in wrangler.toml (quote it), or the Worker will not read it`);
    }
  }
  return problems;
}

export function checkConfig(input: ConfigCheckInput): ConfigCheckReport {
  const vars = environmentVars(input.config, input.environment);
  const standIns = Object.fromEntries(secretsCompletingVars(vars).map((name) => [name, SECRET_STAND_IN]));
  let config: Config | undefined;
  const problems = shapeProblems(vars);
  try {
    config = parseConfig({ ...standIns, ...vars });
    problems.push(
      ...routingProblems(config.TENANT_DATABASES, environmentD1Bindings(input.config, input.environment)),
    );
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.issues);
  }
  const deployed = config
    ? config.ENVIRONMENT === "staging" || config.isProduction
    : input.environment !== undefined;
  problems.push(...placeholderProblems(vars, deployed));
  const required = config ? requiredSecrets(config, vars) : [...ALWAYS_REQUIRED_SECRETS];
  for (const name of required) {
    if (vars[name] !== undefined) {
      problems.push(
        `${name}: a secret, not a [vars] entry: remove it from wrangler.toml and \`wrangler secret put ${name}\``,
      );
    } else if (input.existingSecrets && !input.existingSecrets.includes(name)) {
      problems.push(
        `${name}: secret missing: \`wrangler secret put ${name}${input.environment ? ` --env ${input.environment}` : ""}\``,
      );
    }
  }
  return { problems, requiredSecrets: required };
}
