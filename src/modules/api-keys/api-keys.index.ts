import { createRouter } from "../../lib/create-router";
import * as handlers from "./api-keys.handlers";
import * as routes from "./api-keys.routes";

/** Mounted at /api/v1/orgs, beside the organizations router. */
export const apiKeysRouter = createRouter()
  .openapi(routes.createApiKey, handlers.createApiKey)
  .openapi(routes.listApiKeys, handlers.listApiKeys)
  .openapi(routes.getApiKey, handlers.getApiKey)
  .openapi(routes.updateApiKey, handlers.updateApiKey)
  .openapi(routes.revokeApiKey, handlers.revokeApiKey)
  .openapi(routes.rotateApiKey, handlers.rotateApiKey);
