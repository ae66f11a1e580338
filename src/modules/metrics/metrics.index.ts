import { onEmailEvent } from "../../email/events";
import { createRouter } from "../../lib/create-router";
import * as handlers from "./metrics.handlers";
import { countEmailEvent } from "./metrics.recorder";
import * as routes from "./metrics.routes";

// Every email delivery attempt (queue consumer) is counted as sent or failed.
onEmailEvent((event) => countEmailEvent(event));

/** Mounted at the root: GET /metrics. */
export const metricsRouter = createRouter().openapi(routes.scrape, handlers.scrape);
metricsRouter.openAPIRegistry.registerComponent(
  "securitySchemes",
  "metricsToken",
  routes.METRICS_SECURITY_SCHEME,
);
