import type { Context, MiddlewareHandler, Next } from "hono";
import type { AppEnv } from "../app-env";
import type { ServiceContext } from "../lib/context";
import { type AccessTokenClaims, InvalidTokenError } from "../lib/jwt";
import type { Principal } from "../lib/principal";
import { ProblemError, problems } from "../lib/problem";
import { acceptedAccessTokenInMemory, authenticateAccessToken } from "../modules/auth/auth.service";

/** Where a credential came from: `Authorization: Bearer …` or `X-API-Key: …`. */
export type Credential = { source: "bearer" | "x-api-key"; value: string };

/**
 * Turns one kind of credential into a principal. `accepts` looks only at the
 * shape (a prefix, the header it came in); `resolve` verifies it and returns the
 * principal or throws a 401 ProblemError. `resolveInMemory`, when a resolver has
 * it, answers without waiting when everything `resolve` would check is already
 * known to be good in this isolate, and undefined otherwise (never a refusal).
 */
export type CredentialResolver = {
  name: string;
  accepts: (credential: Credential) => boolean;
  resolve: (ctx: ServiceContext, credential: Credential) => Promise<Principal>;
  resolveInMemory?: (ctx: ServiceContext, credential: Credential) => Principal | undefined;
};

export const API_KEY_PATTERN = /^sk_(live|test)_/;

/** Access JWTs from sign-in and refresh. */
export const accessTokenResolver: CredentialResolver = {
  name: "access_token",
  accepts: (credential) => credential.source === "bearer" && !API_KEY_PATTERN.test(credential.value),
  async resolve(ctx, credential) {
    try {
      return userPrincipal(await authenticateAccessToken(ctx, credential.value));
    } catch (error) {
      if (error instanceof InvalidTokenError) throw problems.unauthorized(error.detail, "invalid_token");
      throw error;
    }
  },
  resolveInMemory(ctx, credential) {
    const claims = acceptedAccessTokenInMemory(ctx, credential.value);
    return claims ? userPrincipal(claims) : undefined;
  },
};

function userPrincipal(claims: AccessTokenClaims): Principal {
  return {
    kind: "user",
    userId: claims.sub,
    sessionId: claims.sid,
    isStaff: claims.is_staff,
    tokenId: claims.jti,
    tokenExpiresAt: claims.exp * 1000,
    authTime: claims.auth_time * 1000,
    amr: claims.amr,
  };
}

/**
 * The resolvers tried in order; the first whose `accepts` is true decides. The
 * list and its order are set in src/modules/wiring.ts (API keys and
 * client-credentials tokens ahead of people's access tokens).
 */
export const credentialResolvers: CredentialResolver[] = [accessTokenResolver];

/**
 * Why the credentials of this request were refused, for the guards in require.ts
 * to answer with. Kept on the context, not keyed by the Request: body middleware
 * may replace c.req.raw.
 */
export function authenticationFailure(c: Context<AppEnv>): ProblemError | undefined {
  return c.get("authFailure");
}

export function readCredential(c: Context<AppEnv>): Credential | null | "malformed" {
  const authorization = c.req.header("authorization");
  if (authorization !== undefined) {
    const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(authorization);
    return match?.[1] ? { source: "bearer", value: match[1] } : "malformed";
  }
  const apiKey = c.req.header("x-api-key");
  if (apiKey !== undefined)
    return apiKey.trim() ? { source: "x-api-key", value: apiKey.trim() } : "malformed";
  return null;
}

/**
 * Resolves the request's credentials into `c.get("principal")` and a principal-
 * bearing ServiceContext. Lenient by design: a request with bad credentials
 * goes on as anonymous (public routes, and POST /auth/refresh sent with a stale
 * access token, keep working), and the failure is kept for requireUser() /
 * requireStaff(), which answer it as a 401 with `WWW-Authenticate`.
 */
export function authenticate(
  resolvers: CredentialResolver[] = credentialResolvers,
): MiddlewareHandler<AppEnv> {
  // Not an async function: a request with no credentials, a malformed one, or one whose principal
  // is already known in this isolate goes on to the next middleware without waiting a turn of the
  // microtask queue. Only a resolver that has to look something up makes a promise.
  return function authenticate(c, next) {
    const credential = readCredential(c);
    if (credential === "malformed") {
      c.set(
        "authFailure",
        problems.unauthorized("The Authorization header must be `Bearer <token>`.", "invalid_token"),
      );
      return next();
    }
    if (!credential) return next();
    const resolver = resolvers.find((candidate) => candidate.accepts(credential));
    if (!resolver) {
      c.set(
        "authFailure",
        problems.unauthorized("This kind of credential is not accepted.", "invalid_token"),
      );
      return next();
    }
    const ctx = c.get("ctx");
    const known = resolver.resolveInMemory?.(ctx, credential);
    if (known) {
      setPrincipal(c, known);
      return next();
    }
    return resolveThenNext(c, next, resolver, credential);
  };
}

async function resolveThenNext(
  c: Context<AppEnv>,
  next: Next,
  resolver: CredentialResolver,
  credential: Credential,
): Promise<void> {
  try {
    setPrincipal(c, await resolver.resolve(c.get("ctx"), credential));
  } catch (error) {
    if (!(error instanceof ProblemError) || error.status !== 401) throw error;
    c.set("authFailure", error);
  }
  await next();
}

function setPrincipal(c: Context<AppEnv>, principal: Principal): void {
  c.set("principal", principal);
  c.set("ctx", { ...c.get("ctx"), principal });
}
