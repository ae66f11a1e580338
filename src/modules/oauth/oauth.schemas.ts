import { z } from "@hono/zod-openapi";
import { KEY_EXAMPLE, KEY_ID_EXAMPLE } from "../api-keys/api-keys.schemas";

export const CLIENT_CREDENTIALS = "client_credentials";

/**
 * The token request's parameters. Loose on purpose: RFC 6749 §3.2 tells the
 * server to ignore parameters it does not know, unlike the API's other bodies.
 */
export const TokenRequestSchema = z.looseObject({
  grant_type: z.string().max(100).describe("Must be `client_credentials`."),
  client_id: z
    .string()
    .max(100)
    .optional()
    .describe("The API key's id. Or send `client_id:client_secret` as HTTP Basic credentials instead."),
  client_secret: z.string().max(200).optional().describe("The API key's secret (`sk_live_…` / `sk_test_…`)."),
  scope: z
    .string()
    .max(1000)
    .optional()
    .describe("Space-separated subset of the key's scopes; all of them when omitted."),
});

export type TokenRequest = z.infer<typeof TokenRequestSchema>;

/** The same schema as a plain JSON Schema for the OpenAPI document (the handler parses the body itself). */
export function tokenRequestJsonSchema(): Record<string, unknown> {
  const { $schema: _ignored, ...schema } = z.toJSONSchema(TokenRequestSchema, { io: "input" });
  return {
    ...schema,
    example: {
      grant_type: CLIENT_CREDENTIALS,
      client_id: KEY_ID_EXAMPLE,
      client_secret: KEY_EXAMPLE,
      scope: "tasks:read",
    },
  };
}

export const TokenResponseSchema = z
  .object({
    access_token: z
      .string()
      .openapi({ description: "ES256 JWT (`typ: at+jwt`) for the key's organization." }),
    token_type: z.literal("Bearer"),
    expires_in: z.number().int().openapi({ description: "Seconds until it expires." }),
    scope: z.string().openapi({ description: "The scopes granted, space-separated." }),
  })
  .openapi("OAuthTokenResponse", {
    example: {
      access_token: "eyJhbGciOiJFUzI1NiIsImtpZCI6ImtleS0yMDI2LTExIiwidHlwIjoiYXQrand0In0.eyJ…",
      token_type: "Bearer",
      expires_in: 900,
      scope: "tasks:read",
    },
  });

export type TokenResponse = z.infer<typeof TokenResponseSchema>;

export const OAuthErrorSchema = z
  .object({
    error: z.enum(["invalid_request", "invalid_client", "invalid_scope", "unsupported_grant_type"]),
    error_description: z.string(),
  })
  .openapi("OAuthError", {
    description: "RFC 6749 §5.2 error response (application/json, not problem+json).",
    example: { error: "invalid_client", error_description: "Client authentication failed." },
  });
