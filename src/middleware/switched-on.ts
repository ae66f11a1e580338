/**
 * Routes that configuration can switch off (the API docs, the dev mailbox, WebSockets):
 * while off they answer exactly like a path that does not exist, so a switched-off
 * feature says nothing about itself. That includes the 405 for another method on its path:
 * the not-found handler (handleUnmatched) asks switchOf() which of a path's routes are off.
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

export type Switch = (config: Config) => boolean;

/** Each switchedOn() middleware and the switch it reads, for switchOf(). */
const switches = new WeakMap<object, Switch>();

/** Passes while `isOn(config)`; otherwise the 404 of an unmatched path. */
export function switchedOn(isOn: Switch): MiddlewareHandler<AppEnv> {
  const middleware: MiddlewareHandler<AppEnv> = async function switchedOn(c, next) {
    if (!isOn(getConfig(c.env))) throw noSuchRoute(c);
    await next();
  };
  switches.set(middleware, isOn);
  return middleware;
}

/**
 * The switch of a route's handler when it is a switchedOn() middleware. app.route() wraps the
 * handlers of a sub-app with an error handler of its own and keeps the original under
 * "__COMPOSED_HANDLER" (hono's COMPOSED_HANDLER), so the wrapper is looked through.
 */
export function switchOf(handler: unknown): Switch | undefined {
  let current = handler;
  while (typeof current === "function") {
    const isOn = switches.get(current);
    if (isOn) return isOn;
    current = (current as { __COMPOSED_HANDLER?: unknown }).__COMPOSED_HANDLER;
  }
  return undefined;
}
