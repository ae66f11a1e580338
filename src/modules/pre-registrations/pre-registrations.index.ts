import { createRouter } from "../../lib/create-router";
import * as handlers from "./pre-registrations.handlers";
import * as routes from "./pre-registrations.routes";

/** Mounted at /api/v1/pre-registrations. */
export const preRegistrationsRouter = createRouter()
  .openapi(routes.joinWaitlist, handlers.joinWaitlist)
  .openapi(routes.exportWaitlist, handlers.exportWaitlist)
  .openapi(routes.listWaitlist, handlers.listWaitlist)
  .openapi(routes.getWaitlistEntry, handlers.getWaitlistEntry);
