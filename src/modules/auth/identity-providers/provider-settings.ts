/**
 * The settings of provider sign-in, validated with the rest of the configuration in
 * src/env.ts (which imports this file, so it imports nothing from the app but
 * src/lib/json-setting.ts):
 *
 * - OIDC_PROVIDERS: a JSON array of standards OIDC providers (Keycloak, Auth0, Okta,
 *   Entra ID, a company IdP), each read through `{issuer}/.well-known/openid-configuration`:
 *     [{ "id": "keycloak", "name": "Company SSO", "issuer": "https://sso.example.com/realms/acme",
 *        "client_id": "edge-api", "client_secret": "…", "scopes": ["openid", "email", "profile"] }]
 * - AUTH_REDIRECT_URLS: the client pages (and mobile custom-scheme URLs) a sign-in may
 *   return to, comma-separated; a redirect_uri must equal one of them exactly.
 *
 * What depends on ENVIRONMENT (an http issuer is only for a local IdP; in production
 * only https) is checked by `environmentProblems`, which getConfig() calls once the
 * environment is known.
 */
import { z } from "zod";
import { jsonSetting } from "../../../lib/json-setting";

/** Built-in providers: an OIDC_PROVIDERS id may not take their names. */
export const BUILT_IN_PROVIDER_IDS = ["google", "github"] as const;

/** Lower-case letters, digits, `-` and `_`: it becomes a path segment of the callback URL. */
export const PROVIDER_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;

const DEFAULT_OIDC_SCOPES = ["openid", "email", "profile"];

const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .regex(/^[^\p{Cc}]*$/u, "must not contain control characters");

const oidcProviderSchema = z
  .strictObject({
    id: z
      .string()
      .regex(PROVIDER_ID_PATTERN, "must be 1–32 lower-case letters, digits, `-` or `_`, e.g. keycloak")
      .refine(
        (id) => !(BUILT_IN_PROVIDER_IDS as readonly string[]).includes(id),
        "is a built-in provider (google, github): configure those with OAUTH_GOOGLE_* / OAUTH_GITHUB_*",
      ),
    name: text(60),
    issuer: z
      .url({
        protocol: /^https?$/,
        error: "must be the issuer URL, e.g. https://sso.example.com/realms/acme",
      })
      .refine((value) => !/[?#]/.test(value), "must not have a query or fragment"),
    client_id: text(512),
    client_secret: text(2048),
    /** `openid` is added when missing: without it the provider sends no ID token. */
    scopes: z
      .array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, "must be a scope token (no spaces or quotes)"))
      .max(20)
      .optional()
      .transform((scopes) => {
        const list = scopes ?? DEFAULT_OIDC_SCOPES;
        return list.includes("openid") ? list : ["openid", ...list];
      }),
  })
  .transform(({ issuer, ...provider }) => ({
    ...provider,
    // "https://idp/realms/x/" and "https://idp/realms/x" are one issuer for discovery; the `iss` claim is compared with what the discovery document says.
    issuer: issuer.replace(/\/+$/, ""),
  }));

export type OidcProviderSettings = z.output<typeof oidcProviderSchema>;

const OIDC_EXAMPLE =
  '[{"id":"keycloak","name":"Company SSO","issuer":"https://sso.example.com/realms/acme","client_id":"edge-api","client_secret":"…"}]';

/** The OIDC_PROVIDERS variable: a JSON string → the validated list. */
export const oidcProvidersSchema = jsonSetting(
  z
    .array(oidcProviderSchema, { error: `must be a JSON array such as ${OIDC_EXAMPLE}` })
    .max(20)
    .superRefine((providers, ctx) => {
      const ids = providers.map((provider) => provider.id);
      const repeated = ids.filter((id, i) => ids.indexOf(id) !== i);
      if (repeated.length > 0) {
        ctx.addIssue({ code: "custom", message: `provider ids must be unique: ${repeated.join(", ")}` });
      }
    }),
  `must be a JSON array such as ${OIDC_EXAMPLE}`,
);

/** Schemes a browser would run or read instead of navigating to an app: never a sign-in's destination. */
const REFUSED_SCHEMES = new Set(["javascript:", "data:", "vbscript:", "file:", "blob:", "about:"]);

const isLoopback = (hostname: string) =>
  hostname === "localhost" || hostname === "127.0.0.1" || hostname === "[::1]";

/** One AUTH_REDIRECT_URLS entry: an absolute URL without a fragment (RFC 6749 §3.1.2). */
function redirectUrlProblem(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `"${value}" is not an absolute URL (e.g. https://app.example.com/auth/callback or myapp://auth/callback)`;
  }
  if (REFUSED_SCHEMES.has(url.protocol)) return `"${value}": the ${url.protocol} scheme is refused`;
  if (!/^[a-z][a-z0-9+.-]*:$/.test(url.protocol)) return `"${value}": not a valid scheme`;
  if (value.includes("#")) return `"${value}" must not have a fragment (#)`;
  if ((url.protocol === "https:" || url.protocol === "http:") && !url.hostname) {
    return `"${value}" has no host`;
  }
  return null;
}

/** The AUTH_REDIRECT_URLS variable: comma-separated, each kept exactly as written (matching is exact). */
export const redirectUrlsSchema = z.string().transform((value, ctx) => {
  const urls = value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
  for (const url of urls) {
    const problem = redirectUrlProblem(url);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  }
  return urls;
});

/**
 * Rules that need ENVIRONMENT: in production an issuer must be https (an http one is only
 * accepted for a local IdP on localhost or 127.0.0.1, outside production), and a
 * plain-http redirect URL only for a loopback host (RFC 8252 §7.3, native apps).
 */
export function environmentProblems(input: {
  production: boolean;
  oidcProviders: OidcProviderSettings[];
  redirectUrls: string[];
}): string[] {
  const problems: string[] = [];
  for (const provider of input.oidcProviders) {
    const issuer = new URL(provider.issuer);
    if (issuer.protocol === "https:") continue;
    if (input.production) {
      problems.push(`OIDC_PROVIDERS: "${provider.id}" issuer must be https in production`);
    } else if (!isLoopback(issuer.hostname)) {
      problems.push(
        `OIDC_PROVIDERS: "${provider.id}" issuer must be https (http only for a local IdP on localhost or 127.0.0.1)`,
      );
    }
  }
  if (input.production) {
    for (const value of input.redirectUrls) {
      const url = new URL(value);
      if (url.protocol === "http:" && !isLoopback(url.hostname)) {
        problems.push(`AUTH_REDIRECT_URLS: "${value}" must be https in production (http only for loopback)`);
      }
    }
  }
  return problems;
}
