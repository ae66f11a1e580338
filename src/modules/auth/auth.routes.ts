import type { Context } from "hono";
import type { AppEnv } from "../../app-env";
import {
  defineRoute,
  jsonContent,
  jsonRequestBody,
  problemResponse,
  problemResponses,
  SECURITY,
} from "../../lib/openapi";
import { rateLimit } from "../../middleware/rate-limit";
import { requireUser } from "../../middleware/require";
import {
  AuthTokensSchema,
  authTokensExample,
  JwksSchema,
  LoginSchema,
  LogoutSchema,
  PasswordChangeSchema,
  RefreshSchema,
  RefreshTokenHeaders,
  RegisterSchema,
  RegistrationPendingSchema,
  TokenVerifyResultSchema,
  TokenVerifySchema,
} from "./auth.schemas";
import { signInAnswer } from "./mfa.schemas";
import { emailInBody } from "./password-reset.routes";

const tags = ["Auth"];

/** The email or username a sign-in names, normalised, so each spelling does not get its own budget. */
async function loginIdentifier(c: Context<AppEnv>): Promise<string | undefined> {
  const body = (await c.req.json()) as { email?: unknown; username?: unknown };
  const identifier = typeof body.email === "string" ? body.email : body.username;
  return typeof identifier === "string" ? identifier.trim().toLowerCase() : undefined;
}

export const register = defineRoute({
  method: "post",
  path: "/register",
  tags,
  summary: "Create an account",
  description: [
    'Passwords follow NIST 800-63B: 8–128 characters, no composition rules, refused when common or equal to the email/username. The email is lower-cased. A verification email is queued; it also carries a "this was not me" link (POST /email/disown) for an owner who did not register.',
    "With `AUTH_EMAIL_VERIFICATION=optional` (the default): 201 with the account's first session (`Location` points at the new user); 409 when the address or username is taken.",
    'With `AUTH_EMAIL_VERIFICATION=required`: 202 `{ "status": "verification_sent" }` whether or not the address already has an account (its owner is emailed `account_exists` instead), and no tokens: sign in once the address is verified. A taken username is still 409 (usernames are public handles).',
    "The `register` rate-limit policy applies per IP and per email.",
  ].join("\n\n"),
  request: { body: jsonRequestBody(RegisterSchema) },
  middleware: [rateLimit("register", { key: emailInBody })],
  responses: {
    201: {
      ...jsonContent(
        AuthTokensSchema,
        "Account created and signed in (verification optional).",
        authTokensExample,
      ),
      headers: { Location: { description: "The new user.", schema: { type: "string" } } },
    },
    202: jsonContent(RegistrationPendingSchema, "Verification required: check the mailbox.", {
      status: "verification_sent",
    }),
    400: problemResponse(
      400,
      "A field is missing, malformed or breaks the password policy (`validation_failed`).",
    ),
    409: problemResponse(
      409,
      "The email (`email_taken`, verification optional only) or username (`username_taken`) is already registered.",
    ),
    429: problemResponse(429, "Too many registrations from this IP or for this email (`rate_limited`)."),
    ...problemResponses(413, 415),
  },
});

export const login = defineRoute({
  method: "post",
  path: "/login",
  tags,
  summary: "Sign in with email or username and password",
  description:
    'Opens a new session (a device) and returns a token pair whose access token carries `auth_time` and `amr: ["pwd"]`. For an account with an authenticator app the answer is `{ mfa_required: true, mfa_token, methods }` instead, and POST /auth/mfa/verify finishes the sign-in. Wrong credentials answer 401 `invalid_credentials` whether or not the account exists. Failures are counted per account and client (IPv6 by /64) before the password is hashed: 5 failures lock that client out of that account for 15 minutes (429 `too_many_attempts` with `Retry-After`), and 100 failures in an hour lock the account for 15 minutes for every client that has not signed in to it before. A disabled account answers 403 `account_disabled`; with `AUTH_EMAIL_VERIFICATION=required` an unverified one 403 `email_not_verified` (both only to someone who knows the password).',
  request: { body: jsonRequestBody(LoginSchema) },
  // Every attempt counts (per IP and per identifier), beside the failure lockout of sign-in-throttle.ts.
  middleware: [rateLimit("login", { key: loginIdentifier })],
  responses: {
    200: signInAnswer(
      "Signed in, or (for an account with an authenticator app) the MFA step: `mfa_required` and an `mfa_token` for POST /auth/mfa/verify, no tokens.",
    ),
    400: problemResponse(400),
    401: problemResponse(401, "Wrong email/username or password (`invalid_credentials`)."),
    403: problemResponse(
      403,
      "The account is disabled (`account_disabled`) or, in strict mode, its address is not verified (`email_not_verified`).",
    ),
    429: problemResponse(
      429,
      "Too many failed attempts (`too_many_attempts`) or too many attempts at all (`rate_limited`); see `Retry-After`.",
    ),
    503: problemResponse(503, "The sign-in throttle cannot be reached; password sign-in fails closed."),
    ...problemResponses(413, 415),
  },
});

