/**
 * The providers this server is configured with: `google` and `github` when their client
 * id and secret are set, then every OIDC_PROVIDERS entry in order. Built once per
 * configuration (per isolate), like the configuration itself.
 */
import type { Config } from "../../../env";
import { ProblemError } from "../../../lib/problem";
import type { IdentityProvider } from "./identity-provider";
import { githubProvider } from "./providers/github";
import { googleProvider } from "./providers/google";
import { oidcProvider } from "./providers/oidc";

/** Where a provider sends the browser back: registered at the provider as the authorized redirect URI. */
export function providerCallbackUrl(config: Pick<Config, "APP_URL">, providerId: string): string {
  return `${config.APP_URL.replace(/\/+$/, "")}/api/v1/auth/oauth/${providerId}/callback`;
}

const catalogs = new WeakMap<Config, Map<string, IdentityProvider>>();

export function configuredProviders(config: Config): Map<string, IdentityProvider> {
  let catalog = catalogs.get(config);
  if (catalog) return catalog;
  catalog = new Map();
  const callbackUrl = (id: string) => providerCallbackUrl(config, id);
  if (config.OAUTH_GOOGLE_CLIENT_ID && config.OAUTH_GOOGLE_CLIENT_SECRET) {
    catalog.set(
      "google",
      googleProvider({
        clientId: config.OAUTH_GOOGLE_CLIENT_ID,
        clientSecret: config.OAUTH_GOOGLE_CLIENT_SECRET,
        callbackUrl: callbackUrl("google"),
      }),
    );
  }
  if (config.OAUTH_GITHUB_CLIENT_ID && config.OAUTH_GITHUB_CLIENT_SECRET) {
    catalog.set(
      "github",
      githubProvider({
        clientId: config.OAUTH_GITHUB_CLIENT_ID,
        clientSecret: config.OAUTH_GITHUB_CLIENT_SECRET,
        callbackUrl: callbackUrl("github"),
      }),
    );
  }
  for (const settings of config.OIDC_PROVIDERS) {
    catalog.set(settings.id, oidcProvider({ ...settings, callbackUrl: callbackUrl(settings.id) }));
  }
  catalogs.set(config, catalog);
  return catalog;
}

/** The configured provider `id`, or 404 naming the ones there are. */
export function providerNamed(config: Config, id: string): IdentityProvider {
  const catalog = configuredProviders(config);
  const provider = catalog.get(id);
  if (provider) return provider;
  const known = [...catalog.keys()];
  throw new ProblemError({
    status: 404,
    code: "not_found",
    detail: `No identity provider of this name is configured here (${known.length > 0 ? `configured: ${known.join(", ")}` : "none is"}); GET /api/v1/auth/providers lists them.`,
  });
}
