import {
  defineRoute,
  jsonContent,
  jsonRequestBody,
  problemResponse,
  problemResponses,
  SECURITY,
} from "../../../lib/openapi";
import { rateLimit } from "../../../middleware/rate-limit";
import { requireUser } from "../../../middleware/require";
import { signInAnswer } from "../mfa.schemas";
import { proofBody, REAUTHENTICATION_NOTE, tooManyWrongPasswords } from "../reauthentication.schemas";
import {
  AuthorizeQuery,
  AuthorizeUrlSchema,
  CallbackQuery,
  ExchangeSchema,
  IdentityIdParams,
  IdentityListSchema,
  identityExample,
  ProviderListSchema,
  ProviderParams,
  ProviderTokensSchema,
  providerListExample,
  providerTokensExample,
} from "./identity-providers.schemas";
import { SIGN_IN_ERROR_CODES } from "./sign-in-refusal";

const tags = ["Auth"];

const errorCodeList = Object.keys(SIGN_IN_ERROR_CODES)
  .map((code) => `\`${code}\``)
  .join(", ");

const redirectExample = (location: string) => ({
  description: "",
  headers: { Location: { schema: { type: "string" as const }, example: location } },
});

export const listProviders = defineRoute({
  method: "get",
  path: "/providers",
  tags,
  summary: "Identity providers you can sign in with",
  description:
    "The providers configured on this server, in order: `google` and `github` when their OAuth clients are set, then every OIDC_PROVIDERS entry. Show one button per entry.",
  responses: {
    200: jsonContent(ProviderListSchema, "The configured providers (possibly none).", providerListExample),
  },
});

export const authorize = defineRoute({
  method: "get",
  path: "/oauth/{provider}/authorize",
  tags,
  summary: "Start a sign-in with a provider",
  description:
    "Open this URL in the browser (a mobile app: in the system browser or an auth session, not a web view). It sets an HttpOnly cookie binding the sign-in to this browser and answers **302** to the provider with `state`, `nonce` and PKCE (S256). With `Accept: application/json` it answers **200** `{ url }` instead (and sets the same cookie), for a client that navigates itself; `mode=link` needs that form, since a navigation cannot carry a Bearer token. The provider then returns to `/oauth/{provider}/callback`. The `provider_sign_in` rate-limit policy applies.",
  request: { params: ProviderParams, query: AuthorizeQuery },
  middleware: [rateLimit("provider_sign_in")],
  responses: {
    200: jsonContent(AuthorizeUrlSchema, "With `Accept: application/json`: the provider's URL."),
    302: {
      ...redirectExample(
        "https://accounts.google.com/o/oauth2/v2/auth?response_type=code&client_id=1234.apps.googleusercontent.com&state=Zk3…&code_challenge_method=S256&code_challenge=Yp1…&scope=openid+email+profile&nonce=Qm8…",
      ),
      description:
        "To the provider's authorization page. When an OIDC provider's discovery document cannot be read, to the redirect_uri with `error=provider_unavailable` instead.",
    },
    400: problemResponse(
      400,
      "The redirect_uri is not one of AUTH_REDIRECT_URLS (`redirect_uri_not_allowed`, naming `redirect_uri`), or a malformed parameter (`validation_failed`).",
    ),
    401: problemResponse(401, "`mode=link` without a valid access token."),
    403: problemResponse(
      403,
      "`mode=link` with a sign-in older than REAUTH_WINDOW (`reauthentication_required`): sign in again first.",
    ),
    404: problemResponse(404, "No provider of this name is configured (`not_found`)."),
    429: problemResponse(429, "Too many sign-ins from this IP (`rate_limited`)."),
    503: problemResponse(
      503,
      "With `Accept: application/json`: the OIDC provider's discovery document cannot be read (`provider_unavailable`).",
    ),
  },
});

