declare module "cloudflare:test" {
  interface ProvidedEnv extends Cloudflare.Env {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    /** wrangler.toml as Wrangler's reader parses it (vitest.config.ts). */
    TEST_WRANGLER_CONFIG: import("../src/config-check").RawWranglerConfig;
  }
}
