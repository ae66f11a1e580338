/**
 * createApp(): the middleware chain every request goes through, the feature
 * modules, the docs routes and the one error handler.
 *
 * request context (id, logger) → secure headers → CORS → 405 detection →
 * [route: body limit → content type → validation → handler] → problem+json on any error
 */
import { methodNotAllowed } from "hono/method-not-allowed";
import { createRouter } from "./lib/create-router";
import { corsFromConfig } from "./middleware/cors";
import { handleError, handleNotFound, methodNotAllowedProblem } from "./middleware/error-handler";
import { requestContext } from "./middleware/request-context";
import { securityHeaders } from "./middleware/security-headers";
import { mountDocs } from "./modules/docs/docs.index";
import { modules } from "./modules/index";

export function createApp() {
  const app = createRouter();

  app.use(requestContext());
  app.use(securityHeaders());
  app.use(corsFromConfig());
  app.use(methodNotAllowed({ app, onMethodNotAllowed: methodNotAllowedProblem }));

  for (const { path, router } of modules) app.route(path, router);
  mountDocs(app);

  app.onError(handleError);
  app.notFound(handleNotFound);
  return app;
}

export type App = ReturnType<typeof createApp>;
