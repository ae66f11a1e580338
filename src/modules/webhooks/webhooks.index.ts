import { createRouter } from "../../lib/create-router";
import * as handlers from "./webhooks.handlers";
import * as routes from "./webhooks.routes";

/** Mounted at /api/v1/orgs, beside the organizations router. */
export const webhookEndpointsRouter = createRouter()
  .openapi(routes.createEndpoint, handlers.createEndpoint)
  .openapi(routes.listEndpoints, handlers.listEndpoints)
  .openapi(routes.getEndpoint, handlers.getEndpoint)
  .openapi(routes.updateEndpoint, handlers.updateEndpoint)
  .openapi(routes.deleteEndpoint, handlers.deleteEndpoint)
  .openapi(routes.rotateSecret, handlers.rotateSecret)
  .openapi(routes.sendTestEvent, handlers.sendTestEvent)
  .openapi(routes.listDeliveries, handlers.listDeliveries)
  .openapi(routes.getDelivery, handlers.getDelivery)
  .openapi(routes.retryDelivery, handlers.retryDelivery);

/** Mounted at /api/v1/webhooks, beside the Stripe webhook. */
export const webhookEventTypesRouter = createRouter().openapi(routes.listEventTypes, handlers.listEventTypes);
