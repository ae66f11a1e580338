/**
 * The peer of the benchmark (bench/README.md "Against the peer"): the Worker a team would write
 * instead of this platform, following Better Auth's documentation for Cloudflare Workers and Hono:
 *
 * - Better Auth on D1, passed as the binding itself (Better Auth ≥ 1.4 detects a D1 binding and
 *   uses its built-in Kysely D1 dialect; no separate adapter package);
 * - email + password sign-up and sign-in with Better Auth's default password hashing
 *   (node:crypto scrypt, N=16384, r=16, p=1, 64-byte key, under workerd's nodejs_compat);
 * - the `bearer` plugin (a session token in `Authorization: Bearer …` instead of the cookie)
 *   and the `jwt` plugin (a JWT for other services, `/api/auth/token`, `/api/auth/jwks`);
 * - the handler mounted on `/api/auth/*` with Hono, as Better Auth's Hono guide shows.
 *
 * `GET /health/live` is a bare route, the ceiling of this stack on the machine (the
 * counterpart of our own `/health/live` baseline, without our middleware chain).
 *
 * Plain JavaScript on purpose: the project's typecheck covers bench/, and it must not need this
 * folder's node_modules (installed by the harness only when a peer run is asked for).
 */

import { env } from "cloudflare:workers";
import { betterAuth } from "better-auth";
import { bearer, jwt } from "better-auth/plugins";
import { Hono } from "hono";

/**
 * One Better Auth instance per isolate, built from the module-scope `env` of `cloudflare:workers`
 * (bindings are available at module scope since 2025), so no request pays for building it.
 */
const auth = betterAuth({
  database: env.DB,
  secret: env.BETTER_AUTH_SECRET,
  baseURL: env.BETTER_AUTH_URL,
  emailAndPassword: { enabled: true },
  plugins: [bearer(), jwt()],
  // Better Auth counts requests per IP in memory (its default storage). The benchmark sends every
  // request from 127.0.0.1, so the limits are lifted the way ours are (bench/scenarios.ts
  // WORKER_VARS): the counting still runs, no request is refused.
  rateLimit: {
    enabled: true,
    window: 60,
    max: 1_000_000,
    customRules: {
      "/sign-in/*": { window: 60, max: 1_000_000 },
      "/sign-up/*": { window: 60, max: 1_000_000 },
    },
  },
});

const app = new Hono();

app.get("/health/live", (c) => c.json({ status: "ok" }));

app.on(["GET", "POST"], "/api/auth/*", (c) => auth.handler(c.req.raw));

export default app;
