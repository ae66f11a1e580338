import { createRouter } from "../../lib/create-router";
import * as handlers from "./metrics.handlers";
import * as routes from "./metrics.routes";

/** Mounted at the root: GET /metrics. */
export const metricsRouter = createRouter().openapi(routes.scrape, handlers.scrape);
metricsRouter.openAPIRegistry.registerComponent(
  "securitySchemes",
  "metricsToken",
  routes.METRICS_SECURITY_SCHEME,
);
