import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../app-env";
import { getConfig } from "../../env";
import { ProblemError } from "../../lib/problem";

/** Where the mailbox is off, its routes answer exactly like a path that does not exist. */
export const devMailboxEnabled: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!getConfig(c.env).DEV_MAILBOX_ENABLED) {
    throw new ProblemError({
      status: 404,
      code: "not_found",
      detail: `No route matches ${c.req.method} ${c.req.path}.`,
    });
  }
  await next();
};
