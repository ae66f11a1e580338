/**
 * Bindings, variables and secrets. Every variable the code reads is declared in
 * `configSchema` below, documented in docs/configuration.md (one line each in
 * README.md) and in .dev.vars.example, and validated once per isolate (per env
 * object) at first use: a request never pays for zod-parsing the environment again.
 */
import { z } from "zod";
import { d1BindingNames, routingProblems, tenantRoutingSchema } from "./db/tenant-routing";
import { parseMailbox } from "./email/mailbox";
import { EMAIL_PROVIDERS } from "./email/provider";
import { DEFAULT_PARAMS, parseScryptParams, type ScryptParams } from "./lib/password-hashing";
import { policyOverridesSchema } from "./lib/rate-limit/policies";
import {
  environmentProblems,
  oidcProvidersSchema,
  redirectUrlsSchema,
} from "./modules/auth/identity-providers/provider-settings";
import { resolveRelyingParty } from "./modules/auth/passkeys/relying-party";
import { billingPlansSchema, EMPTY_CATALOG } from "./modules/billing/billing.plans";
import { fcmServiceAccountSchema } from "./modules/push/fcm-service-account";

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

/** `N=16384,r=8,p=5` (src/lib/password-hashing.ts says what is accepted and why). */
const scryptParams = z.string().transform((value, ctx): ScryptParams => {
  const parsed = parseScryptParams(value);
  if (typeof parsed === "string") {
    ctx.addIssue({ code: "custom", message: parsed });
    return z.NEVER;
  }
  return parsed;
});

/** An absolute http(s) URL. */
const httpUrl = z.url({ protocol: /^https?$/ });

