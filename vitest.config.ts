import { generateKeyPairSync, randomUUID } from "node:crypto";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/** A throwaway ES256 key for this test run: no signing secret is ever committed. */
function testSigningKeys(): string {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return JSON.stringify([{ ...privateKey.export({ format: "jwk" }), kid: `test-${randomUUID().slice(0, 8)}` }]);
}

export default defineConfig(async () => {
  const migrations = await readD1Migrations("./migrations");
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            ENVIRONMENT: "test",
            LOG_LEVEL: "error",
            JWT_PRIVATE_KEYS: testSigningKeys(),
            METRICS_TOKEN: "",
            TEST_MIGRATIONS: migrations,
          },
        },
      }),
    ],
    test: {
      include: ["test/**/*.test.ts"],
      setupFiles: ["./test/support/apply-migrations.ts"],
    },
  };
});
