import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { wireModules } from "../../src/modules/wiring";

// Runs before every test file; applyD1Migrations skips migrations already applied.
await applyD1Migrations(env.DB, (env as unknown as { TEST_MIGRATIONS: D1Migration[] }).TEST_MIGRATIONS);

type D1Migration = { name: string; queries: string[] };

// The modules' hooks and steps, as the Worker installs them when it builds its app: tests
// that call services directly (before any request reaches the Worker) see the same wiring.
wireModules();
