import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { toUserDto } from "../users/user.dto";
import { confirmEmailChange as confirmChange } from "./email-change.service";
import type * as routes from "./email-verification.routes";
import * as verification from "./email-verification.service";

export const verifyEmail: RouteHandler<typeof routes.verifyEmail, AppEnv> = async (c) => {
  const user = await verification.verifyEmail(c.get("ctx"), c.req.valid("json").token);
  return c.json(
    {
      user_id: user.id,
      email: user.email,
      email_verified: true as const,
      email_verified_at: (user.emailVerifiedAt ?? new Date()).toISOString(),
    },
    200,
  );
};

export const resendVerification: RouteHandler<typeof routes.resendVerification, AppEnv> = async (c) => {
  const { expiresInSeconds } = await verification.resendVerificationEmail(c.get("ctx"));
  return c.json({ message: "A new verification email is on its way.", expires_in: expiresInSeconds }, 202);
};

export const disownAccount: RouteHandler<typeof routes.disownAccount, AppEnv> = async (c) => {
  await verification.disownAccount(c.get("ctx"), c.req.valid("json").token);
  return c.body(null, 204);
};

export const confirmEmailChange: RouteHandler<typeof routes.confirmEmailChange, AppEnv> = async (c) => {
  const user = await confirmChange(c.get("ctx"), c.req.valid("json").token);
  return c.json(toUserDto(user), 200);
};