export const callback = defineRoute({
  method: "get",
  path: "/oauth/{provider}/callback",
  tags,
  summary: "Where the provider returns (not called by clients)",
  description: `Register this URL at the provider as the authorized redirect URI: \`{APP_URL}/api/v1/auth/oauth/{provider}/callback\`. It spends the \`state\` (single use, 10 minutes), checks the browser-binding cookie set by /authorize, trades the provider's code (with PKCE), verifies the ID token (issuer, audience, nonce, expiry, signature from the provider's JWKS) or reads the person from the provider's API, then signs in, signs up or links, and answers **302** to the client's redirect_uri with \`?code=<one-time code>\` (60 s, single use; trade it at POST /oauth/exchange) or \`?error=<code>&error_description=<text>\`. Error codes: ${errorCodeList}. Tokens never travel in a URL.`,
  request: { params: ProviderParams, query: CallbackQuery },
  middleware: [rateLimit("provider_sign_in")],
  responses: {
    302: {
      ...redirectExample(
        "https://app.example.com/auth/callback?code=pc_Jx1M0c8fQ2rYv7TnWb4kLs9hGd3eUa6iOp5zXy2wVqE",
      ),
      description:
        "To the client's redirect_uri with `code`, or with `error` and `error_description` (e.g. `?error=email_not_verified&error_description=…`).",
    },
    400: problemResponse(
      400,
      "No state, or one that is unknown, expired, already used or of another provider (`invalid_state`): there is no safe place to redirect to.",
    ),
    404: problemResponse(404, "No provider of this name is configured (`not_found`)."),
    429: problemResponse(429, "Too many sign-ins from this IP (`rate_limited`)."),
  },
});

export const exchange = defineRoute({
  method: "post",
  path: "/oauth/exchange",
  tags,
  summary: "Trade the one-time code for tokens",
  description:
    'The `code` from the redirect (and the `code_verifier` when /authorize had a `code_challenge`) → the token pair, as POST /login answers it, plus `is_new_user`. Any presentation spends the code. Access tokens of provider sign-ins carry `amr: ["fed"]`. The `provider_sign_in` rate-limit policy applies.',
  request: { body: jsonRequestBody(ExchangeSchema) },
  middleware: [rateLimit("provider_sign_in")],
  responses: {
    200: signInAnswer(
      "Signed in (or signed up); for an account with an authenticator app, the MFA step (`mfa_required`, an `mfa_token` for POST /auth/mfa/verify) instead of tokens.",
      { schema: ProviderTokensSchema, example: providerTokensExample },
    ),
    400: problemResponse(
      400,
      "Unknown, expired (60 s) or already used code, or a code_verifier that is missing, wrong or not expected (`invalid_or_expired`); a malformed body (`validation_failed`).",
    ),
    403: problemResponse(403, "The account was disabled meanwhile (`account_disabled`)."),
    429: problemResponse(429, "Too many sign-ins from this IP (`rate_limited`)."),
  },
});

const identityTags = ["Users"];

export const listMyIdentities = defineRoute({
  method: "get",
  path: "/me/identities",
  tags: identityTags,
  summary: "Your linked provider accounts",
  description: "Every identity-provider account linked to yours, oldest first.",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  responses: {
    200: jsonContent(IdentityListSchema, "Your identities.", { data: [identityExample] }),
    ...problemResponses(401, 403),
  },
});

export const unlinkMyIdentity = defineRoute({
  method: "delete",
  path: "/me/identities/{id}",
  tags: identityTags,
  summary: "Unlink a provider account",
  description: `Signing in with that provider account no longer reaches yours. Refused with 409 \`last_sign_in_method\` when nothing else could sign in (no password and no other linked identity). Another account's identity answers 404. ${REAUTHENTICATION_NOTE}`,
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { params: IdentityIdParams, body: proofBody() },
  responses: {
    204: { description: "Unlinked." },
    403: problemResponse(
      403,
      "Not a recent sign-in and no (or a wrong) proof (`reauthentication_required`, with `accepted_proofs`), or an API key.",
    ),
    404: problemResponse(404, "No such identity of yours (`not_found`)."),
    409: problemResponse(409, "It is your last way to sign in (`last_sign_in_method`)."),
    429: tooManyWrongPasswords(),
    ...problemResponses(400, 401, 413, 415),
  },
});
