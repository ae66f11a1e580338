import type { Context, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { AppEnv, RequestTiming } from "../app-env";
import { D1_BOOKMARK_HEADER, parseBookmark, requestSessionStart } from "../db/bookmarks";
import { getConfig } from "../env";
import { createServiceContext } from "../lib/context";
import { uuidv7 } from "../lib/ids";
import { createLogger } from "../lib/logger";
import { ANONYMOUS, describePrincipal } from "../lib/principal";

/** A client-sent X-Request-Id is kept only when it is short and harmless to log. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

export function resolveRequestId(header: string | undefined): string {
  return header && SANE_REQUEST_ID.test(header) ? header : uuidv7();
}

/**
 * The route pattern and duration of a finished request, measured once: the first
 * caller after the response (the request metrics) fixes the numbers, and the access
 * log reports the same ones.
 */
export function requestTiming(c: Context<AppEnv>): RequestTiming {
  const timing = c.get("timing") ?? { started: performance.now() };
  if (!timing.measured) {
    const route = routePath(c, -1);
    timing.measured = {
      route: route && route !== "/*" && route !== "*" ? route : "(unmatched)",
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
      ip: c.req.header("cf-connecting-ip") ?? undefined,
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
