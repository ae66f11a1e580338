import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { NO_STORE, tokensBody } from "./auth.handlers";
import type * as routes from "./mfa.routes";
import * as mfa from "./mfa.service";

export const mfaStatus: RouteHandler<typeof routes.mfaStatus, AppEnv> = async (c) => {
  return c.json(await mfa.mfaStatus(c.get("ctx")), 200);
};

export const enrollTotp: RouteHandler<typeof routes.enrollTotp, AppEnv> = async (c) => {
  return c.json(await mfa.enrollTotp(c.get("ctx"), c.req.valid("json") ?? {}), 200, NO_STORE);
};

export const confirmTotp: RouteHandler<typeof routes.confirmTotp, AppEnv> = async (c) => {
  return c.json(await mfa.confirmTotp(c.get("ctx"), c.req.valid("json").code), 200, NO_STORE);
};

export const disableTotp: RouteHandler<typeof routes.disableTotp, AppEnv> = async (c) => {
  await mfa.disableTotp(c.get("ctx"), c.req.valid("json") ?? {});
  return c.body(null, 204);
};

export const regenerateRecoveryCodes: RouteHandler<typeof routes.regenerateRecoveryCodes, AppEnv> = async (
  c,
) => {
  return c.json(await mfa.regenerateRecoveryCodes(c.get("ctx"), c.req.valid("json") ?? {}), 200, NO_STORE);
};

export const verifyMfa: RouteHandler<typeof routes.verifyMfa, AppEnv> = async (c) => {
  return c.json(tokensBody(await mfa.verifyMfa(c.get("ctx"), c.req.valid("json"))), 200, NO_STORE);
};
