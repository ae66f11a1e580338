/**
 * What a provider publishes about itself, cached in this isolate (module scope outlives
 * the request, so the next sign-in on this isolate reuses it):
 *
 * - OIDC discovery documents (`{issuer}/.well-known/openid-configuration`), for
 *   DISCOVERY_TTL_MS; when a refresh fails, a document younger than DISCOVERY_STALE_MS
 *   is used as it was (a provider's discovery endpoint having a bad minute should not
 *   stop sign-ins whose keys are still good);
 * - signing keys (JWKS), one jose remote key set per `jwks_uri`: jose keeps the keys for
 *   JWKS_MAX_AGE_MS and, when an ID token names a `kid` it does not have, fetches the set
 *   again (at most once per JWKS_COOLDOWN_MS, so tokens with made-up kids cannot make us
 *   hammer the provider). That is how a provider's key rotation is picked up.
 */
import { createRemoteJWKSet, customFetch, type JWTVerifyGetKey } from "jose";
import { z } from "zod";
import {
  fetchProviderJson,
  PROVIDER_TIMEOUT_MS,
  ProviderUnavailableError,
  providerFetch,
} from "./provider-fetch";

export const DISCOVERY_TTL_MS = 60 * 60 * 1000;
export const DISCOVERY_STALE_MS = 24 * 60 * 60 * 1000;
export const JWKS_MAX_AGE_MS = 10 * 60 * 1000;
export const JWKS_COOLDOWN_MS = 30 * 1000;

const endpoint = z.url({ protocol: /^https?$/ });

const discoverySchema = z.object({
  issuer: z.string().min(1),
  authorization_endpoint: endpoint,
  token_endpoint: endpoint,
  jwks_uri: endpoint,
  userinfo_endpoint: endpoint.optional(),
});

export type DiscoveryDocument = z.infer<typeof discoverySchema>;

const documents = new Map<string, { document: DiscoveryDocument; fetchedAt: number }>();
const keySets = new Map<string, JWTVerifyGetKey>();

/** Test hook: forget every cached discovery document and key set of this isolate. */
export function forgetProviderMetadata(): void {
  documents.clear();
  keySets.clear();
}

const withoutTrailingSlash = (url: string) => url.replace(/\/+$/, "");

/**
 * The discovery document of `issuer` (as configured, without a trailing slash). Its
 * `issuer` must be that issuer (OIDC Discovery §4.3: a document naming another issuer is
 * refused, whatever it says), and its endpoints https when the issuer is https.
 */
export async function discover(issuer: string, now = Date.now()): Promise<DiscoveryDocument> {
  const cached = documents.get(issuer);
  if (cached && now - cached.fetchedAt < DISCOVERY_TTL_MS) return cached.document;
  try {
    const document = parseDiscovery(
      issuer,
      await fetchProviderJson(`${issuer}/.well-known/openid-configuration`),
    );
    documents.set(issuer, { document, fetchedAt: now });
    return document;
  } catch (error) {
    if (cached && now - cached.fetchedAt < DISCOVERY_STALE_MS) return cached.document;
    throw error;
  }
}

function parseDiscovery(issuer: string, body: unknown): DiscoveryDocument {
  const parsed = discoverySchema.safeParse(body);
  if (!parsed.success) {
    throw new ProviderUnavailableError(
      `the discovery document of ${issuer} lacks ${parsed.error.issues.map((issue) => issue.path.join(".")).join(", ")}`,
    );
  }
  const document = parsed.data;
  if (withoutTrailingSlash(document.issuer) !== issuer) {
    throw new ProviderUnavailableError(
      `the discovery document of ${issuer} names another issuer (${document.issuer.slice(0, 200)})`,
    );
  }
  if (issuer.startsWith("https:")) {
    const endpoints = [
      document.authorization_endpoint,
      document.token_endpoint,
      document.jwks_uri,
      document.userinfo_endpoint,
    ];
    if (endpoints.some((url) => url !== undefined && !url.startsWith("https:"))) {
      throw new ProviderUnavailableError(`the discovery document of ${issuer} names a non-https endpoint`);
    }
  }
  return document;
}

/** jose's key set for `jwksUri`, made once per isolate so its cache and cooldown carry across requests. */
export function signingKeys(jwksUri: string): JWTVerifyGetKey {
  let keys = keySets.get(jwksUri);
  if (!keys) {
    keys = createRemoteJWKSet(new URL(jwksUri), {
      timeoutDuration: PROVIDER_TIMEOUT_MS,
      cacheMaxAge: JWKS_MAX_AGE_MS,
      cooldownDuration: JWKS_COOLDOWN_MS,
      [customFetch]: (url, options) => providerFetch(url, options),
    });
    keySets.set(jwksUri, keys);
  }
  return keys;
}
