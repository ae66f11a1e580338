/**
 * Sign-in with identity providers. Not to be confused with src/modules/oauth, the OAuth
 * client-credentials server this API is for integrators: here the API is the OAuth/OIDC
 * *client* of Google, GitHub and OIDC providers. The sign-in routes join the auth router
 * (/api/v1/auth, auth.index.ts); the caller's linked identities are mounted at
 * /api/v1/users (src/modules/index.ts).
 */
import { createRouter } from "../../../lib/create-router";
import * as handlers from "./identity-providers.handlers";
import * as routes from "./identity-providers.routes";

/** Mounted at /api/v1/users: GET /me/identities, DELETE /me/identities/{id}. */
export const linkedIdentitiesRouter = createRouter()
  .openapi(routes.listMyIdentities, handlers.listMyIdentities)
  .openapi(routes.unlinkMyIdentity, handlers.unlinkMyIdentity);
