import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { problems } from "../../lib/problem";
import { authenticationFailure } from "../../middleware/authenticate";
import { toUserDto } from "../users/user.dto";
import type * as routes from "./auth.routes";
import { TOKEN_TYPE } from "./auth.schemas";
import * as auth from "./auth.service";
import { needsSecondFactor, type SignedIn, type SignInOutcome } from "./sign-in";

export function tokensBody({ user, tokens }: SignedIn) {
  return {
    user: toUserDto(user),
    access_token: tokens.access.token,
    refresh_token: tokens.refreshToken,
    token_type: TOKEN_TYPE,
    expires_in: tokens.expiresIn,
  };
}

/** A first factor's answer: the token pair, or the MFA step (`mfa_required`, no tokens). */
export function signInBody(outcome: SignInOutcome) {
  if (!needsSecondFactor(outcome)) return tokensBody(outcome);
  return {
    mfa_required: true as const,
    mfa_token: outcome.mfaToken,
    methods: outcome.methods,
    expires_in: outcome.expiresIn,
  };
}

/** Token answers must never be cached by anything between us and the client. */
export const NO_STORE = { "Cache-Control": "no-store" };

export const register: RouteHandler<typeof routes.register, AppEnv> = async (c) => {
  const registration = await auth.register(c.get("ctx"), c.req.valid("json"));
  if (registration.kind === "verification_sent") {
    return c.json({ status: "verification_sent" as const }, 202, NO_STORE);
  }
  const { signedIn } = registration;
  c.header("Location", `/api/v1/users/${signedIn.user.id}`);
  return c.json(tokensBody(signedIn), 201, NO_STORE);
};

export const login: RouteHandler<typeof routes.login, AppEnv> = async (c) => {
  const outcome = await auth.login(c.get("ctx"), c.req.valid("json"));
  return c.json(signInBody(outcome), 200, NO_STORE);
};

export const refresh: RouteHandler<typeof routes.refresh, AppEnv> = async (c) => {
  const token = c.req.valid("json").refresh_token ?? c.req.valid("header")["x-refresh-token"];
  const signedIn = await auth.refresh(c.get("ctx"), token);
  return c.json(tokensBody(signedIn), 200, NO_STORE);
};

export const logout: RouteHandler<typeof routes.logout, AppEnv> = async (c) => {
  if (c.get("principal").kind === "api_key")
    throw problems.forbidden("API keys have no session to sign out of.");
  const token = c.req.valid("json").refresh_token ?? c.req.valid("header")["x-refresh-token"];
  const signedOut = await auth.logout(c.get("ctx"), token);
  if (!signedOut) {
    throw (
      authenticationFailure(c) ??
      problems.unauthorized("Send the access token or the refresh token to sign out.")
    );
  }
  return c.body(null, 204);
};

export const logoutAll: RouteHandler<typeof routes.logoutAll, AppEnv> = async (c) => {
  await auth.logoutAll(c.get("ctx"));
  return c.body(null, 204);
};

export const verifyToken: RouteHandler<typeof routes.verifyToken, AppEnv> = async (c) => {
  const claims = await auth.verifyToken(c.get("ctx"), c.req.valid("json").token);
  return c.json({ valid: true as const, claims }, 200, NO_STORE);
};

export const changePassword: RouteHandler<typeof routes.changePassword, AppEnv> = async (c) => {
  await auth.changePassword(c.get("ctx"), c.req.valid("json"));
  return c.body(null, 204);
};

export const jwks: RouteHandler<typeof routes.jwks, AppEnv> = async (c) => {
  const keys = await auth.signingKeys(c.get("ctx"));
  return c.json(keys, 200, { "Cache-Control": "public, max-age=300" });
};
