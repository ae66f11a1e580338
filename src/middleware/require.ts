import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { problems } from "../lib/problem";
import { authenticationFailure } from "./authenticate";

/**
 * Route guards, used as `middleware: [requireUser()]` in defineRoute(). They
 * decide on `c.var.principal` only; a request whose credentials were refused
 * gets the reason authenticate() recorded (expired, revoked, unknown key ...).
 */

/** A signed-in person (an access JWT). 401 otherwise; 403 for an API key. */
export function requireUser(): MiddlewareHandler<AppEnv> {
  return async function requireUser(c, next) {
    const principal = c.var.principal;
    if (principal.kind === "user") return next();
    if (principal.kind === "anonymous") throw authenticationFailure(c) ?? problems.unauthorized();
    throw problems.forbidden("This route is for signed-in users; API keys cannot use it.");
  };
}

/** A signed-in staff member: 401 without a user, 403 for everyone else. */
export function requireStaff(): MiddlewareHandler<AppEnv> {
  const user = requireUser();
  return async function requireStaff(c, next) {
    await user(c, async () => {
      if (c.var.principal.kind !== "user" || !c.var.principal.isStaff) {
        throw problems.forbidden("Only staff can do this.");
      }
      await next();
    });
  };
}
