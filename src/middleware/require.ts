import type { Context, MiddlewareHandler } from "hono";
import { z } from "zod";
import type { AppEnv } from "../app-env";
import { ProblemError, problems } from "../lib/problem";
import { findUserById } from "../modules/auth/accounts";
import {
  assertCan,
  insufficientScope,
  type OrgContext,
  peopleOnly,
  resolveOrgContext,
} from "../modules/orgs/org-context";
import {
  type ApiKeyScope,
  holdsScope,
  isApiKeyScope,
  type OrgPermission,
  type OrgRole,
  orgRoles,
  PERMISSIONS,
} from "../modules/orgs/permissions";
import { authenticationFailure } from "./authenticate";

/**
 * Route guards, used as `middleware: [requireUser()]` in defineRoute(). They
 * decide on `c.get("principal")` only; a request whose credentials were refused
 * gets the reason authenticate() recorded (expired, revoked, unknown key ...).
 */

/** A signed-in person (an access JWT). 401 otherwise; 403 for an API key. */
export function requireUser(): MiddlewareHandler<AppEnv> {
  // Not async: a signed-in request goes straight on (a refusal thrown here is caught by Hono's
  // dispatch like a rejected promise would be).
  return function requireUser(c, next) {
    const principal = c.get("principal");
    if (principal.kind === "user") return next();
    if (principal.kind === "anonymous") throw authenticationFailure(c) ?? problems.unauthorized();
    throw problems.forbidden("This route is for signed-in users; API keys cannot use it.");
  };
}

/**
 * A signed-in staff member: 401 without a user, 403 for everyone else. The token's
 * `is_staff` is only a first filter: the account is read from D1 on every staff
 * request, so a demoted or disabled staff member is refused at once everywhere, even
 * by an isolate that has not yet seen the revocation of their sessions.
 */
export function requireStaff(): MiddlewareHandler<AppEnv> {
  const user = requireUser();
  return async function requireStaff(c, next) {
    await user(c, async () => {
      const principal = c.get("principal");
      if (principal.kind !== "user" || !principal.isStaff)
        throw problems.forbidden("Only staff can do this.");
      const account = await findUserById(c.get("ctx"), principal.userId);
      if (!account?.isActive)
        throw problems.unauthorized("The account is disabled or no longer exists.", "invalid_token");
      if (!account.isStaff) throw problems.forbidden("Only staff can do this.");
      await next();
    });
  };
}

/**
 * A signed-in person whose email address is verified (users.email_verified_at):
 * 401 without a user, 403 for API keys, 403 `email_not_verified` otherwise.
 */
export function requireVerifiedEmail(): MiddlewareHandler<AppEnv> {
  const user = requireUser();
  return async function requireVerifiedEmail(c, next) {
    await user(c, async () => {
      const principal = c.get("principal");
      const account =
        principal.kind === "user" ? await findUserById(c.get("ctx"), principal.userId) : undefined;
      if (!account) throw problems.unauthorized("The account no longer exists.", "invalid_token");
      if (account.emailVerifiedAt === null) {
        throw problems.forbidden(
          "Verify your email address first: this needs a verified email.",
          "email_not_verified",
        );
      }
      await next();
    });
  };
}

/**
 * Integrator principals (API keys, client-credentials tokens) must hold every
 * scope listed: 403 `insufficient_scope` otherwise. People pass (what they may do
 * is decided by their roles and ownership), anonymous callers get 401. Use it on
 * routes outside an organization's path, e.g. `requireScopes("tasks:write")`.
 */
export function requireScopes(...scopes: ApiKeyScope[]): MiddlewareHandler<AppEnv> {
  const unknown = scopes.filter((scope) => !isApiKeyScope(scope));
  if (scopes.length === 0 || unknown.length > 0) {
    throw new TypeError(`requireScopes: give one or more known scopes (unknown: ${unknown.join(", ")})`);
  }
  return async function requireScopes(c, next) {
    const principal = c.get("principal");
    if (principal.kind === "anonymous") throw authenticationFailure(c) ?? problems.unauthorized();
    if (principal.kind === "api_key") {
      const missing = scopes.filter((scope) => !holdsScope(principal.scopes, scope));
      if (missing.length > 0) throw insufficientScope(missing);
    }
    await next();
  };
}

/**
 * The OrgContext that requireOrgAccess()/requireOrgRole() resolved for this
 * request. Calling it on a route without either guard is a bug (500), never an
 * unscoped query.
 */
export function orgContext(c: Context<AppEnv>): OrgContext {
  const octx = c.get("orgContext");
  if (!octx) throw new Error("orgContext(): the route has no requireOrgAccess()/requireOrgRole() guard");
  return octx;
}

const orgIdSchema = z.uuid();

/** Resolves `{org_id}` for the caller: 401 without credentials, 400 for a malformed id, 404 outside their organizations. */
async function enterOrganization(c: Context<AppEnv>): Promise<OrgContext> {
  if (c.get("principal").kind === "anonymous") throw authenticationFailure(c) ?? problems.unauthorized();
  const raw = c.req.param("org_id");
  if (!orgIdSchema.safeParse(raw).success) {
    throw problems.validation(
      [{ parameter: "org_id", location: "path", detail: "Invalid UUID" }],
      "Invalid org_id.",
    );
  }
  const octx = await resolveOrgContext(c.get("ctx"), raw as string);
  c.set("orgContext", octx);
  return octx;
}

/**
 * An organization route whose access follows the permission table
 * (src/modules/orgs/permissions.ts): members need a role that holds
 * `permission`, API keys of that organization the scope it names (none: people
 * only). Another organization's id is a 404 for everyone.
 */
export function requireOrgAccess(permission: OrgPermission): MiddlewareHandler<AppEnv> {
  if (!Object.hasOwn(PERMISSIONS, permission)) {
    throw new TypeError(`requireOrgAccess: unknown permission "${permission}"`);
  }
  return async function requireOrgAccess(c, next) {
    assertCan(await enterOrganization(c), permission);
    await next();
  };
}

/**
 * An organization route for people holding one of `roles` there: 404 when not a
 * member, 403 for other roles and for API keys (combine with the permission
 * table through requireOrgAccess() when keys should be let in).
 */
export function requireOrgRole(...roles: OrgRole[]): MiddlewareHandler<AppEnv> {
  const unknown = roles.filter((role) => !(orgRoles as readonly string[]).includes(role));
  if (roles.length === 0 || unknown.length > 0) {
    throw new TypeError(
      `requireOrgRole: give one or more of ${orgRoles.join(", ")} (unknown: ${unknown.join(", ")})`,
    );
  }
  return async function requireOrgRole(c, next) {
    const octx = await enterOrganization(c);
    if (octx.actor.kind !== "member") throw peopleOnly();
    if (!roles.includes(octx.actor.role)) {
      throw new ProblemError({
        status: 403,
        code: "forbidden",
        detail: `This needs one of the roles ${roles.join(", ")} in the organization.`,
      });
    }
    await next();
  };
}
