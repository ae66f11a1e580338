import { createRouter } from "../../lib/create-router";
import { maintenanceJobs } from "../../scheduled";
import { organizationDeletionSteps } from "../orgs/orgs.service";
import * as handlers from "./billing.handlers";
import { purgeStripeEventsJob, redispatchStripeEventsJob } from "./billing.maintenance";
import * as routes from "./billing.routes";
import { cancelSubscriptionsOfDeletedOrganization } from "./subscriptions.service";

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

organizationDeletionSteps.push(cancelSubscriptionsOfDeletedOrganization);
maintenanceJobs.push(redispatchStripeEventsJob, purgeStripeEventsJob);
