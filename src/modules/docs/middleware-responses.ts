/**
 * The answers the app-wide middleware can give on any operation, declared on every
 * operation of the OpenAPI document in one place, so generated clients can rely on the
 * document listing every status and a new route cannot forget one:
 *
 * - 429 `rate_limited` (src/middleware/rate-limit.ts) on every operation the global limiter
 *   counts, with `Retry-After` and the rate-limit headers. A route that declares a 429 of its
 *   own (a route policy, the sign-in throttle) keeps its description, extended;
 * - 400 `validation_failed` on every operation with a path, query or header parameter or a
 *   body: the router validates each before the handler runs (src/lib/create-router.ts);
 * - 401 on every operation that takes credentials: the guards answer a missing or refused one.
 *
 * What is not here, and why: the JSON body guards (400 `malformed_json`, 413, 415) and the
 * Idempotency-Key answers (409, 422) are declared by defineRoute() beside the middleware it
 * installs (src/lib/openapi.ts); 405 answers a method the path does not have, so it belongs
 * to no operation; and no middleware answers 503 (the limiter fails open, and a route whose
 * dependency can be down declares its own 503).
 */
import type { RouteConfig } from "@hono/zod-openapi";
import type { AppRouter } from "../../lib/create-router";
import { problemResponse } from "../../lib/openapi";
import { isPathExemptFromGlobalRateLimit } from "../../middleware/rate-limit";

type Response = RouteConfig["responses"][string];

const header = (description: string, example: string | number) => ({
  description,
  schema: { type: typeof example === "number" ? ("integer" as const) : ("string" as const) },
  example,
});

/** The headers of a limited answer (API.md "rate limits"), as `components.headers`. */
const RATE_LIMIT_HEADERS = {
  "Retry-After": header("Seconds to wait before trying again (429 only).", 30),
  "X-RateLimit-Limit": header("Requests allowed per window by the tightest policy that applied.", 600),
  "X-RateLimit-Remaining": header("Requests left in that policy's current window.", 0),
  "X-RateLimit-Reset": header("Seconds until that policy's window resets.", 30),
  "RateLimit-Policy": header(
    "IETF draft-10: each policy that applied, its quota and window in seconds.",
    '"user";q=600;w=60',
  ),
  RateLimit: header(
    "IETF draft-10: each policy, requests remaining and seconds to reset.",
    '"user";r=0;t=30',
  ),
};

const headerRefs = Object.fromEntries(
  Object.keys(RATE_LIMIT_HEADERS).map((name) => [name, { $ref: `#/components/headers/${name}` }]),
);

const RATE_LIMITED_TEXT =
  "Over a rate-limit policy (`rate_limited`): the app-wide one of the caller (`anonymous` per IP address, IPv6 by /64; `user`; `api_key`) or a route's own. `violated_policies` names them; wait `Retry-After` seconds. The `X-RateLimit-*` and `RateLimit*` headers come on every answer the limiter counted.";

/**
 * The 429 every counted operation gets: inline, not a `$ref`, so a reader of one operation
 * (and a generator that does not resolve references) sees the problem schema and its example.
 */
function rateLimitedResponse(): Response {
  const response = problemResponse(429, RATE_LIMITED_TEXT);
  const content = response.content["application/problem+json"];
  return {
    ...response,
    headers: headerRefs,
    content: {
      "application/problem+json": {
        ...content,
        example: {
          ...content.example,
          detail: 'Too many requests: the "anonymous" limit is 60 per 60 s. Retry after 30 seconds.',
          violated_policies: ["anonymous"],
        },
      },
    },
  };
}

const INVALID_PARAMETER_TEXT =
  "A parameter or the body is not valid (`validation_failed`; `errors` names each field or parameter).";

const CREDENTIALS_TEXT =
  "Credentials missing, malformed, expired or revoked (`WWW-Authenticate` says which).";

function hasValidatedInput(route: RouteConfig): boolean {
  const request = route.request;
  return Boolean(request?.params || request?.query || request?.headers || request?.body);
}

function takesCredentials(route: RouteConfig): boolean {
  return (route.security ?? []).some((requirement) => Object.keys(requirement).length > 0);
}

/** A route's own 429, told of the app-wide limit and given the headers; idempotent. */
function withGlobalRateLimit(own: Response): Response {
  if ("$ref" in own) return own;
  const mentionsGlobal = own.description?.includes("app-wide") ?? false;
  return {
    ...own,
    description: mentionsGlobal ? own.description : `${own.description ?? ""} ${RATE_LIMITED_TEXT}`.trim(),
    headers:
      own.headers && !("shape" in own.headers)
        ? { ...headerRefs, ...own.headers }
        : (own.headers ?? headerRefs),
  };
}

/** The route with the answers the app-wide middleware can give on it; its own declarations win. */
export function withMiddlewareResponses(route: RouteConfig): RouteConfig {
  const responses = { ...route.responses };
  if (hasValidatedInput(route)) responses[400] ??= problemResponse(400, INVALID_PARAMETER_TEXT);
  if (takesCredentials(route)) responses[401] ??= problemResponse(401, CREDENTIALS_TEXT);
  if (!isPathExemptFromGlobalRateLimit(route.path)) {
    const own = responses[429];
    responses[429] = own ? withGlobalRateLimit(own) : rateLimitedResponse();
  }
  return { ...route, responses };
}

/**
 * Registers the rate-limit headers, and declares the middleware's answers on every
 * route registered so far. Call once, after the last route, before the document is built.
 */
export function declareMiddlewareResponses(registry: AppRouter["openAPIRegistry"]): void {
  for (const [name, component] of Object.entries(RATE_LIMIT_HEADERS)) {
    registry.registerComponent("headers", name, component);
  }
  for (const definition of registry.definitions) {
    if (definition.type === "route") {
      definition.route = withMiddlewareResponses(definition.route);
    }
  }
}
