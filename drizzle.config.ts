import { defineConfig } from "drizzle-kit";

// Migrations are generated from src/db/schema (`npm run db:generate`) and applied
// by Wrangler (`npm run db:migrate:local` / `:remote`), never edited by hand once landed.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema/index.ts",
  out: "./migrations",
  casing: "snake_case",
});
