/**
 * createApp(): the middleware chain every request goes through, the feature
 * modules, the docs routes and the one error handler.
 *
 * request context (id, logger) → request metrics → secure headers → CORS → authentication →
 * rate limit →
 * [route: body limit → content type → route guards → Idempotency-Key (POST/PATCH) → validation → handler]
 * → problem+json on any error; 404, or 405 with Allow, when no route took the request
 */
import type { Hono } from "hono";
import type { AppEnv } from "./app-env";
import { createRouter } from "./lib/create-router";
import { RememberingRouter } from "./lib/remembering-router";
import { authenticate } from "./middleware/authenticate";
import { corsFromConfig } from "./middleware/cors";
import { handleError, handleUnmatched } from "./middleware/error-handler";
import { globalRateLimit } from "./middleware/rate-limit";
import { requestContext } from "./middleware/request-context";
import { requestMetrics } from "./middleware/request-metrics";
import { securityHeaders } from "./middleware/security-headers";
import { mountDocs } from "./modules/docs/docs.index";
import { type ModulesSchema, modules } from "./modules/index";
import { wireModules } from "./modules/wiring";

export function createApp() {
  // Hooks, resolvers and steps between modules: the one list in src/modules/wiring.ts.
  wireModules();
  // Hono's TrieRouter, with the answers for hot paths kept (src/lib/remembering-router.ts says why).
  const app = createRouter({ router: new RememberingRouter() });

  app.use(requestContext());
  // Counts every answered request (route pattern, status class, latency) for GET /metrics.
  app.use(requestMetrics());
  app.use(securityHeaders());
  app.use(corsFromConfig());
  // Bearer JWT or API key → c.get("principal"); bad credentials are kept for requireUser() to answer.
  app.use(authenticate());
  // Rate limit by principal (api_key / user / anonymous per IP). Must come after authentication, so a
  // rejected token is never counted as the user it names; /admin, /health/live and preflights are exempt.
  // An API key with its own limit (api_keys.rate_limit) is held to that instead of the `api_key` policy.
  app.use(globalRateLimit({ limitFor: (p) => (p.kind === "api_key" ? p.rateLimit : undefined) }));

  for (const { path, router } of modules) app.route(path, router);
  mountDocs(app);

  app.onError(handleError);
  // 404, or 405 with Allow when the path exists under other methods.
  app.notFound(handleUnmatched(app));
  return app;
}

export type App = ReturnType<typeof createApp>;

/**
 * The API as types, for a typed client with no code generation:
 * `hc<AppType>("https://api.example.com")` from hono/client. createApp() mounts the
 * modules in a loop, which keeps no route types, so this is built from the same
 * module list (src/modules/index.ts); the docs routes are left out.
 */
export type AppType = Hono<AppEnv, ModulesSchema, "/">;
