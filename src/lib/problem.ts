/**
 * RFC 9457 problem details. Every error the API answers is one of these, built
 * from a ProblemError thrown anywhere (service, middleware, handler) and turned
 * into a response by the app's single error handler.
 */

export type FieldError = {
  /** JSON pointer into the request body, e.g. "/email" (body errors). */
  pointer?: string;
  /** Name of the query, path or header parameter (non-body errors). */
  parameter?: string;
  /** Where the parameter was: "query", "path" or "header". */
  location?: "query" | "path" | "header";
  detail: string;
};

export type ProblemBody = {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  code: string;
  request_id?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
};

/** Titles for the status codes the API uses (RFC 9110 reason phrases). */
const STATUS_TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  410: "Gone",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  426: "Upgrade Required",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
};

export function statusTitle(status: number): string {
  return STATUS_TITLES[status] ?? (status >= 500 ? "Server Error" : "Client Error");
}

/** Problem `type` URIs are relative to the API and documented at GET /problems/{code}. */
export function problemType(code: string): string {
  return `/problems/${code}`;
}

export type ProblemInit = {
  status: number;
  code: string;
  detail: string;
  title?: string;
  errors?: FieldError[];
  /** Extra members (e.g. `violated_policies`, `allowed_types`). */
  extensions?: Record<string, unknown>;
  /** Response headers such as WWW-Authenticate, Retry-After or Allow. */
  headers?: Record<string, string>;
};

export class ProblemError extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly errors?: FieldError[];
  readonly extensions?: Record<string, unknown>;
  readonly headers?: Record<string, string>;

  constructor(init: ProblemInit) {
    super(init.detail);
    this.name = "ProblemError";
    this.status = init.status;
    this.code = init.code;
    this.title = init.title ?? statusTitle(init.status);
    this.errors = init.errors;
    this.extensions = init.extensions;
    this.headers = init.headers;
  }

  toBody(context: { instance?: string; requestId?: string }): ProblemBody {
    return {
      type: problemType(this.code),
      title: this.title,
      status: this.status,
      detail: this.message,
      instance: context.instance,
      code: this.code,
      request_id: context.requestId,
      ...(this.errors ? { errors: this.errors } : {}),
      ...this.extensions,
    };
  }
}

/** Shorthands for the problems most modules throw. */
export const problems = {
  validation: (errors: FieldError[], detail = "The request is not valid.") =>
    new ProblemError({ status: 400, code: "validation_failed", detail, errors }),
  badRequest: (code: string, detail: string) => new ProblemError({ status: 400, code, detail }),
  unauthorized: (detail = "Authentication is required.", code = "unauthorized", error = "invalid_token") =>
    new ProblemError({
      status: 401,
      code,
      detail,
      headers: {
        "WWW-Authenticate": `Bearer error="${error}", error_description="${detail.replaceAll('"', "'")}"`,
      },
    }),
  forbidden: (detail = "You are not allowed to do this.", code = "forbidden") =>
    new ProblemError({ status: 403, code, detail }),
  notFound: (what = "resource") =>
    new ProblemError({ status: 404, code: "not_found", detail: `The ${what} does not exist.` }),
  conflict: (code: string, detail: string) => new ProblemError({ status: 409, code, detail }),
  payloadTooLarge: (limitBytes: number) =>
    new ProblemError({
      status: 413,
      code: "payload_too_large",
      detail: `The request body is larger than the ${limitBytes} bytes this route accepts.`,
      extensions: { max_bytes: limitBytes },
    }),
  unsupportedMediaType: (accepted: string[]) =>
    new ProblemError({
      status: 415,
      code: "unsupported_media_type",
      detail: `This route accepts ${accepted.join(", ")}.`,
      extensions: { accepted_media_types: accepted },
      headers: { "Accept-Post": accepted.join(", ") },
    }),
  serviceUnavailable: (detail: string) =>
    new ProblemError({ status: 503, code: "service_unavailable", detail }),
};

/**
 * The documented problem codes, served at GET /problems/{code} and listed in the
 * README. Modules add their codes here so clients have one place to look.
 */
export const PROBLEM_CATALOG: Record<string, { status: number; description: string }> = {
  validation_failed: {
    status: 400,
    description: "A field, query or path parameter failed validation; `errors` names each one.",
  },
  malformed_json: { status: 400, description: "The body is not valid JSON." },
  invalid_cursor: { status: 400, description: "The `cursor` is not one this API issued for this listing." },
  unauthorized: { status: 401, description: "No credentials, or credentials that are not valid." },
  invalid_token: { status: 401, description: "The bearer token is malformed, expired, revoked or unknown." },
  forbidden: { status: 403, description: "Authenticated, but not allowed to do this." },
  not_found: { status: 404, description: "No such resource, or it belongs to someone else." },
  method_not_allowed: { status: 405, description: "The path exists but not with this method; see `Allow`." },
  conflict: { status: 409, description: "The request conflicts with the current state." },
  payload_too_large: { status: 413, description: "The body is larger than the route accepts." },
  unsupported_media_type: { status: 415, description: "The Content-Type is not one the route accepts." },
  rate_limited: { status: 429, description: "Too many requests; retry after `Retry-After` seconds." },
  internal_error: { status: 500, description: "An unexpected error; quote `request_id` when reporting it." },
  service_unavailable: { status: 503, description: "A dependency is down; retry later." },
  // Identity (auth, users)
  invalid_credentials: {
    status: 401,
    description: "Wrong email/username or password; the same answer whether or not the account exists.",
  },
  invalid_refresh_token: { status: 401, description: "The refresh token is unknown, expired or revoked." },
  refresh_token_reused: {
    status: 401,
    description: "A refresh token that was already used was presented again; its session has been revoked.",
  },
  refresh_token_superseded: {
    status: 409,
    description:
      "The refresh token was rotated by a concurrent request moments ago; use the tokens that request received.",
  },
  account_disabled: { status: 403, description: "The account has been disabled by staff." },
  email_taken: {
    status: 409,
    description: "An account with this email address (in any letter case) exists.",
  },
  username_taken: { status: 409, description: "The username (in any letter case) is taken." },
  too_many_attempts: {
    status: 429,
    description:
      "Too many failed password attempts for this account or from this address; see `Retry-After`.",
  },
};
