import { generateKeyPairSync, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { experimental_readRawConfig } from "wrangler";

/** A throwaway ES256 key for this test run: no signing secret is ever committed. */
function testSigningKeys(): string {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return JSON.stringify([
    { ...privateKey.export({ format: "jwk" }), kid: `test-${randomUUID().slice(0, 8)}` },
  ]);
}

/** A throwaway VAPID key (the P-256 scalar, base64url) for this test run, like the signing key above. */
function testVapidKey(): string {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return privateKey.export({ format: "jwk" }).d as string;
}

/**
 * Wrangler would also load a developer's .dev.vars into the tests; blank every
 * secret the example documents so tests see the same environment on every machine.
 */
function blankSecrets(): Record<string, string> {
  const names = readFileSync(".dev.vars.example", "utf8").match(/^[A-Z][A-Z0-9_]*(?==)/gm) ?? [];
  return Object.fromEntries(names.map((name) => [name, ""]));
}

/**
 * The test suites that run a second time with every organization's tenant data routed to the
 * second local database (TENANT_DATABASES, docs/SCALING.md): the files module's, whose rows move,
 * and every other suite of organization-scoped routes (members, invitations, API keys, billing,
 * webhooks, organization tasks), which must keep passing while an organization's data is split
 * between the directory and its own database.
 */
const TENANT_DATA_SUITES = [
  "test/files*.test.ts",
  "test/tenant-databases.test.ts",
  "test/orgs*.test.ts",
  "test/api-keys*.test.ts",
  "test/billing*.test.ts",
  "test/webhooks*.test.ts",
  "test/tasks.api-keys.test.ts",
];

export default defineConfig(async () => {
  const migrations = await readD1Migrations("./migrations");
  /** The Worker as the tests run it; `vars` over the test bindings (one project's setting). */
  const worker = (vars: Record<string, string> = {}) =>
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          ...blankSecrets(),
          ENVIRONMENT: "test",
          LOG_LEVEL: "error",
          // Never send real email from a test, whatever a developer's .dev.vars says.
          EMAIL_PROVIDER: "console",
          JWT_PRIVATE_KEYS: testSigningKeys(),
          VAPID_PRIVATE_KEY: testVapidKey(),
          // A fixture, not a secret: encrypts the TOTP secrets tests enrol.
          MFA_ENCRYPTION_KEY: "dGVzdC1vbmx5LW1mYS1lbmNyeXB0aW9uLWtleS0zMmI",
          // A fixture too: seals the webhook endpoints' signing secrets tests create.
          WEBHOOK_SECRET_ENCRYPTION_KEY: "dGVzdC1vbmx5LXdlYmhvb2stc2VjcmV0cy1rZXktMzI",
          TEST_MIGRATIONS: migrations,
          // wrangler.toml as Wrangler reads it (workerd has no TOML parser): test/config-check.test.ts
          // runs `npm run config:check`'s rules on the real staging and production sections.
          TEST_WRANGLER_CONFIG: experimental_readRawConfig({ config: "./wrangler.toml" }).rawConfig,
          ...vars,
        },
      },
    });
  const suite = {
    setupFiles: ["./test/support/apply-migrations.ts"],
    // 2-core CI machines: the first request of a file loads the whole Worker, and a loaded machine can take
    // seconds for it. A test that hangs still fails; one that is merely slow under load does not flake.
    testTimeout: 15_000,
  };
  return {
    test: {
      reporters: ["default", "./test/support/summary-reporter.ts"],
      projects: [
        { plugins: [worker()], test: { ...suite, name: "shared", include: ["test/**/*.test.ts"] } },
        {
          plugins: [worker({ TENANT_DATABASES: JSON.stringify({ "*": "TENANT_DB_EXAMPLE" }) })],
          test: { ...suite, name: "tenant-routed", include: TENANT_DATA_SUITES },
        },
        // The benchmark's own logic (its verdicts), in Node like the benchmark: no Worker, nothing timed.
        { test: { name: "bench", include: ["bench/**/*.test.ts"], environment: "node" } },
        // Build scripts' checks, in Node: the committed WebAssembly against its generator.
        { test: { name: "scripts", include: ["scripts/**/*.test.ts"], environment: "node" } },
      ],
    },
  };
});
