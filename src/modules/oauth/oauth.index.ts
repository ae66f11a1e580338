import { createRouter } from "../../lib/create-router";
import { credentialResolvers } from "../../middleware/authenticate";
import { clientTokenResolver } from "./client-token-resolver";
import * as handlers from "./oauth.handlers";
import * as routes from "./oauth.routes";

/** Mounted at /api/v1/oauth. */
export const oauthRouter = createRouter().openapi(routes.token, handlers.token);

// Before the access-token resolver, which would otherwise refuse these tokens for lacking a session.
credentialResolvers.unshift(clientTokenResolver);
