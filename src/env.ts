/**
 * Bindings, variables and secrets. Every variable the code reads is declared in
 * `configSchema` below, documented in docs/configuration.md (one line each in
 * README.md) and in .dev.vars.example, and validated once per isolate (per env
 * object) at first use: a request never pays for zod-parsing the environment again.
 */
import { z } from "zod";
import { policyOverridesSchema } from "./lib/rate-limit/policies";
import { billingPlansSchema, EMPTY_CATALOG } from "./modules/billing/billing.plans";

/** Bindings come from wrangler.toml through `npm run cf-typegen` (worker-configuration.d.ts). */
export type Bindings = Cloudflare.Env;

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

/** An absolute http(s) URL. */
const httpUrl = z.url({ protocol: /^https?$/ });

/** `addr@example.com` or `Display Name <addr@example.com>`: the two forms a From header (and Resend) accepts. */
const mailbox = z.string().refine((value) => {
  const named = /^[^<>\r\n]*<([^<>]+)>$/.exec(value);
  return z.email().safeParse(named ? named[1] : value).success;
}, "must be an email address, optionally with a display name: Name <address@example.com>");

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
  /** JSON array of private ES256 JWKs with `kid`; parsed and imported by src/lib/jwt.ts (first signs, all verify). */
  JWT_PRIVATE_KEYS: z.string().optional(),
  /**
   * `optional` (default): registration answers 201 with tokens and unverified accounts sign in.
   * `required`: registration answers 202 whether or not the address has an account, and no password
   * sign-in before the address is proven (docs/security.md → Strict verification mode).
   */
  AUTH_EMAIL_VERIFICATION: z.enum(["optional", "required"]).default("optional"),
  /** Seconds after a sign-in during which sensitive actions need no further proof (`auth_time`). */
  REAUTH_WINDOW: seconds(30, 86_400).default(600),
  /** Seconds a session may live from its sign-in, however often it is refreshed. */
  SESSION_MAX_AGE: seconds(3_600, 31_536_000).default(7_776_000),
  /** Invitations an organization may send in any 24 hours. */
  INVITATIONS_PER_ORG_PER_DAY: z.coerce.number().int().min(1).max(100_000).default(50),
  /**
   * 32 random bytes, base64url: encrypts the TOTP secrets at rest (src/lib/secret-box.ts). `npm run dev`
   * generates it; without it, enrolling an authenticator app answers 503 `mfa_not_configured`.
   */
  MFA_ENCRYPTION_KEY: z
    .string()
    .regex(/^[A-Za-z0-9_-]{43}$/, "must be 32 random bytes, base64url-encoded (43 characters)")
    .optional(),
  METRICS_TOKEN: z.string().optional(),
  /** Where rate-limit counters live: `kv` (approximate, cheap) or `durable_object` (exact); see src/lib/rate-limit/store.ts. */
  RATE_LIMIT_STORE: z.enum(["kv", "durable_object"]).default("kv"),
  /** Per-policy limits over the defaults in src/lib/rate-limit/policies.ts: JSON, e.g. {"anonymous":"120/60","login":"5/15m"}. */
  RATE_LIMIT_POLICIES: policyOverridesSchema.default({}),
  /** `console` logs each email as one JSON line instead of sending it (development and tests). */
  EMAIL_PROVIDER: z.enum(["resend", "console"]).default("console"),
  EMAIL_FROM: mailbox.default("Edge API Platform <no-reply@example.com>"),
  /** Required when EMAIL_PROVIDER=resend; checked when an email is delivered, not here (see src/email/providers). */
  RESEND_API_KEY: z.string().optional(),
  /**
   * The page of the client app that signs in from a magic link: the emailed link is this URL plus
   * `?token=…`. Required outside tests (src/modules/auth/magic-code.service.ts says so when missing).
   */
  MAGIC_LINK_VERIFY_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** Echo the magic code as `debug_token` in POST /auth/magic/request's answer (local testing; refused in production). */
  MAGIC_LINK_DEBUG_ECHO_TOKEN: booleanString.default(false),
  /** Stripe API key (`sk_…` or a restricted `rk_…`); billing routes answer 503 `billing_not_configured` without it. */
  STRIPE_SECRET_KEY: z
    .string()
    .regex(/^(sk|rk)_(test|live)_[A-Za-z0-9]+$/, "must be a Stripe secret or restricted key (sk_… / rk_…)")
    .optional(),
  /** Signing secret of the webhook endpoint (`whsec_…`); POST /api/v1/webhooks/stripe answers 503 without it. */
  STRIPE_WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_\S+$/, "must be a Stripe webhook signing secret (whsec_…)")
    .optional(),
  /** Plans and credit packs as JSON (src/modules/billing/billing.plans.ts). */
  BILLING_PLANS: billingPlansSchema.default(EMPTY_CATALOG),
  /** Where Stripe Checkout sends the customer back; `{CHECKOUT_SESSION_ID}` and `{ORGANIZATION_ID}` are filled in. */
  BILLING_SUCCESS_URL: httpUrl.optional(),
  BILLING_CANCEL_URL: httpUrl.optional(),
  /** The app's billing page: the billing portal's return URL and the link in billing alerts. */
  BILLING_PORTAL_RETURN_URL: httpUrl.optional(),
  /** Owners and billing members are alerted when a debit takes the balance below this (0: never). */
  BILLING_LOW_CREDITS_THRESHOLD: z.coerce.number().int().min(0).max(100_000_000).default(10),
  /**
   * Keep a copy of every delivered email for GET /dev/mailbox (src/modules/dev-mailbox). Defaults to on
   * in development and test only; `true` in staging or production is refused below.
   */
  DEV_MAILBOX_ENABLED: booleanString.optional(),
  /** Largest file an organization may upload, in bytes (src/modules/files); 5 GiB is S3's single-PUT maximum. */
  FILES_MAX_SIZE: z.coerce
    .number()
    .int()
    .min(1)
    .max(5 * 1024 ** 3)
    .default(100 * 1024 ** 2),
  /** Bytes of files (pending uploads included) one organization may hold. */
  FILES_ORG_QUOTA_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(2 ** 50)
    .default(1024 ** 3),
  /**
   * R2's S3 API, for presigned upload and download URLs straight to R2 (docs/files.md). All four
   * or none: without them, uploads and downloads go through short-lived signed URLs on this API.
   * The endpoint is `https://<account_id>.r2.cloudflarestorage.com` (or a jurisdiction's, e.g.
   * `https://<account_id>.eu.r2.cloudflarestorage.com`); the bucket is the FILES binding's bucket.
   */
  R2_S3_ENDPOINT: httpUrl.optional(),
  R2_S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/, "must be an R2 bucket name (3–63 of a-z, 0-9 and -)")
    .optional(),
  R2_S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  R2_S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
});

