/**
 * TENANT_DATABASES: which D1 binding holds an organization's tenant data (its files
 * today; docs/SCALING.md). A JSON object from organization id to binding name, e.g.
 * `{"0192f1c4-…": "TENANT_DB_ACME"}`; the key `*` names the database of every
 * organization not listed (unset: the shared `DB`). Parsed once in src/env.ts, which
 * also checks that each name is a D1 binding of the Worker. No imports from the app.
 */
import { z } from "zod";
import { jsonSetting } from "../lib/json-setting";

/** The binding of the shared (directory) database; routing an organization to it is routing it nowhere. */
export const SHARED_DATABASE_BINDING = "DB";

/** The key of TENANT_DATABASES that routes every organization not listed by id. */
export const EVERY_OTHER_ORGANIZATION = "*";

/** Organization id (lower-cased, as the API writes them) or `*` → D1 binding name. */
export type TenantRouting = Readonly<Record<string, string>>;

const bindingName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, "must be the name of a D1 binding, such as TENANT_DB_1");

const isOrganizationKey = (key: string) =>
  key === EVERY_OTHER_ORGANIZATION || z.uuid().safeParse(key).success;

export const tenantRoutingSchema = jsonSetting(
  z
    .record(z.string(), bindingName)
    // Keys checked here, not by the record's key schema: zod reports those only as "Invalid key in record".
    .superRefine((routing, ctx) => {
      for (const key of Object.keys(routing)) {
        if (!isOrganizationKey(key)) {
          ctx.addIssue({ code: "custom", path: [key], message: "must be an organization id (a UUID) or *" });
        }
      }
    })
    .transform(
      (routing): TenantRouting =>
        Object.fromEntries(Object.entries(routing).map(([key, binding]) => [key.toLowerCase(), binding])),
    ),
  'must be a JSON object from organization id to D1 binding name, such as {"0192f1c4-8a1e-7c3b-9f00-5d2a6b7c8d9e":"TENANT_DB_1"}',
);

/** The binding that holds `organizationId`'s tenant data. */
export function bindingOf(routing: TenantRouting, organizationId: string): string {
  return (
    routing[organizationId.toLowerCase()] ?? routing[EVERY_OTHER_ORGANIZATION] ?? SHARED_DATABASE_BINDING
  );
}

/** A D1 binding, as far as a value of `env` can tell: what `prepare` and `batch` need. */
function isD1Binding(value: unknown): value is D1Database {
  const candidate = value as Partial<D1Database> | null | undefined;
  return typeof candidate?.prepare === "function" && typeof candidate.batch === "function";
}

/** The names of the Worker's D1 bindings, for routingProblems() at run time. */
export function d1BindingNames(env: object): Set<string> {
  return new Set(Object.entries(env).flatMap(([name, value]) => (isD1Binding(value) ? [name] : [])));
}

/**
 * Configuration errors for names in `routing` that are not among `d1Bindings`: the Worker's own
 * (getConfig) or those an environment of wrangler.toml declares (`npm run config:check`).
 */
export function routingProblems(routing: TenantRouting, d1Bindings: ReadonlySet<string>): string[] {
  const names = new Set(Object.values(routing));
  return [...names]
    .filter((name) => !d1Bindings.has(name))
    .map(
      (name) =>
        `TENANT_DATABASES: "${name}" is not a D1 binding of this Worker; add a [[d1_databases]] entry with binding = "${name}" to wrangler.toml (in this environment) or route the organization elsewhere`,
    );
}
