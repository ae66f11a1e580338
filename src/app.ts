/**
 * createApp(): the middleware chain every request goes through, the feature
 * modules, the docs routes and the one error handler.
 *
 * request context (id, logger) → secure headers → CORS → authentication → 405 detection → rate limit →
 * [route: body limit → content type → validation → handler] → problem+json on any error
 */
import { methodNotAllowed } from "hono/method-not-allowed";
import { createRouter } from "./lib/create-router";
import { authenticate } from "./middleware/authenticate";
import { corsFromConfig } from "./middleware/cors";
import { handleError, handleNotFound, methodNotAllowedProblem } from "./middleware/error-handler";
import { globalRateLimit } from "./middleware/rate-limit";
import { requestContext } from "./middleware/request-context";
import { securityHeaders } from "./middleware/security-headers";
import { mountDocs } from "./modules/docs/docs.index";
import { modules } from "./modules/index";

export function createApp() {
  const app = createRouter();

  app.use(requestContext());
  app.use(securityHeaders());
  app.use(corsFromConfig());
  // Bearer JWT (and, later, API key) → c.var.principal; bad credentials are kept for requireUser() to answer.
  app.use(authenticate());
  app.use(methodNotAllowed({ app, onMethodNotAllowed: methodNotAllowedProblem }));
  // Rate limit by principal (api_key / user / anonymous per IP). Must come after authentication, so a
  // rejected token is never counted as the user it names; /admin, /health/live and preflights are exempt.
  app.use(globalRateLimit());

  for (const { path, router } of modules) app.route(path, router);
  mountDocs(app);

  app.onError(handleError);
  app.notFound(handleNotFound);
  return app;
}

export type App = ReturnType<typeof createApp>;
