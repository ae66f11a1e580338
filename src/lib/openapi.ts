/**
 * OpenAPI building blocks every module shares: the problem schemas, standard
 * error responses with examples, the security schemes, and `defineRoute()`,
 * which wraps `createRoute()` so a JSON body is required, size-limited and
 * content-type checked on every route the same way.
 */
import { createRoute, type RouteConfig, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { limitBody } from "../middleware/body-limit";
import { IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER, idempotency } from "../middleware/idempotency";
import { requireJsonBody } from "../middleware/json-body";
import { IDEMPOTENCY_TTL_MS } from "./idempotency/records";
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
  return problemExampleResponse(
    status,
    description,
    PROBLEM_EXAMPLES[status] ?? { code: "error", detail: statusTitle(status) },
  );
}

/** A problem response whose example shows a given code. */
function problemExampleResponse(
  status: number,
  description: string | undefined,
  example: { code: string; detail: string; errors?: unknown[] },
) {
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

export const SECURITY: Record<"bearer" | "bearerOrApiKey" | "bearerOrNone", SecurityRequirement[]> = {
  /** A person's access JWT. */
  bearer: [{ bearerAuth: [] }],
  /**
   * A person's access JWT, or none: the route also takes another proof in the request itself
   * (a refresh token, a WebSocket ticket). The empty requirement is OpenAPI's "no credentials".
   */
  bearerOrNone: [{ bearerAuth: [] }, {}],
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

type Responses = RouteConfig["responses"];
type Parameter = NonNullable<RouteConfig["parameters"]>[number];

/** The Idempotency-Key header, documented on every POST and PATCH (src/middleware/idempotency.ts). */
export const IDEMPOTENCY_KEY_PARAMETER: Parameter = {
  name: IDEMPOTENCY_KEY_HEADER,
  in: "header",
  required: false,
  description: `Makes a retry safe: the first response of a request that reached its handler is stored for ${IDEMPOTENCY_TTL_MS / 3_600_000} h under your credentials, this route and this key, and replayed to any retry with \`${IDEMPOTENT_REPLAYED_HEADER}: true\`. 1–255 printable ASCII characters (otherwise a 400 naming the header); use a random UUID per operation. The same key with another body is a 422; while the first request still runs, a 409. 5xx and 429 answers, validation failures and responses marked \`Cache-Control: no-store\` are not stored.`,
  schema: { type: "string", minLength: 1, maxLength: 255, pattern: "^[\\x20-\\x7E]+$" },
  example: "8e0f8d52-6f3c-4a7e-9b1d-2c5a4e7f9b30",
};

const IN_PROGRESS_DESCRIPTION =
  "A request with the same `Idempotency-Key` is still running (`idempotency_request_in_progress`); retry after `Retry-After`.";

const KEY_REUSED_DESCRIPTION =
  "The `Idempotency-Key` was already used with a different request (`idempotency_key_reused`).";

/** The 409 and 422 an Idempotency-Key can cause, merged into a route's own 409 and 422 when it has them. */
function withIdempotencyResponses(responses: Responses): Responses {
  const own409 = responses[409];
  const own422 = responses[422];
  const conflict =
    own409 && "description" in own409
      ? { ...own409, description: `${own409.description} ${IN_PROGRESS_DESCRIPTION}` }
      : problemExampleResponse(409, IN_PROGRESS_DESCRIPTION, {
          code: "idempotency_request_in_progress",
          detail: "A request with this Idempotency-Key is still being processed.",
        });
  return {
    ...problemResponses(400, 413),
    ...responses,
    409: conflict,
    422:
      own422 && "description" in own422
        ? { ...own422, description: `${own422.description} ${KEY_REUSED_DESCRIPTION}` }
        : problemResponse(422, KEY_REUSED_DESCRIPTION),
  };
}

const IDEMPOTENT_METHODS = new Set(["post", "patch"]);

/**
 * createRoute() plus the conventions: a declared JSON body is required (unless
 * the route says `required: false`), limited to 1 MiB (413) and must be sent as
 * application/json (415), and malformed JSON is a 400 `malformed_json` — before
 * any validation runs. The 400/413/415 answers are documented on every such route.
 * POST and PATCH routes also honour `Idempotency-Key` (documented, with its 409/422):
 * the idempotency middleware goes last, after the route's own guards, so only a
 * request that reaches validation and the handler claims a key.
 */
export function defineRoute<const R extends RouteConfig>(route: R & BodyOptions): R {
  const { bodyLimit, ...config } = route;
  const body = config.request?.body;
  const jsonTypes = body ? Object.keys(body.content).filter((type) => /json/i.test(type)) : [];
  const hasJsonBody = body !== undefined && jsonTypes.length > 0;
  const idempotent = IDEMPOTENT_METHODS.has(config.method);
  if (!hasJsonBody && !idempotent) return createRoute(config as R);

  const required = body?.required ?? true;
  const guards: MiddlewareHandler[] =
    body && hasJsonBody
      ? [
          limitBody(bodyLimit ?? DEFAULT_JSON_BODY_LIMIT),
          requireJsonBody(Object.keys(body.content), { required }),
        ]
      : [];
  const existing = config.middleware
    ? Array.isArray(config.middleware)
      ? config.middleware
      : [config.middleware]
    : [];
  const responses = hasJsonBody
    ? { ...problemResponses(400, 413, 415), ...config.responses }
    : config.responses;
  return createRoute({
    ...config,
    ...(body && hasJsonBody ? { request: { ...config.request, body: { ...body, required } } } : {}),
    ...(idempotent ? { parameters: [IDEMPOTENCY_KEY_PARAMETER, ...(config.parameters ?? [])] } : {}),
    middleware: [
      ...guards,
      ...existing,
      ...(idempotent ? [idempotency({ maxBodyBytes: bodyLimit ?? DEFAULT_JSON_BODY_LIMIT })] : []),
    ],
    responses: idempotent ? withIdempotencyResponses(responses) : responses,
  } as unknown as R);
}
