/**
 * OpenAPI building blocks every module shares: the problem schemas, standard
 * error responses with examples, the security schemes, and `defineRoute()`,
 * which wraps `createRoute()` so a JSON body is required, size-limited and
 * content-type checked on every route the same way.
 */
import { createRoute, type RouteConfig, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { limitBody } from "../middleware/body-limit";
import { requireJsonBody } from "../middleware/json-body";
import { statusTitle } from "./problem";

export const DEFAULT_JSON_BODY_LIMIT = 1024 * 1024;

export const FieldErrorSchema = z
  .object({
    pointer: z.string().optional().openapi({ description: "JSON pointer into the body", example: "/email" }),
    parameter: z
      .string()
      .optional()
      .openapi({ description: "Query, path or header parameter", example: "limit" }),
    location: z.enum(["query", "path", "header"]).optional(),
    detail: z.string().openapi({ example: "Invalid email address" }),
  })
  .openapi("FieldError");

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: "/problems/not_found" }),
    title: z.string().openapi({ example: "Not Found" }),
    status: z.number().int().openapi({ example: 404 }),
    detail: z.string().openapi({ example: "The resource does not exist." }),
    instance: z
      .string()
      .optional()
      .openapi({ example: "/api/v1/things/0190c6c4-8d1e-7c2a-9f5e-1b2c3d4e5f60" }),
    code: z.string().openapi({ description: "Stable machine-readable code", example: "not_found" }),
    request_id: z.string().optional().openapi({ example: "0190c6c4-8d1e-7c2a-9f5e-1b2c3d4e5f60" }),
    errors: z.array(FieldErrorSchema).optional(),
  })
  .openapi("Problem", { description: "RFC 9457 problem details (application/problem+json)." });

const PROBLEM_EXAMPLES: Record<number, { code: string; detail: string; errors?: unknown[] }> = {
  400: {
    code: "validation_failed",
    detail: "The request is not valid.",
    errors: [{ pointer: "/email", detail: "Invalid email address" }],
  },
  401: { code: "invalid_token", detail: "The access token is missing, malformed, expired or revoked." },
  402: { code: "insufficient_credits", detail: "The organization does not have enough credits." },
  403: { code: "forbidden", detail: "You are not allowed to do this." },
  404: { code: "not_found", detail: "The resource does not exist." },
  405: { code: "method_not_allowed", detail: "DELETE is not allowed here; use GET." },
  409: { code: "conflict", detail: "The request conflicts with the current state." },
  413: {
    code: "payload_too_large",
    detail: "The request body is larger than the 1048576 bytes this route accepts.",
  },
  415: { code: "unsupported_media_type", detail: "This route accepts application/json." },
  422: { code: "idempotency_key_reused", detail: "This Idempotency-Key was used with a different request." },
  429: { code: "rate_limited", detail: "Too many requests. Retry after 30 seconds." },
  500: { code: "internal_error", detail: "An unexpected error occurred." },
  503: { code: "service_unavailable", detail: "A dependency is unavailable." },
};

/** One documented problem response, with a realistic example. */
export function problemResponse(status: number, description?: string) {
  const example = PROBLEM_EXAMPLES[status] ?? { code: "error", detail: statusTitle(status) };
  return {
    description: description ?? statusTitle(status),
    content: {
      "application/problem+json": {
        schema: ProblemSchema,
        example: {
          type: `/problems/${example.code}`,
          title: statusTitle(status),
          status,
          detail: example.detail,
          code: example.code,
          request_id: "0190c6c4-8d1e-7c2a-9f5e-1b2c3d4e5f60",
          ...(example.errors ? { errors: example.errors } : {}),
        },
      },
    },
  };
}

/** `{ 400: …, 401: … }` for the listed statuses. */
export function problemResponses(...statuses: number[]) {
  return Object.fromEntries(statuses.map((status) => [status, problemResponse(status)]));
}

export function jsonContent<T extends z.ZodType>(schema: T, description: string, example?: unknown) {
  return {
    description,
    content: { "application/json": { schema, ...(example === undefined ? {} : { example }) } },
  };
}

type SecurityRequirement = Record<string, string[]>;

export const SECURITY: Record<"bearer" | "bearerOrApiKey", SecurityRequirement[]> = {
  /** A person's access JWT. */
  bearer: [{ bearerAuth: [] }],
  /** A person's JWT or an integrator's API key (Bearer sk_… or X-API-Key). */
  bearerOrApiKey: [{ bearerAuth: [] }, { apiKeyHeader: [] }],
};

/** A JSON request body; `required: false` for routes where the body is optional. */
export function jsonRequestBody<T extends z.ZodType>(schema: T, description?: string, required = true) {
  return { required, description, content: { "application/json": { schema } } };
}

export const SECURITY_SCHEMES = {
  bearerAuth: {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description:
      "Access token from POST /api/v1/auth/login (ES256 JWT, 15 min). API keys (sk_live_…/sk_test_…) are accepted as a Bearer token too.",
  },
  apiKeyHeader: {
    type: "apiKey",
    in: "header",
    name: "X-API-Key",
    description: "An organization API key (sk_live_… / sk_test_…).",
  },
} as const;

type BodyOptions = {
  /** Bytes accepted; 1 MiB unless the route says otherwise. */
  bodyLimit?: number;
};

/**
 * createRoute() plus the conventions: a declared JSON body is required (unless
 * the route says `required: false`), limited to 1 MiB (413) and must be sent as
 * application/json (415), and malformed JSON is a 400 `malformed_json` — before
 * any validation runs. The 400/413/415 answers are documented on every such route.
 */
export function defineRoute<const R extends RouteConfig>(route: R & BodyOptions): R {
  const { bodyLimit, ...config } = route;
  const body = config.request?.body;
  const jsonTypes = body ? Object.keys(body.content).filter((type) => /json/i.test(type)) : [];
  if (!body || jsonTypes.length === 0) return createRoute(config as R);

  const required = body.required ?? true;
  const guards: MiddlewareHandler[] = [
    limitBody(bodyLimit ?? DEFAULT_JSON_BODY_LIMIT),
    requireJsonBody(Object.keys(body.content), { required }),
  ];
  const existing = config.middleware
    ? Array.isArray(config.middleware)
      ? config.middleware
      : [config.middleware]
    : [];
  return createRoute({
    ...config,
    request: { ...config.request, body: { ...body, required } },
    middleware: [...guards, ...existing],
    responses: { ...problemResponses(400, 413, 415), ...config.responses },
  } as unknown as R);
}
