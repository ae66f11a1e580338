import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import type * as routes from "./password-reset.routes";
import * as passwordReset from "./password-reset.service";

export const FORGOT_MESSAGE =
  "If an account exists for this address, a reset link is on its way. It works for 1 hour.";

export const forgotPassword: RouteHandler<typeof routes.forgotPassword, AppEnv> = async (c) => {
  await passwordReset.requestPasswordReset(c.get("ctx"), c.req.valid("json").email);
  return c.json({ message: FORGOT_MESSAGE }, 202);
};

export const resetPassword: RouteHandler<typeof routes.resetPassword, AppEnv> = async (c) => {
  await passwordReset.resetPassword(c.get("ctx"), c.req.valid("json"));
  return c.body(null, 204);
};
