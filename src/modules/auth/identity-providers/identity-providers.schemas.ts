import { z } from "@hono/zod-openapi";
import { AuthTokensSchema, authTokensExample } from "../auth.schemas";

export const ProviderSchema = z
  .object({
    id: z
      .string()
      .openapi({ description: "Path segment of the authorize and callback routes.", example: "google" }),
    name: z.string().openapi({ description: "What to show on the button.", example: "Google" }),
    type: z.enum(["oidc", "oauth2"]).openapi({
      description:
        "`oidc`: the person is proven by a verified ID token; `oauth2`: read from the provider's API (GitHub).",
    }),
  })
  .openapi("IdentityProvider", { example: { id: "google", name: "Google", type: "oidc" } });

export const providerListExample = {
  data: [
    { id: "google", name: "Google", type: "oidc" },
    { id: "github", name: "GitHub", type: "oauth2" },
    { id: "keycloak", name: "Company SSO", type: "oidc" },
  ],
};

export const ProviderListSchema = z
  .object({ data: z.array(ProviderSchema) })
  .openapi("IdentityProviderList", { example: providerListExample });

export const ProviderParams = z.object({
  provider: z
    .string()
    .max(64)
    .openapi({ param: { name: "provider", in: "path" }, example: "google", description: "A provider id." }),
});

/** S256 of a 32-byte verifier, base64url: 43 characters. */
const CODE_CHALLENGE_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** RFC 7636 §4.1: 43–128 unreserved characters. */
const CODE_VERIFIER_PATTERN = /^[A-Za-z0-9._~-]{43,128}$/;

export const AuthorizeQuery = z
  .object({
    redirect_uri: z.string().min(1).max(2048).openapi({
      description:
        "Where to send the browser back: one of AUTH_REDIRECT_URLS, exactly (custom schemes for mobile apps included). Anything else is a 400 and is never redirected to.",
      example: "https://app.example.com/auth/callback",
    }),
    mode: z.enum(["signin", "link"]).default("signin").openapi({
      description:
        "`signin` (default) signs in or signs up. `link` links the provider account to the signed-in caller: needs a person's Bearer access token from a sign-in within REAUTH_WINDOW.",
    }),
    code_challenge: z
      .string()
      .regex(CODE_CHALLENGE_PATTERN, "An S256 code challenge: 43 base64url characters.")
      .optional()
      .openapi({
        description:
          "A public client's own PKCE challenge toward this API (RFC 7636, S256 of its code_verifier). The exchange then needs that code_verifier.",
        example: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
      }),
    code_challenge_method: z.literal("S256").optional().openapi({ description: "Only `S256`." }),
  })
  .superRefine((query, ctx) => {
    if (query.code_challenge !== undefined && query.code_challenge_method === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["code_challenge_method"],
        message: "Required with code_challenge: S256 (plain is not accepted).",
      });
    }
    if (query.code_challenge === undefined && query.code_challenge_method !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["code_challenge"],
        message: "Required with code_challenge_method.",
      });
    }
  });

export const AuthorizeUrlSchema = z
  .object({
    url: z.string().openapi({
      description:
        "The provider's authorization URL (state, nonce and PKCE included): navigate the browser there.",
    }),
  })
  .openapi("ProviderAuthorizationUrl", {
    example: {
      url: "https://accounts.google.com/o/oauth2/v2/auth?response_type=code&client_id=1234.apps.googleusercontent.com&redirect_uri=https%3A%2F%2Fapi.example.com%2Fapi%2Fv1%2Fauth%2Foauth%2Fgoogle%2Fcallback&state=Zk3…&code_challenge_method=S256&code_challenge=Yp1…&scope=openid+email+profile&nonce=Qm8…",
    },
  });

const providerParam = (description: string, example: string) =>
  z.string().max(4096).optional().openapi({ description, example });

/** What the provider puts on its redirect; other parameters (scope, session_state, iss …) are ignored. */
export const CallbackQuery = z.object({
  code: providerParam("The provider's authorization code.", "4/0AeaYSHB…"),
  state: providerParam("The state /authorize sent.", "Zk3qv9Vb2w…"),
  error: providerParam(
    "The provider's error, e.g. `access_denied` when the person declined.",
    "access_denied",
  ),
  error_description: providerParam("The provider's text (not shown to anyone).", "The user denied access"),
});

export const ExchangeSchema = z
  .strictObject({
    code: z.string().min(1).max(256).openapi({
      description: "The `code` the callback put on your redirect_uri (60 seconds, single use).",
      example: "pc_Jx1M0c8fQ2rYv7TnWb4kLs9hGd3eUa6iOp5zXy2wVqE",
    }),
    code_verifier: z
      .string()
      .regex(CODE_VERIFIER_PATTERN, "43–128 characters of A–Z, a–z, 0–9, `-`, `.`, `_`, `~` (RFC 7636).")
      .optional()
      .openapi({
        description: "Required when /authorize had a code_challenge; refused when it had none.",
        example: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
      }),
  })
  .openapi("ProviderCodeExchangeRequest", {
    example: {
      code: "pc_Jx1M0c8fQ2rYv7TnWb4kLs9hGd3eUa6iOp5zXy2wVqE",
      code_verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    },
  });

export const providerTokensExample = { ...authTokensExample, is_new_user: false };

export const ProviderTokensSchema = AuthTokensSchema.extend({
  is_new_user: z.boolean().openapi({ description: "True when this sign-in created the account." }),
}).openapi("ProviderSignInTokens", { example: providerTokensExample });

export const identityExample = {
  id: "0190c6c5-2b3c-7d4e-9f5a-6b7c8d9e0f1a",
  provider: "google",
  provider_user_id: "108204268033311811425",
  email: "ada@example.com",
  email_verified: true,
  created_at: "2026-11-20T10:00:00.000Z",
  last_used_at: "2026-11-21T08:30:00.000Z",
};

export const IdentitySchema = z
  .object({
    id: z.uuid(),
    provider: z.string().openapi({ example: "google" }),
    provider_user_id: z
      .string()
      .openapi({ description: "The provider's id of the person (`sub`).", example: "108204268033311811425" }),
    email: z
      .string()
      .nullable()
      .openapi({ description: "The address the provider gave at the last sign-in." }),
    email_verified: z
      .boolean()
      .openapi({ description: "Whether the provider said it verified that address." }),
    created_at: z.iso.datetime(),
    last_used_at: z.iso.datetime(),
  })
  .openapi("LinkedIdentity", { example: identityExample });

export type IdentityDto = z.infer<typeof IdentitySchema>;

export const IdentityListSchema = z
  .object({ data: z.array(IdentitySchema) })
  .openapi("LinkedIdentityList", { example: { data: [identityExample] } });

export const IdentityIdParams = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, example: identityExample.id }),
});
