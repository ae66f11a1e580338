import { createRouter } from "../../lib/create-router";
import * as handlers from "./auth.handlers";
import * as routes from "./auth.routes";

/** Mounted at /api/v1/auth. */
export const authRouter = createRouter()
  .openapi(routes.register, handlers.register)
  .openapi(routes.login, handlers.login)
  .openapi(routes.refresh, handlers.refresh)
  .openapi(routes.logout, handlers.logout)
  .openapi(routes.logoutAll, handlers.logoutAll)
  .openapi(routes.verifyToken, handlers.verifyToken)
  .openapi(routes.changePassword, handlers.changePassword);

/** Mounted at the root: GET /.well-known/jwks.json. */
export const jwksRouter = createRouter().openapi(routes.jwks, handlers.jwks);
