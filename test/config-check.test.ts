/**
 * `npm run config:check` (src/config-check.ts): the real wrangler.toml's production section
 * is refused today for its `price_REPLACE_…` placeholders; a filled-in one passes; the
 * Worker's own rules (src/env.ts) apply; the secrets an environment needs follow what its
 * configuration turns on, and are compared with the ones that exist when those are known.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import devVarsExample from "../.dev.vars.example?raw";
import { checkConfig, type RawWranglerConfig } from "../src/config-check";

const wrangler = (env as unknown as { TEST_WRANGLER_CONFIG: RawWranglerConfig }).TEST_WRANGLER_CONFIG;
const productionVars = wrangler.env?.production?.vars ?? {};

const REAL_PLANS = JSON.stringify({
  plans: [{ name: "Pro", price_id: "price_1QaBcDeFgHiJkLmN", interval: "month", monthly_credits: 5000 }],
  credit_packs: [],
});

/** The production section with this deployment's own domain and Stripe prices put in. */
function filledIn(overrides: Record<string, unknown> = {}): RawWranglerConfig {
  const vars = Object.fromEntries(
    Object.entries(productionVars).map(([name, value]) => [
      name,
      typeof value === "string" ? value.replaceAll("example.com", "acme-widgets.io") : value,
    ]),
  );
  return { env: { production: { vars: { ...vars, BILLING_PLANS: REAL_PLANS, ...overrides } } } };
}

const check = (config: RawWranglerConfig, existingSecrets?: string[]) =>
  checkConfig({ environment: "production", config, existingSecrets });

describe("the real wrangler.toml", () => {
  it("refuses [env.production] today because of its price_REPLACE placeholders", () => {
    const { problems } = check(wrangler);
    expect(problems).toContain(
      "BILLING_PLANS: placeholder `price_REPLACE_starter_monthly`, `price_REPLACE_pro_monthly`, `price_REPLACE_credits_1000`: put the real values here",
    );
    // …and its documentation domains, one line per variable.
    expect(problems.filter((line) => line.startsWith("APP_URL: `api.example.com`"))).toHaveLength(1);
  });

  it("passes once the placeholders are replaced, and names the secrets production needs", () => {
    expect(check(filledIn())).toEqual({
      problems: [],
      requiredSecrets: [
        "JWT_PRIVATE_KEYS",
        "MFA_ENCRYPTION_KEY",
        "WEBHOOK_SECRET_ENCRYPTION_KEY",
        "METRICS_TOKEN",
        "RESEND_API_KEY",
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET",
      ],
    });
  });

  it("refuses a TENANT_DATABASES binding the environment does not declare, accepts one it does", () => {
    const routed = filledIn({ TENANT_DATABASES: '{"*":"TENANT_DB_EU"}' });
    expect(check(routed).problems).toEqual([
      expect.stringContaining('TENANT_DATABASES: "TENANT_DB_EU" is not a D1 binding of this Worker'),
    ]);
    const production = routed.env?.production ?? {};
    const declared: RawWranglerConfig = {
      env: { production: { ...production, d1_databases: [{ binding: "DB" }, { binding: "TENANT_DB_EU" }] } },
    };
    expect(check(declared).problems).toEqual([]);
  });

  it("documents in .dev.vars.example every secret any configuration can require", () => {
    const everything = filledIn({
      EMAIL_PROVIDER: "mailgun",
      MAILGUN_DOMAIN: "mg.acme-widgets.io",
      R2_S3_ENDPOINT: "https://0123456789abcdef.r2.cloudflarestorage.com",
      R2_S3_BUCKET: "acme-files",
      OAUTH_GOOGLE_CLIENT_ID: "1234.apps.googleusercontent.com",
      OAUTH_GITHUB_CLIENT_ID: "Iv1.0123456789abcdef",
    });
    const { problems, requiredSecrets } = check(everything);
    expect(problems).toEqual([]);
    for (const name of requiredSecrets) expect(devVarsExample).toMatch(new RegExp(`^${name}=`, "m"));
  });
});

