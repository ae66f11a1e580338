/**
 * Where the tests' tenant data is (docs/SCALING.md). The files suites run twice
 * (vitest.config.ts): as configured, every organization in the shared DB, and in the
 * `tenant-routed` project with TENANT_DATABASES = {"*":"TENANT_DB_EXAMPLE"}. A test that
 * reads tenant rows itself asks `tenantDatabaseOf(orgId)`, so it checks the database the
 * seam routes that organization to, in both runs.
 */
import { env } from "cloudflare:workers";
import { getDb } from "../../src/db/client";
import { orgDatabase } from "../../src/db/tenant-databases";
import { EVERY_OTHER_ORGANIZATION } from "../../src/db/tenant-routing";
import { getConfig } from "../../src/env";

/** The database the seam routes `organizationId`'s tenant data to, under this run's configuration. */
export function tenantDatabaseOf(organizationId: string) {
  return orgDatabase({ db: getDb(env), env, config: getConfig(env) }, organizationId);
}

/** This run routes every organization's tenant data to TENANT_DB_EXAMPLE (the `tenant-routed` project). */
export const routedRun = getConfig(env).TENANT_DATABASES[EVERY_OTHER_ORGANIZATION] === "TENANT_DB_EXAMPLE";
