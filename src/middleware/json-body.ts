import type { MiddlewareHandler } from "hono";
import { ProblemError, problems } from "../lib/problem";

/** "application/json; charset=utf-8" → "application/json". */
export function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

function isJsonMediaType(mediaType: string): boolean {
  return mediaType === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(mediaType);
}

/**
 * Guards a route that declares a body: the Content-Type must be one the route
 * accepts (415), and a JSON body must parse (400 `malformed_json`). The parsed
 * body is cached by Hono, so the validator that runs next does not parse again.
 * On a route whose body is optional, an empty body is no body, whatever
 * Content-Type a client library sends by habit.
 */
export function requireJsonBody(acceptedTypes: string[], options: { required: boolean }): MiddlewareHandler {
  const accepted = acceptedTypes.map((type) => type.toLowerCase());
  return async function requireJsonBody(c, next) {
    const emptyOptionalBody =
      !options.required &&
      c.req.header("content-type") !== undefined &&
      (c.req.raw.body === null || (await c.req.raw.clone().text()).trim() === "");
    if (emptyOptionalBody) {
      const headers = new Headers(c.req.raw.headers);
      headers.delete("content-type");
      headers.delete("content-length");
      c.req.raw = new Request(c.req.raw.url, { method: c.req.raw.method, headers });
    }
    const mediaType = mediaTypeOf(c.req.header("content-type"));
    const hasBody = c.req.raw.body !== null;
    if (!mediaType) {
      // No declared type: a body we cannot interpret is a 415; no body is left to validation.
      if (hasBody && c.req.header("content-length") !== "0") throw problems.unsupportedMediaType(accepted);
      return next();
    }
    if (!accepted.includes(mediaType)) throw problems.unsupportedMediaType(accepted);
    if (isJsonMediaType(mediaType)) {
      try {
        await c.req.json();
      } catch {
        throw new ProblemError({
          status: 400,
          code: "malformed_json",
          detail: "The request body is not valid JSON.",
        });
      }
    }
    return next();
  };
}
