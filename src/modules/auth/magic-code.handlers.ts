import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { NO_STORE, signInBody } from "./auth.handlers";
import type * as routes from "./magic-code.routes";
import * as magic from "./magic-code.service";

export const requestMagicCode: RouteHandler<typeof routes.requestMagicCode, AppEnv> = async (c) => {
  const { email } = c.req.valid("json");
  const result = await magic.requestMagicCode(c.get("ctx"), email);
  return c.json(
    {
      message: `A sign-in code and link are on their way to ${email}.`,
      expires_in: result.expiresInSeconds,
      ...(result.debugCode === undefined ? {} : { debug_token: result.debugCode }),
    },
    202,
    NO_STORE,
  );
};

export const verifyMagicCode: RouteHandler<typeof routes.verifyMagicCode, AppEnv> = async (c) => {
  const outcome = await magic.verifyMagicCode(c.get("ctx"), c.req.valid("json"));
  return c.json(signInBody(outcome), 200, NO_STORE);
};
