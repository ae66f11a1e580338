import { createRouter } from "../../lib/create-router";
import { credentialResolvers } from "../../middleware/authenticate";
import { type MaintenanceJob, maintenanceJobs } from "../../scheduled";
import { organizationDeletionSteps } from "../orgs/orgs.service";
import { apiKeyResolver } from "./api-key-resolver";
import * as handlers from "./api-keys.handlers";
import * as routes from "./api-keys.routes";
import { purgeExpiredSecrets, revokeOrganizationKeys } from "./api-keys.service";

/** Mounted at /api/v1/orgs, beside the organizations router. */
export const apiKeysRouter = createRouter()
  .openapi(routes.createApiKey, handlers.createApiKey)
  .openapi(routes.listApiKeys, handlers.listApiKeys)
  .openapi(routes.getApiKey, handlers.getApiKey)
  .openapi(routes.updateApiKey, handlers.updateApiKey)
  .openapi(routes.revokeApiKey, handlers.revokeApiKey)
  .openapi(routes.rotateApiKey, handlers.rotateApiKey);

const purgeSecretsJob: MaintenanceJob = {
  name: "purge_expired_api_key_secrets",
  everyMinutes: 60,
  run: async (ctx, now) => ({ deleted: await purgeExpiredSecrets(ctx, now) }),
};

// API keys are credentials: tried before access tokens, for both Authorization: Bearer and X-API-Key.
credentialResolvers.unshift(apiKeyResolver);
organizationDeletionSteps.push(revokeOrganizationKeys);
maintenanceJobs.push(purgeSecretsJob);
