import { createRoute } from "@hono/zod-openapi";
import { jsonContent, problemResponse } from "../../lib/openapi";
import { limitBody } from "../../middleware/body-limit";
import { OAuthErrorSchema, TokenResponseSchema, tokenRequestJsonSchema } from "./oauth.schemas";

/** A token request is a few hundred bytes. */
export const TOKEN_REQUEST_BODY_LIMIT = 16 * 1024;

const oauthError = (description: string, example: { error: string; error_description: string }) => ({
  description,
  content: { "application/json": { schema: OAuthErrorSchema, example } },
});

/**
 * Declared with createRoute(), not defineRoute(): the body may be a form, and
 * every error is an RFC 6749 JSON body, so the handler reads and checks the
 * parameters itself (the schemas here document them).
 */
export const token = createRoute({
  method: "post",
  path: "/token",
  tags: ["OAuth"],
  summary: "Exchange an API key for an access token (client credentials)",
  description: [
    "RFC 6749 §4.4. `grant_type=client_credentials`; the client is an API key: `client_id` = its id, `client_secret` = its secret, in the body or as HTTP Basic credentials (not both).",
    "`scope` (space-separated) narrows the token to some of the key's scopes; asking for one the key lacks is `invalid_scope`.",
    "The answer is an ES256 access token (`typ: at+jwt`, claims `client_id`, `org_id`, `scope`) for the key's organization, living `ACCESS_TOKEN_TTL` (15 min) at most and never longer than the key (or a secret in its rotation grace period). Use it as `Authorization: Bearer <token>`; it stops working as soon as the key is revoked.",
    "Errors are RFC 6749 JSON bodies (`error`, `error_description`), **not** problem+json: `invalid_request`, `unsupported_grant_type`, `invalid_scope` (400) and `invalid_client` (401, with `WWW-Authenticate: Basic`). Unknown parameters are ignored, as the RFC asks.",
  ].join("\n\n"),
  middleware: [limitBody(TOKEN_REQUEST_BODY_LIMIT)],
  request: {
    body: {
      required: true,
      content: {
        "application/x-www-form-urlencoded": { schema: tokenRequestJsonSchema() },
        "application/json": { schema: tokenRequestJsonSchema() },
      },
    },
  },
  responses: {
    200: {
      ...jsonContent(TokenResponseSchema, "The access token. Sent with `Cache-Control: no-store`."),
    },
    400: oauthError("`invalid_request`, `unsupported_grant_type` or `invalid_scope`.", {
      error: "invalid_scope",
      error_description: "Not scopes of this key: billing:read. It has: tasks:read tasks:write.",
    }),
    401: oauthError("`invalid_client`: unknown client, wrong secret, or a revoked or expired key.", {
      error: "invalid_client",
      error_description: "Client authentication failed.",
    }),
    413: problemResponse(413),
    429: problemResponse(429),
  },
});
