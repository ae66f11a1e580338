import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import type { AppEnv } from "../app-env";
import { D1_BOOKMARK_HEADER } from "../db/bookmarks";
import { getConfig } from "../env";

export const CORS_ALLOW_HEADERS = [
  "Authorization",
  "Content-Type",
  "Idempotency-Key",
  "X-API-Key",
  "X-Refresh-Token",
  "X-Request-Id",
  D1_BOOKMARK_HEADER, // sent back so a browser client reads its own writes (docs/SCALING.md)
];

export const CORS_EXPOSE_HEADERS = [
  "X-Request-Id",
  D1_BOOKMARK_HEADER,
  "Location",
  "Link",
  "Retry-After",
  "Idempotent-Replayed",
  "X-RateLimit-Limit",
  "X-RateLimit-Remaining",
  "X-RateLimit-Reset",
  "RateLimit",
  "RateLimit-Policy",
];

/**
 * CORS for the origins in CORS_ORIGINS ("*" allows any origin). Credentials are
 * bearer tokens in headers, not cookies, so responses are never credentialed.
 * The handler is built once per configuration, not per request.
 */
export function corsFromConfig(): MiddlewareHandler<AppEnv> {
  const handlers = new WeakMap<object, MiddlewareHandler>();
  // Not async: it only picks the handler; hono's cors middleware does the waiting.
  return function corsFromConfig(c, next) {
    const config = getConfig(c.env);
    let handler = handlers.get(config);
    if (!handler) {
      const allowed = new Set(config.CORS_ORIGINS);
      handler = cors({
        origin: (origin) => (allowed.has("*") ? "*" : allowed.has(origin) ? origin : null),
        allowMethods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allowHeaders: CORS_ALLOW_HEADERS,
        exposeHeaders: CORS_EXPOSE_HEADERS,
        maxAge: 600,
      });
      handlers.set(config, handler);
    }
    return handler(c, next);
  };
}
