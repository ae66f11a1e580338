import { createRouter } from "../../lib/create-router";
import * as handlers from "./billing.handlers";
import * as routes from "./billing.routes";

/** Mounted at /api/v1/billing. */
export const billingRouter = createRouter().openapi(routes.listPlans, handlers.listPlans);

/** Mounted at /api/v1/orgs, beside the organizations router. */
export const orgBillingRouter = createRouter()
  .openapi(routes.startCheckout, handlers.startCheckout)
  .openapi(routes.openPortal, handlers.openPortal)
  .openapi(routes.getSubscription, handlers.getSubscription)
  .openapi(routes.getCredits, handlers.getCredits);

/** Mounted at /api/v1/webhooks. */
export const webhooksRouter = createRouter().openapi(routes.stripeWebhook, handlers.stripeWebhook);
