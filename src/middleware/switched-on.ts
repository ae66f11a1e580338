/**
 * Routes that configuration can switch off (the API docs, the dev mailbox, WebSockets):
 * while off they answer exactly like a path that does not exist, so a switched-off
 * feature says nothing about itself.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import { type Config, getConfig } from "../env";
import { ProblemError } from "../lib/problem";

export const noSuchRoute = (c: Context<AppEnv>) =>
  new ProblemError({
    status: 404,
    code: "not_found",
    detail: `No route matches ${c.req.method} ${c.req.path}.`,
  });

/** Passes while `isOn(config)`; otherwise the 404 of an unmatched path. */
export function switchedOn(isOn: (config: Config) => boolean): MiddlewareHandler<AppEnv> {
  return async function switchedOn(c, next) {
    if (!isOn(getConfig(c.env))) throw noSuchRoute(c);
    await next();
  };
}
