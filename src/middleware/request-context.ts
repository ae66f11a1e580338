import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { METHOD_NAME_ALL } from "hono/router";
import type { AppEnv, RequestTiming } from "../app-env";
import { D1_BOOKMARK_HEADER, parseBookmark, requestSessionStart } from "../db/bookmarks";
import { getConfig } from "../env";
import { createServiceContext } from "../lib/context";
import { uuidv7 } from "../lib/ids";
import { createLogger } from "../lib/logger";
import { ANONYMOUS, describePrincipal } from "../lib/principal";
import { clientIp } from "../lib/rate-limit/client-address";

/** A client-sent X-Request-Id is kept only when it is short and harmless to log. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

export function resolveRequestId(header: string | undefined): string {
  return header && SANE_REQUEST_ID.test(header) ? header : uuidv7();
}

/** The route label of a request no route matched (404, 405, a preflight): one series, never the path. */
export const UNMATCHED_ROUTE = "(unmatched)";

/**
 * The pattern of the route a request went to (e.g. /api/v1/users/me), read after the
 * response. Several registrations match one request: every `use()` middleware, and
 * every route whose pattern fits, in registration order (GET /api/v1/users/me matches
 * /api/v1/users/me and the later /api/v1/users/:id). The one that answered is the
 * last one Hono dispatched to, `c.req.routeIndex`: a route's handler, or its own
 * guard or validator, which is registered under the same pattern. When a `use()`
 * middleware answered instead (a 429 of the rate limiter, an admin router's staff
 * guard: Hono records their method as ALL), the request is labelled with the first route that
 * fits, the one Hono would have dispatched to next. No fitting route at all: unmatched.
 */
export function matchedRoutePattern(c: Context): string {
  const routes = matchedRoutes(c);
  const answered = routes[c.req.routeIndex];
  if (answered && answered.method !== METHOD_NAME_ALL) return answered.path;
  return routes.find((route) => route.method !== METHOD_NAME_ALL)?.path ?? UNMATCHED_ROUTE;
}

/**
 * The route pattern and duration of a finished request, measured once: the first
 * caller after the response (the request metrics) fixes the numbers, and the access
 * log reports the same ones.
 */
export function requestTiming(c: Context<AppEnv>): RequestTiming {
  const timing = c.get("timing") ?? { started: performance.now() };
  if (!timing.measured) {
    timing.measured = {
      route: matchedRoutePattern(c),
      durationMs: Math.round((performance.now() - timing.started) * 100) / 100,
    };
    c.set("timing", timing);
  }
  return timing.measured;
}

/**
 * First middleware of every request: the request id (echoed in X-Request-Id), a
 * logger bound to it, the anonymous principal until authentication says
 * otherwise, the ServiceContext with the request's one D1 session (its bookmark
 * answered in X-D1-Bookmark), and one access-log line when the response is done.
 */
export function requestContext(): MiddlewareHandler<AppEnv> {
  return async function requestContext(c, next) {
    c.set("timing", { started: performance.now() });
    const requestId = resolveRequestId(c.req.header("x-request-id"));
    c.set("requestId", requestId);
    c.header("X-Request-Id", requestId);

    // Config problems must still produce a logged, well-formed 500, so the logger
    // falls back to "info" when the configuration itself is what is broken.
    let level: "debug" | "info" | "warn" | "error" = "info";
    try {
      level = getConfig(c.env).LOG_LEVEL;
    } catch {}
    const logger = createLogger(level, { request_id: requestId });
    c.set("logger", logger);
    c.set("principal", ANONYMOUS);

    const cf = c.req.raw.cf as { country?: string; city?: string } | undefined;
    const client = {
      ip: clientIp(c.req.header("cf-connecting-ip")), // undefined unless exactly one IP address
      userAgent: c.req.header("user-agent")?.slice(0, 512),
      country: cf?.country,
      city: cf?.city,
    };
    // A bookmark that is not D1's shape is ignored, as if none had been sent: the request
    // still runs, from where the rule for its method says.
    const clientBookmark = parseBookmark(c.req.header(D1_BOOKMARK_HEADER));
    const executionCtx = (() => {
      try {
        return c.executionCtx;
      } catch {
        return undefined; // app.request() in unit tests has no ExecutionContext
      }
    })();
    c.set(
      "ctx",
      createServiceContext({
        env: c.env,
        principal: ANONYMOUS,
        requestId,
        logger,
        waitUntil: executionCtx ? (promise) => executionCtx.waitUntil(promise) : undefined,
        client,
        d1SessionStart: requestSessionStart(c.req.method, clientBookmark),
      }),
    );

    await next();

    // After the handler (and the error handler) ran: the newest point this request's session
    // saw. A request that never reached D1 hands the client's bookmark back, so a client that
    // always sends the last one it got never goes back in time; with neither, no header.
    const ctx = c.get("ctx");
    const bookmark = ctx.dbSession.bookmark() ?? clientBookmark;
    if (bookmark) c.res.headers.set(D1_BOOKMARK_HEADER, bookmark);

    const { route, durationMs } = requestTiming(c);
    logger.info("request", {
      method: c.req.method,
      route,
      path: c.req.path,
      status: c.res.status,
      duration_ms: durationMs,
      principal: describePrincipal(c.get("principal")),
      ip: client.ip,
      d1_session: ctx.dbSession.kind,
    });
  };
}