describe("the Worker's own rules", () => {
  it("reports what src/env.ts refuses, naming the variable", () => {
    expect(check(filledIn({ EMAIL_PROVIDER: "console" })).problems).toEqual([
      "EMAIL_PROVIDER: `console` is refused in production; use resend, postmark, sendgrid, mailgun or cloudflare",
    ]);
    const { problems } = check(filledIn({ ACCESS_TOKEN_TTL: "forever", AUDIT_RETENTION_DAYS: "7" }));
    expect(problems.map((line) => line.split(":")[0])).toEqual(["ACCESS_TOKEN_TTL", "AUDIT_RETENTION_DAYS"]);
  });

  it("refuses a misspelt name, a value that is not a string, and a secret written into [vars]", () => {
    const { problems } = check(
      filledIn({
        APP_ULR: "https://api.acme-widgets.io",
        ACCESS_TOKEN_TTL: 900,
        STRIPE_SECRET_KEY: "sk_live_abc",
      }),
    );
    expect(problems).toEqual([
      "ACCESS_TOKEN_TTL: must be a string in wrangler.toml (quote it), or the Worker will not read it",
      "APP_ULR: not a setting the Worker reads (src/env.ts); a misspelt name is silently ignored",
      "STRIPE_SECRET_KEY: a secret, not a [vars] entry: remove it from wrangler.toml and `wrangler secret put STRIPE_SECRET_KEY`",
    ]);
  });

  it("refuses every documentation domain in a deployed environment, not in local development", () => {
    const hosts = [
      "https://x.example",
      "https://api.test",
      "http://localhost:8787",
      "https://a.b.example.org",
    ];
    const { problems } = check(filledIn({ CORS_ORIGINS: hosts.join(",") }));
    expect(problems).toEqual([
      "CORS_ORIGINS: `x.example`, `api.test`, `localhost`, `a.b.example.org`: a domain reserved for documentation and tests, not this deployment's own",
    ]);
    // Look-alikes are real domains.
    expect(
      check(filledIn({ CORS_ORIGINS: "https://myexample.com,https://example.com.au" })).problems,
    ).toEqual([]);
    const local = checkConfig({ config: { vars: { APP_URL: "http://localhost:8787" } } });
    expect(local.problems).toEqual([]);
  });
});

describe("the secrets", () => {
  it("follow what the configuration turns on", () => {
    const secrets = (overrides: Record<string, unknown>) => check(filledIn(overrides)).requiredSecrets;
    expect(secrets({ EMAIL_PROVIDER: "postmark" })).toContain("POSTMARK_SERVER_TOKEN");
    expect(secrets({ EMAIL_PROVIDER: "postmark" })).not.toContain("RESEND_API_KEY");
    expect(secrets({ BILLING_PLANS: '{"plans":[],"credit_packs":[]}' })).not.toContain("STRIPE_SECRET_KEY");
    expect(
      secrets({
        R2_S3_ENDPOINT: "https://0123456789abcdef.r2.cloudflarestorage.com",
        R2_S3_BUCKET: "acme-files",
      }),
    ).toEqual(expect.arrayContaining(["R2_S3_ACCESS_KEY_ID", "R2_S3_SECRET_ACCESS_KEY"]));
    const staging = checkConfig({ environment: "staging", config: wrangler });
    expect(staging.requiredSecrets).not.toContain("METRICS_TOKEN");
  });

  it("missing from the list that exists (--remote) are problems, one line each", () => {
    const existing = [
      "JWT_PRIVATE_KEYS",
      "MFA_ENCRYPTION_KEY",
      "WEBHOOK_SECRET_ENCRYPTION_KEY",
      "METRICS_TOKEN",
    ];
    expect(check(filledIn(), existing).problems).toEqual([
      "RESEND_API_KEY: secret missing: `wrangler secret put RESEND_API_KEY --env production`",
      "STRIPE_SECRET_KEY: secret missing: `wrangler secret put STRIPE_SECRET_KEY --env production`",
      "STRIPE_WEBHOOK_SECRET: secret missing: `wrangler secret put STRIPE_WEBHOOK_SECRET --env production`",
    ]);
  });

  it("answers an unknown environment with an error, not a pass", () => {
    expect(() => checkConfig({ environment: "prod", config: wrangler })).toThrow(/no \[env\.prod\]/);
  });
});