/** `addr@example.com` or `Display Name <addr@example.com>`: the two forms a From header (and Resend) accepts. */
const mailbox = z
  .string()
  .refine(
    (value) => z.email().safeParse(parseMailbox(value).email).success,
    "must be an email address, optionally with a display name: Name <address@example.com>",
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
  /**
   * scrypt parameters of new password hashes, `N=16384,r=8,p=5` (OWASP's, the default); optionally
   * `,keyLength=64`. Stored hashes carry their own parameters and keep verifying when this changes; one
   * weaker than this (in N*r*p or N*r) is rehashed at its next sign-in, a stronger one is kept.
   * N*r*p between 2^18 and 2^20 (more is over a quarter of a second of CPU a hash); docs/auth.md → Flows.
   */
  PASSWORD_HASH_PARAMS: scryptParams.default(DEFAULT_PARAMS),
  /** Seconds a session may live from its sign-in, however often it is refreshed. */
  SESSION_MAX_AGE: seconds(3_600, 31_536_000).default(7_776_000),
  /**
   * Sign-in with identity providers (src/modules/auth/identity-providers). Where a provider sign-in
   * may send the client back: comma-separated, each redirect_uri must equal one exactly (web pages,
   * and custom schemes such as myapp://auth/callback for mobile apps). Empty: provider sign-in refuses
   * every redirect_uri.
   */
  AUTH_REDIRECT_URLS: redirectUrlsSchema.default([]),
  /** Google's OAuth client (Google Cloud console → Credentials); both or neither. */
  OAUTH_GOOGLE_CLIENT_ID: z.string().max(512).optional(),
  OAUTH_GOOGLE_CLIENT_SECRET: z.string().max(2048).optional(),
  /** A GitHub OAuth App (Settings → Developer settings → OAuth Apps); both or neither. */
  OAUTH_GITHUB_CLIENT_ID: z.string().max(512).optional(),
  OAUTH_GITHUB_CLIENT_SECRET: z.string().max(2048).optional(),
  /** Standards OIDC providers as a JSON array (provider-settings.ts); a secret, as it holds client secrets. */
  OIDC_PROVIDERS: oidcProvidersSchema.default([]),
  /**
   * Passkeys (src/modules/auth/passkeys/relying-party.ts): the domain they are bound to (default the host
   * of APP_URL), the name authenticators show (default APP_NAME), and the origins ceremonies may run on
   * (comma-separated; default the origin of APP_URL). Checked together once parsed, in getConfig().
   */
  WEBAUTHN_RP_ID: z.string().toLowerCase().optional(),
  WEBAUTHN_RP_NAME: z
    .string()
    .max(64)
    .regex(/^[^\p{Cc}]*$/u, "must not contain control characters")
    .optional(),
  WEBAUTHN_ORIGINS: csv.optional(),
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
  /**
   * 32 random bytes, base64url: encrypts the webhook endpoints' signing secrets at rest (src/lib/secret-box.ts),
   * which must be read back to sign each delivery. Its own key rather than MFA_ENCRYPTION_KEY: either can be
   * rotated or lost without touching the other. `npm run dev` generates it; without it, creating an endpoint
   * or rotating its secret answers 503 `webhooks_not_configured` and deliveries fail until it is back.
   */
  WEBHOOK_SECRET_ENCRYPTION_KEY: z
    .string()
    .regex(/^[A-Za-z0-9_-]{43}$/, "must be 32 random bytes, base64url-encoded (43 characters)")
    .optional(),
  METRICS_TOKEN: z.string().optional(),
  /** Sentry's DSN: when set, unexpected errors (HTTP 5xx, a queue message's last attempt, cron, Durable Objects) go there. */
  SENTRY_DSN: z.url({ protocol: /^https?$/ }).optional(),
  /** The release Sentry groups events by (e.g. the git commit); unset: none. */
  SENTRY_RELEASE: z.string().trim().max(200).optional(),
  /** Where rate-limit counters live: `kv` (approximate, cheap) or `durable_object` (exact); see src/lib/rate-limit/store.ts. */
  RATE_LIMIT_STORE: z.enum(["kv", "durable_object"]).default("kv"),
  /** Per-policy limits over the defaults in src/lib/rate-limit/policies.ts: JSON, e.g. {"anonymous":"120/60","login":"5/15m"}. */
  RATE_LIMIT_POLICIES: policyOverridesSchema.default({}),
  /**
   * Who delivers email (src/email/providers): `console` logs each email as one JSON line instead of
   * sending it (development and tests); `resend`, `postmark`, `sendgrid`, `mailgun` call that
   * provider's HTTP API; `cloudflare` sends through the Workers `send_email` binding (SEND_EMAIL).
   */
  EMAIL_PROVIDER: z.enum(EMAIL_PROVIDERS).default("console"),
  EMAIL_FROM: mailbox.default("Edge API Platform <no-reply@example.com>"),
  /**
   * Replaces the API base of the HTTP providers (Mailgun's EU region https://api.eu.mailgun.net,
   * SendGrid's https://api.eu.sendgrid.com, a proxy, a local fake). https only in production.
   */
  EMAIL_API_BASE_URL: httpUrl.optional(),
  /**
   * Each provider's credentials. Required only with their EMAIL_PROVIDER, and checked when an email is
   * delivered and by GET /health (src/email/providers/index.ts), not here: a missing secret must not
   * take the whole API down, and the queued email goes out once it is set.
   */
  RESEND_API_KEY: z.string().optional(),
  POSTMARK_SERVER_TOKEN: z.string().optional(),
  SENDGRID_API_KEY: z.string().optional(),
  MAILGUN_API_KEY: z.string().optional(),
  /** The Mailgun sending domain, e.g. mg.example.com (the `{domain}` of /v3/{domain}/messages). */
  MAILGUN_DOMAIN: z
    .string()
    .regex(
      /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i,
      "must be a domain name such as mg.example.com",
    )
    .optional(),
  /**
   * Web Push (src/modules/push): the VAPID private key, a P-256 scalar as 32 bytes base64url (the
   * format `npx web-push generate-vapid-keys` prints). `npm run dev` generates one; without it, Web
   * Push answers 503 `push_not_configured`.
   */
  VAPID_PRIVATE_KEY: z
    .string()
    .regex(/^[A-Za-z0-9_-]{43}$/, "must be a P-256 private key: 32 bytes, base64url-encoded (43 characters)")
    .optional(),
  /** Who push services contact about our pushes (VAPID `sub`): `mailto:` or `https:`. Default: APP_URL when https, else mailto: EMAIL_FROM. */
  VAPID_SUBJECT: z
    .string()
    .regex(/^(mailto:[^\s@]+@[^\s@]+|https:\/\/\S+)$/, "must be a mailto: address or an https: URL")
    .optional(),
  /** FCM HTTP v1 (Android, iOS): the Firebase service-account key, as its JSON file. Without it, FCM answers 503 `push_not_configured`. */
  FCM_SERVICE_ACCOUNT: fcmServiceAccountSchema.optional(),
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
  /**
   * `false` switches realtime off: GET /notifications/ws and POST /notifications/ws-ticket answer 404;
   * notifications still reach the REST list, email and push.
   */
  WEBSOCKETS_ENABLED: booleanString.default(true),
  /**
   * Most notification sockets one user may hold open at once (tabs, phones); connecting one more closes
   * the oldest with 4008. Raise it for a broadcast-style account (a wall display fleet, a kiosk user).
   * One user's hub is one Durable Object: every notification is sent to each of its sockets in turn.
   */
  NOTIFICATIONS_MAX_SOCKETS_PER_USER: z.coerce.number().int().min(1).max(10_000).default(100),
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
  /**
   * Which D1 binding holds an organization's tenant data (its files; docs/SCALING.md): JSON from
   * organization id to binding name, `*` for every organization not listed. `{}`: all in `DB`.
   * Each name must be a D1 binding of the Worker (checked in getConfig()).
   */
  TENANT_DATABASES: tenantRoutingSchema.default({}),
  /**
   * Days an audit row stays in D1. Older rows are archived to the FILES bucket (gzip NDJSON under
   * `audit-archive/`) by the `audit.archive_old` cron, then deleted (docs/OPERATIONS.md). At least 30:
   * the database refuses to delete a younger row (migration `audit_archive_deletes`).
   */
  AUDIT_RETENTION_DAYS: z.coerce.number().int().min(30).max(36_500).default(365),
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

export type Config = Omit<
  RawConfig,
  "API_DOCS_ENABLED" | "DEV_MAILBOX_ENABLED" | "WEBAUTHN_RP_ID" | "WEBAUTHN_RP_NAME" | "WEBAUTHN_ORIGINS"
> & {
  /** Docs default to on everywhere but production. */
  API_DOCS_ENABLED: boolean;
  /** The dev mailbox defaults to on in development and test, and is never on in staging or production. */
  DEV_MAILBOX_ENABLED: boolean;
  isProduction: boolean;
  /** The passkeys' relying party, defaults applied: RP ID, the name shown, the accepted origins. */
  WEBAUTHN_RP_ID: string;
  WEBAUTHN_RP_NAME: string;
  WEBAUTHN_ORIGINS: string[];
  /** Presigned URLs straight to R2 when set; null: signed URLs on this API (src/lib/storage). */
  r2S3: R2S3Credentials | null;
};

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid configuration: ${issues.join("; ")}`);
    this.name = "ConfigError";
  }
}

/** A built-in provider is configured by its client id and secret together; one alone is a mistake. */
function unpairedClientCredentials(config: RawConfig): string[] {
  const pairs = [
    ["OAUTH_GOOGLE_CLIENT_ID", "OAUTH_GOOGLE_CLIENT_SECRET"],
    ["OAUTH_GITHUB_CLIENT_ID", "OAUTH_GITHUB_CLIENT_SECRET"],
  ] as const;
  return pairs
    .filter(([id, secret]) => (config[id] === undefined) !== (config[secret] === undefined))
    .map(([id, secret]) => `${config[id] === undefined ? id : secret}: set ${id} and ${secret} together`);
}

const cache = new WeakMap<object, Config>();

/** Parses the string variables of `env` once; later calls with the same env object are a map lookup. */
export function getConfig(env: Bindings): Config {
  const cached = cache.get(env);
  if (cached) return cached;
  const config = parseConfig(env as unknown as Record<string, unknown>);
  // Bindings are the Worker's, not settings: config:check compares with wrangler.toml's instead.
  const unboundTenantDatabases = routingProblems(config.TENANT_DATABASES, d1BindingNames(env));
  if (unboundTenantDatabases.length > 0) throw new ConfigError(unboundTenantDatabases);
  cache.set(env, config);
  return config;
}

/**
 * Every rule a configuration must pass, on plain name → value pairs: what getConfig() runs on the
 * Worker's env, and what `npm run config:check` (src/config-check.ts) runs on an environment's
 * wrangler.toml [vars] before a deploy, so both read one truth. Throws ConfigError.
 */
export function parseConfig(variables: Record<string, unknown>): Config {
  // Empty strings mean "not set" (an unset optional secret in .dev.vars is an empty line).
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = variables[key];
    if (typeof value === "string" && value.trim() !== "") raw[key] = value.trim();
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`));
  }
  const isProduction = parsed.data.ENVIRONMENT === "production";
  if (isProduction && parsed.data.EMAIL_PROVIDER === "console") {
    // The console provider writes reset links and sign-in codes into the logs.
    throw new ConfigError([
      "EMAIL_PROVIDER: `console` is refused in production; use resend, postmark, sendgrid, mailgun or cloudflare",
    ]);
  }
  if (
    isProduction &&
    parsed.data.EMAIL_API_BASE_URL &&
    !parsed.data.EMAIL_API_BASE_URL.startsWith("https:")
  ) {
    // The provider key travels in every request to it: never in clear text outside a laptop.
    throw new ConfigError(["EMAIL_API_BASE_URL: must be an https URL in production"]);
  }
  if (isProduction && parsed.data.MAGIC_LINK_DEBUG_ECHO_TOKEN) {
    // It would hand every sign-in code to whoever asks for it.
    throw new ConfigError(["MAGIC_LINK_DEBUG_ECHO_TOKEN: `true` is refused in production"]);
  }
  const providerProblems = [
    ...unpairedClientCredentials(parsed.data),
    ...environmentProblems({
      production: isProduction,
      oidcProviders: parsed.data.OIDC_PROVIDERS,
      redirectUrls: parsed.data.AUTH_REDIRECT_URLS,
    }),
  ];
  if (providerProblems.length > 0) throw new ConfigError(providerProblems);
  const deployed = parsed.data.ENVIRONMENT === "staging" || isProduction;
  if (deployed && parsed.data.DEV_MAILBOX_ENABLED) {
    // It would serve every email (reset links, sign-in codes) to anyone who asks, with no sign-in.
    throw new ConfigError([
      `DEV_MAILBOX_ENABLED: \`true\` is refused in ${parsed.data.ENVIRONMENT}; it is for development only`,
    ]);
  }
  const relyingParty = resolveRelyingParty(parsed.data);
  if (!relyingParty.ok) throw new ConfigError(relyingParty.issues);
  const config: Config = {
    ...parsed.data,
    WEBAUTHN_RP_ID: relyingParty.relyingParty.rpId,
    WEBAUTHN_RP_NAME: relyingParty.relyingParty.rpName,
    WEBAUTHN_ORIGINS: relyingParty.relyingParty.origins,
    API_DOCS_ENABLED: parsed.data.API_DOCS_ENABLED ?? !isProduction,
    DEV_MAILBOX_ENABLED: parsed.data.DEV_MAILBOX_ENABLED ?? !deployed,
    isProduction,
    r2S3: r2S3Credentials(parsed.data),
  };
  return config;
}
