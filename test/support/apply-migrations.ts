import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { wireModules } from "../../src/modules/wiring";

// Runs before every test file; applyD1Migrations skips migrations already applied.
const migrations = (env as unknown as { TEST_MIGRATIONS: D1Migration[] }).TEST_MIGRATIONS;
await applyD1Migrations(env.DB, migrations);
// The second database tests route organizations to (TENANT_DATABASES): the same schema, as in production.
if (env.TENANT_DB_EXAMPLE) await applyD1Migrations(env.TENANT_DB_EXAMPLE, migrations);

type D1Migration = { name: string; queries: string[] };

// The modules' hooks and steps, as the Worker installs them when it builds its app: tests
// that call services directly (before any request reaches the Worker) see the same wiring.
wireModules();
