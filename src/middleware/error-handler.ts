import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { TrieRouter } from "hono/router/trie-router";
import type { RouterRoute } from "hono/types";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ZodError } from "zod";
import type { AppEnv } from "../app-env";
import { type Config, ConfigError, getConfig } from "../env";
import { reportError } from "../lib/error-tracking";
import { createLogger, serializeError } from "../lib/logger";
import { ProblemError, problems } from "../lib/problem";
import { validationProblem } from "../lib/validation";
import { matchedRoutePattern } from "./request-context";
import { noSuchRoute, type Switch, switchOf } from "./switched-on";

/** Hono's own HTTP errors (from its validators and middleware) in our vocabulary. */
function fromHttpException(error: HTTPException): ProblemError {
  switch (error.status) {
    case 400:
      return /json/i.test(error.message)
        ? new ProblemError({
            status: 400,
            code: "malformed_json",
            detail: "The request body is not valid JSON.",
          })
        : problems.badRequest("bad_request", error.message || "The request is malformed.");
    case 401:
      return problems.unauthorized();
    case 413:
      return new ProblemError({
        status: 413,
        code: "payload_too_large",
        detail: "The request body is too large.",
      });
    case 415:
      return new ProblemError({
        status: 415,
        code: "unsupported_media_type",
        detail: "The Content-Type is not one this route accepts.",
      });
    default:
      return new ProblemError({
        status: error.status,
        code: error.status >= 500 ? "internal_error" : "http_error",
        detail: error.message || "The request failed.",
      });
  }
}

export function toProblem(error: unknown): { problem: ProblemError; unexpected: boolean } {
  if (error instanceof ProblemError) return { problem: error, unexpected: false };
  if (error instanceof HTTPException)
    return { problem: fromHttpException(error), unexpected: error.status >= 500 };
  if (error instanceof ZodError) return { problem: validationProblem(error, "json"), unexpected: false };
  if (error instanceof ConfigError) {
    return {
      problem: new ProblemError({
        status: 500,
        code: "configuration_error",
        detail: "The server is misconfigured. The operator has been told through the logs.",
      }),
      unexpected: true,
    };
  }
  return {
    problem: new ProblemError({
      status: 500,
      code: "internal_error",
      detail: "An unexpected error occurred.",
    }),
    unexpected: true,
  };
}

export function problemResponse(c: Context<AppEnv>, problem: ProblemError): Response {
  const body = problem.toBody({ instance: c.req.path, requestId: c.get("requestId") });
  const response = c.json(body, problem.status as ContentfulStatusCode, problem.headers);
  response.headers.set("Content-Type", "application/problem+json");
  return response;
}

/** Every thrown error becomes problem+json; unexpected ones are logged with their stack, never answered with it. */
export const handleError: ErrorHandler<AppEnv> = (error, c) => {
  const { problem, unexpected } = toProblem(error);
  if (unexpected) {
    const principal = c.get("principal");
    reportError(error, {
      requestId: c.get("requestId"),
      // The same pattern the metrics and the access log name, also when a middleware threw.
      route: matchedRoutePattern(c),
      userId: principal?.kind === "user" ? principal.userId : undefined,
    });
    const logger = c.get("logger") ?? createLogger("info");
    logger.error("unhandled error", {
      error: serializeError(error),
      method: c.req.method,
      path: c.req.path,
      ...(error instanceof ConfigError ? { issues: error.issues } : {}),
    });
  }
  return problemResponse(c, problem);
};

export const handleNotFound: NotFoundHandler<AppEnv> = (c) => problemResponse(c, noSuchRoute(c));

/**
 * The answer to a request no route took: 405 with `Allow` when its path has routes for other
 * methods, otherwise the 404 of handleNotFound. `app` is read on the first such request, when
 * every route is registered.
 *
 * Why here and not hono's methodNotAllowed middleware, which answers the same: a middleware
 * wraps every request to look at the few that end in a 404, and the not-found handler runs for
 * those few only.
 */
export function handleUnmatched(app: { routes: readonly RouterRoute[] }): NotFoundHandler<AppEnv> {
  let methodsByPath: TrieRouter<PathMethods> | undefined;
  return (c) => {
    methodsByPath ??= routeMethods(app.routes);
    const allowed = new Set<string>();
    let config: Config | undefined;
    for (const [methods] of methodsByPath.match("ALL", c.req.path)[0]) {
      for (const [method, switches] of methods) {
        // A route switched off does not exist, so its method is not offered (switched-on.ts).
        if (switches.length > 0) {
          config ??= getConfig(c.env);
          if (!switches.every((isOn) => isOn(config as Config))) continue;
        }
        allowed.add(method);
      }
    }
    if (allowed.size === 0 || allowed.has(c.req.method)) return handleNotFound(c);
    return methodNotAllowedProblem(c, [...allowed]);
  };
}

/** The methods a path pattern's routes answer, each with the switches its route passes through. */
type PathMethods = Map<string, Switch[]>;

/** Each path pattern with the methods its routes answer (HEAD wherever GET is), as a router. */
function routeMethods(routes: readonly RouterRoute[]): TrieRouter<PathMethods> {
  const byPath = new Map<string, PathMethods>();
  for (const route of routes) {
    // app.use() middleware is registered as ALL; HEAD is implied by GET.
    if (route.method === "ALL" || route.method === "HEAD") continue;
    const methods = byPath.get(route.path) ?? new Map<string, Switch[]>();
    // A route is one entry per handler, middleware included: a switchedOn() among them gates it.
    const switches = methods.get(route.method) ?? [];
    const isOn = switchOf(route.handler);
    if (isOn && !switches.includes(isOn)) switches.push(isOn);
    methods.set(route.method, switches);
    if (route.method === "GET") methods.set("HEAD", switches);
    byPath.set(route.path, methods);
  }
  const router = new TrieRouter<PathMethods>();
  for (const [path, methods] of byPath) router.add("ALL", path, methods);
  return router;
}

function methodNotAllowedProblem(c: Context<AppEnv>, allowed: string[]): Response {
  return problemResponse(
    c,
    new ProblemError({
      status: 405,
      code: "method_not_allowed",
      detail: `${c.req.method} is not allowed on ${c.req.path}; allowed: ${allowed.join(", ")}.`,
      headers: { Allow: allowed.join(", ") },
    }),
  );
}
