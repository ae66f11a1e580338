import { createRouter } from "../../lib/create-router";
import * as handlers from "./push.handlers";
import * as routes from "./push.routes";

/** Mounted at /api/v1/users/me/push-subscriptions: the caller's devices. */
export const pushSubscriptionsRouter = createRouter()
  .openapi(routes.subscribe, handlers.subscribe)
  .openapi(routes.list, handlers.list)
  .openapi(routes.remove, handlers.remove);

/** Mounted at /api/v1/notifications/push: what a browser needs before it subscribes. */
export const pushKeysRouter = createRouter().openapi(routes.vapidPublicKey, handlers.vapidPublicKey);
