import type { MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";

/** JSON answers never need to load anything; the docs pages set their own, wider policy. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/** Routes may choose their own (public images are cross-origin); everything else stays same-site. */
const DEFAULT_CORP = "same-site";

const baseHeaders = secureHeaders({
  contentSecurityPolicy: undefined,
  crossOriginResourcePolicy: false,
  crossOriginOpenerPolicy: "same-origin",
  strictTransportSecurity: "max-age=31536000; includeSubDomains",
  xFrameOptions: "DENY",
  referrerPolicy: "no-referrer",
  xPermittedCrossDomainPolicies: "none",
});

/** Secure headers on every response, with a strict CSP unless the route chose one. */
export function securityHeaders(): MiddlewareHandler {
  // Not async itself: hono's secureHeaders waits for the rest of the chain, and sets its
  // headers after ours' defaults are in place.
  return function securityHeaders(c, next) {
    return baseHeaders(c, async () => {
      await next();
      if (!c.res.headers.has("Content-Security-Policy")) {
        c.res.headers.set("Content-Security-Policy", API_CSP);
      }
      if (!c.res.headers.has("Cross-Origin-Resource-Policy")) {
        c.res.headers.set("Cross-Origin-Resource-Policy", DEFAULT_CORP);
      }
    });
  };
}