/** The R2_S3_* settings, all four (see `configSchema`). */
export type R2S3Credentials = {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
};

const R2_S3_VARIABLES = [
  "R2_S3_ENDPOINT",
  "R2_S3_BUCKET",
  "R2_S3_ACCESS_KEY_ID",
  "R2_S3_SECRET_ACCESS_KEY",
] as const;

/** All four R2_S3_* or none: a half-configured S3 mode would hand out URLs R2 refuses. */
function r2S3Credentials(raw: z.infer<typeof configSchema>): R2S3Credentials | null {
  const missing = R2_S3_VARIABLES.filter((name) => raw[name] === undefined);
  if (missing.length === R2_S3_VARIABLES.length) return null;
  if (missing.length > 0) {
    throw new ConfigError(
      missing.map((name) => `${name}: required with the other R2_S3_* variables (set all four, or none)`),
    );
  }
  return {
    endpoint: (raw.R2_S3_ENDPOINT as string).replace(/\/+$/, ""),
    bucket: raw.R2_S3_BUCKET as string,
    accessKeyId: raw.R2_S3_ACCESS_KEY_ID as string,
    secretAccessKey: raw.R2_S3_SECRET_ACCESS_KEY as string,
  };
}

type RawConfig = z.infer<typeof configSchema>;

export type Config = Omit<RawConfig, "API_DOCS_ENABLED" | "DEV_MAILBOX_ENABLED"> & {
  /** Docs default to on everywhere but production. */
  API_DOCS_ENABLED: boolean;
  /** The dev mailbox defaults to on in development and test, and is never on in staging or production. */
  DEV_MAILBOX_ENABLED: boolean;
  isProduction: boolean;
  /** Presigned URLs straight to R2 when set; null: signed URLs on this API (src/lib/storage). */
  r2S3: R2S3Credentials | null;
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
  if (isProduction && parsed.data.EMAIL_PROVIDER === "console") {
    // The console provider writes reset links and sign-in codes into the logs.
    throw new ConfigError(["EMAIL_PROVIDER: `console` is refused in production; use `resend`"]);
  }
  if (isProduction && parsed.data.MAGIC_LINK_DEBUG_ECHO_TOKEN) {
    // It would hand every sign-in code to whoever asks for it.
    throw new ConfigError(["MAGIC_LINK_DEBUG_ECHO_TOKEN: `true` is refused in production"]);
  }
  const deployed = parsed.data.ENVIRONMENT === "staging" || isProduction;
  if (deployed && parsed.data.DEV_MAILBOX_ENABLED) {
    // It would serve every email (reset links, sign-in codes) to anyone who asks, with no sign-in.
    throw new ConfigError([
      `DEV_MAILBOX_ENABLED: \`true\` is refused in ${parsed.data.ENVIRONMENT}; it is for development only`,
    ]);
  }
  const config: Config = {
    ...parsed.data,
    API_DOCS_ENABLED: parsed.data.API_DOCS_ENABLED ?? !isProduction,
    DEV_MAILBOX_ENABLED: parsed.data.DEV_MAILBOX_ENABLED ?? !deployed,
    isProduction,
    r2S3: r2S3Credentials(parsed.data),
  };
  cache.set(env, config);
  return config;
}
