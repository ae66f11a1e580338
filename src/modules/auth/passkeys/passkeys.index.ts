import { createRouter } from "../../../lib/create-router";
import * as handlers from "./passkeys.handlers";
import * as routes from "./passkeys.routes";

/** The WebAuthn ceremonies; mounted at /api/v1/auth. */
export const passkeyCeremoniesRouter = createRouter()
  .openapi(routes.registrationOptions, handlers.registrationOptions)
  .openapi(routes.registrationVerify, handlers.registrationVerify)
  .openapi(routes.loginOptions, handlers.loginOptions)
  .openapi(routes.loginVerify, handlers.loginVerify);

/** The caller's passkeys; mounted at /api/v1/users. */
export const myPasskeysRouter = createRouter()
  .openapi(routes.listMyPasskeys, handlers.listMyPasskeys)
  .openapi(routes.getMyPasskey, handlers.getMyPasskey)
  .openapi(routes.renameMyPasskey, handlers.renameMyPasskey)
  .openapi(routes.removeMyPasskey, handlers.removeMyPasskey);
