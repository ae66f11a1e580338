import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import { flushMetricsIfDue, recordRequest } from "../modules/metrics/metrics.recorder";
import { requestTiming } from "./request-context";

/** Not counted: Prometheus' own scrapes would otherwise dominate a quiet deployment's counters. */
const UNCOUNTED_PATHS = new Set(["/metrics"]);

/**
 * Counts every answered request (method, route pattern, status class) and its
 * latency into this isolate's metrics batch, then hands the batch to the METRICS
 * Durable Object with waitUntil once it is due (see metrics.recorder.ts), never on
 * the response path. Installed right after requestContext(), so it sees the final
 * status of everything, errors included; the route and duration are the ones the
 * access log reports (requestTiming).
 */
export function requestMetrics(): MiddlewareHandler<AppEnv> {
  return async function requestMetrics(c, next) {
    await next();
    if (UNCOUNTED_PATHS.has(c.req.path)) return;
    const { route, durationMs } = requestTiming(c);
    recordRequest({ method: c.req.method, route, status: c.res.status, durationMs });
    const flush = flushMetricsIfDue(c.env, c.get("logger"));
    if (flush) c.get("ctx").waitUntil(flush);
  };
}