export const refresh = defineRoute({
  method: "post",
  path: "/refresh",
  tags,
  summary: "Exchange a refresh token for a new token pair",
  description:
    "The refresh token comes in the body (`refresh_token`) or the `X-Refresh-Token` header (then the body may be omitted). It is single use: the answer carries a new one. A spent token presented again revokes the whole session (401 `refresh_token_reused`), except within 10 seconds of the rotation that spent it, from the same client (user agent): that is taken for two concurrent refreshes and answered 409 `refresh_token_superseded` without revoking anything.",
  request: { headers: RefreshTokenHeaders, body: jsonRequestBody(RefreshSchema, undefined, false) },
  responses: {
    200: jsonContent(
      AuthTokensSchema,
      "A new pair; the presented refresh token is now spent.",
      authTokensExample,
    ),
    400: problemResponse(400, "No refresh token was sent."),
    401: problemResponse(
      401,
      "Unknown, expired or revoked (`invalid_refresh_token`), or a spent token presented again (`refresh_token_reused`, the session is revoked).",
    ),
    409: problemResponse(409, "Just rotated by a concurrent request (`refresh_token_superseded`)."),
    ...problemResponses(413, 415),
  },
});

export const logout = defineRoute({
  method: "post",
  path: "/logout",
  tags,
  summary: "Sign out of this session",
  description:
    "Revokes the session of the access token; its access tokens are refused at once. A refresh token (body or `X-Refresh-Token`) may be sent as well or instead, e.g. when the access token has expired: so the access token is optional (security: bearer, or none with a refresh token). With neither a valid access token nor a live refresh token the answer is 401. API keys have no session (403).",
  security: SECURITY.bearerOrNone,
  request: { headers: RefreshTokenHeaders, body: jsonRequestBody(LogoutSchema, undefined, false) },
  responses: {
    204: { description: "Signed out." },
    401: problemResponse(401, "Neither a valid access token nor a live refresh token was sent."),
    ...problemResponses(400, 403, 413, 415),
  },
});

export const logoutAll = defineRoute({
  method: "post",
  path: "/logout-all",
  tags,
  summary: "Sign out of every session",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  responses: {
    204: { description: "Every session of the caller, this one included, is revoked." },
    ...problemResponses(401, 403),
  },
});

export const verifyToken = defineRoute({
  method: "post",
  path: "/token/verify",
  tags,
  summary: "Check an access token",
  description:
    "For other services: signature, algorithm, `typ`, issuer, audience, expiry and revocation are checked. 200 with the claims when valid, 401 otherwise.",
  request: { body: jsonRequestBody(TokenVerifySchema) },
  responses: {
    200: jsonContent(TokenVerifyResultSchema, "The token is valid."),
    401: problemResponse(
      401,
      "The token is not valid (`invalid_token`): malformed, expired, revoked, unknown key ...",
    ),
    ...problemResponses(400, 413, 415),
  },
});

export const changePassword = defineRoute({
  method: "post",
  path: "/password/change",
  tags,
  summary: "Change the password",
  description:
    "Needs the current password (failures are throttled like sign-in). Every other session of the account is revoked; this one stays signed in.",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { body: jsonRequestBody(PasswordChangeSchema) },
  responses: {
    204: { description: "Changed; other sessions revoked." },
    400: problemResponse(
      400,
      "Wrong current password, mismatched confirmation or a password the policy refuses.",
    ),
    429: problemResponse(429, "Too many wrong current passwords (`too_many_attempts`)."),
    ...problemResponses(401, 403, 413, 415),
  },
});

export const jwks = defineRoute({
  method: "get",
  path: "/.well-known/jwks.json",
  tags,
  summary: "Public keys that verify access tokens",
  description: "RFC 7517 key set: the public half of every configured signing key, by `kid`.",
  responses: {
    200: jsonContent(JwksSchema, "The key set."),
    ...problemResponses(500),
  },
});
