import { createRouter } from "../../lib/create-router";
import * as handlers from "./auth.handlers";
import * as routes from "./auth.routes";
import * as verificationHandlers from "./email-verification.handlers";
import * as verificationRoutes from "./email-verification.routes";
import * as providerHandlers from "./identity-providers/identity-providers.handlers";
import * as providerRoutes from "./identity-providers/identity-providers.routes";
import * as magicHandlers from "./magic-code.handlers";
import * as magicRoutes from "./magic-code.routes";
import * as mfaHandlers from "./mfa.handlers";
import * as mfaRoutes from "./mfa.routes";
import * as resetHandlers from "./password-reset.handlers";
import * as resetRoutes from "./password-reset.routes";

/** Mounted at /api/v1/auth. */
export const authRouter = createRouter()
  .openapi(routes.register, handlers.register)
  .openapi(routes.login, handlers.login)
  .openapi(routes.refresh, handlers.refresh)
  .openapi(routes.logout, handlers.logout)
  .openapi(routes.logoutAll, handlers.logoutAll)
  .openapi(routes.verifyToken, handlers.verifyToken)
  .openapi(routes.changePassword, handlers.changePassword)
  .openapi(verificationRoutes.verifyEmail, verificationHandlers.verifyEmail)
  .openapi(verificationRoutes.resendVerification, verificationHandlers.resendVerification)
  .openapi(verificationRoutes.disownAccount, verificationHandlers.disownAccount)
  .openapi(verificationRoutes.confirmEmailChange, verificationHandlers.confirmEmailChange)
  .openapi(resetRoutes.forgotPassword, resetHandlers.forgotPassword)
  .openapi(resetRoutes.resetPassword, resetHandlers.resetPassword)
  .openapi(magicRoutes.requestMagicCode, magicHandlers.requestMagicCode)
  .openapi(magicRoutes.verifyMagicCode, magicHandlers.verifyMagicCode)
  .openapi(mfaRoutes.mfaStatus, mfaHandlers.mfaStatus)
  .openapi(mfaRoutes.enrollTotp, mfaHandlers.enrollTotp)
  .openapi(mfaRoutes.confirmTotp, mfaHandlers.confirmTotp)
  .openapi(mfaRoutes.disableTotp, mfaHandlers.disableTotp)
  .openapi(mfaRoutes.regenerateRecoveryCodes, mfaHandlers.regenerateRecoveryCodes)
  .openapi(mfaRoutes.verifyMfa, mfaHandlers.verifyMfa)
  .openapi(providerRoutes.listProviders, providerHandlers.listProviders)
  .openapi(providerRoutes.authorize, providerHandlers.authorize)
  .openapi(providerRoutes.callback, providerHandlers.callback)
  .openapi(providerRoutes.exchange, providerHandlers.exchange);

/** Mounted at the root: GET /.well-known/jwks.json. */
export const jwksRouter = createRouter().openapi(routes.jwks, handlers.jwks);
