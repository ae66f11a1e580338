/**
 * Bindings, variables and secrets. Every variable the code reads is declared in
 * `configSchema` below, documented in the README and in .dev.vars.example, and
 * validated once per isolate (per env object) at first use: a request never pays
 * for zod-parsing the environment again.
 */
import { z } from "zod";
import type { ServiceContext } from "./lib/context";
import type { Logger } from "./lib/logger";
import type { Principal } from "./lib/principal";

/** Bindings come from wrangler.toml through `npm run cf-typegen` (worker-configuration.d.ts). */
export type Bindings = Cloudflare.Env;

export type AppVariables = {
  requestId: string;
  logger: Logger;
  principal: Principal;
  ctx: ServiceContext;
};

export type AppEnv = { Bindings: Bindings; Variables: AppVariables };

const booleanString = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((value) => value === "true" || value === "1" || value === "yes");

const seconds = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Comma-separated list; blank entries dropped. */
const csv = z.string().transform((value) =>
  value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0),
);

export const configSchema = z.object({
  ENVIRONMENT: z.enum(["development", "test", "staging", "production"]).default("development"),
  APP_NAME: z.string().min(1).default("Edge API Platform"),
  APP_URL: z.url().default("http://localhost:8787"),
  API_DOCS_ENABLED: booleanString.optional(),
  CORS_ORIGINS: csv.default([]),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  JWT_ISSUER: z.string().min(1).default("http://localhost:8787"),
  JWT_AUDIENCE: z.string().min(1).default("edge-api-platform"),
  ACCESS_TOKEN_TTL: seconds(60, 86_400).default(900),
  REFRESH_TOKEN_TTL: seconds(3_600, 31_536_000).default(2_592_000),
  METRICS_TOKEN: z.string().optional(),
});

type RawConfig = z.infer<typeof configSchema>;

export type Config = Omit<RawConfig, "API_DOCS_ENABLED"> & {
  /** Docs default to on everywhere but production. */
  API_DOCS_ENABLED: boolean;
  isProduction: boolean;
};

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid configuration: ${issues.join("; ")}`);
    this.name = "ConfigError";
  }
}

const cache = new WeakMap<object, Config>();

/** Parses the string variables of `env` once; later calls with the same env object are a map lookup. */
export function getConfig(env: Bindings): Config {
  const cached = cache.get(env);
  if (cached) return cached;

  // Empty strings mean "not set" (an unset optional secret in .dev.vars is an empty line).
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = (env as unknown as Record<string, unknown>)[key];
    if (typeof value === "string" && value.trim() !== "") raw[key] = value.trim();
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`));
  }
  const isProduction = parsed.data.ENVIRONMENT === "production";
  const config: Config = {
    ...parsed.data,
    API_DOCS_ENABLED: parsed.data.API_DOCS_ENABLED ?? !isProduction,
    isProduction,
  };
  cache.set(env, config);
  return config;
}
