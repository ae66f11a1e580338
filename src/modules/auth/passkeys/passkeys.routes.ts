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
import { AuthTokensSchema, authTokensExample } from "../auth.schemas";
import { emailInBody } from "../password-reset.routes";
import { proofBody, REAUTHENTICATION_NOTE, tooManyWrongPasswords } from "../reauthentication.schemas";
import {
  CreationOptionsSchema,
  creationOptionsExample,
  ListPasskeysQuery,
  LoginOptionsRequestSchema,
  LoginOptionsSchema,
  LoginVerifyRequestSchema,
  loginOptionsExample,
  PasskeyIdParams,
  PasskeyPageSchema,
  PasskeySchema,
  passkeyExample,
  RegistrationVerifyRequestSchema,
  RenamePasskeySchema,
} from "./passkeys.schemas";

const tags = ["Passkeys"];

const INVALID_PASSKEY =
  "The sign-in could not be verified (`invalid_passkey`): an unknown, used or expired `challenge_id`; a passkey not registered here (or not one the options offered); a user handle that is not the passkey owner's; another origin or RP ID; no user verification; a signature that does not verify; a signature counter that did not move forward.";

// ---------------------------------------------------------------------------
// Ceremonies, mounted at /api/v1/auth

export const registrationOptions = defineRoute({
  method: "post",
  path: "/passkeys/register/options",
  tags,
  summary: "Start adding a passkey",
  description: [
    "Answers `PublicKeyCredentialCreationOptionsJSON` for `navigator.credentials.create()` (through `PublicKeyCredential.parseCreationOptionsFromJSON()`): resident key preferred (the passkey can sign in without an email), user verification required, attestation `none`, your passkeys in `excludeCredentials`, and `user.id` your account's opaque WebAuthn handle (never the email). The challenge works once, for 5 minutes; send the browser's answer to `POST /passkeys/register/verify`.",
    `A passkey is a way into the account that outlives a password change, so adding one is re-authenticated. ${REAUTHENTICATION_NOTE}`,
    "People only (an API key is refused). The `passkey_register` rate-limit policy applies to this route and `/register/verify` together.",
  ].join("\n\n"),
  security: SECURITY.bearer,
  middleware: [requireUser(), rateLimit("passkey_register")],
  request: { body: proofBody() },
  responses: {
    200: jsonContent(CreationOptionsSchema, "Pass these to the browser.", creationOptionsExample),
    401: problemResponse(401),
    403: problemResponse(
      403,
      "Not a recent sign-in and no (or a wrong) proof (`reauthentication_required`, with `accepted_proofs`), or an API key.",
    ),
    409: problemResponse(409, "The account has 20 passkeys already (`passkey_limit_reached`)."),
    429: problemResponse(
      429,
      "Too many wrong passwords (`too_many_attempts`) or too many requests (`rate_limited`, `passkey_register` policy).",
    ),
    ...problemResponses(400, 413, 415),
  },
});

export const registrationVerify = defineRoute({
  method: "post",
  path: "/passkeys/register/verify",
  tags,
  summary: "Finish adding a passkey",
  description: [
    "`{ response, name? }`: `response` is what `navigator.credentials.create()` resolved to, as `credential.toJSON()` encodes it. The challenge it signed must be one of yours from `/register/options`, still open (it is spent now, whatever the outcome); the origin must be one of `WEBAUTHN_ORIGINS`, the RP ID hash `WEBAUTHN_RP_ID`'s, and the authenticator must have verified the user. Attestation `none` is accepted, and `packed` self-attestation (no `x5c`), which browsers keep under attestation `none`; any other format (`tpm`, `android-key`, `apple`, `fido-u2f`, `packed` with a certificate chain …) is a `validation_failed` naming `/response/response/attestationObject` (no authenticator model is vetted).",
    'Answers 201 with the passkey (`Location` points at it), records `auth.passkey_added` in the audit log and emails you a `passkey_changed` security alert. `name` defaults to "Passkey on <browser> on <system>".',
  ].join("\n\n"),
  security: SECURITY.bearer,
  middleware: [requireUser(), rateLimit("passkey_register")],
  request: { body: jsonRequestBody(RegistrationVerifyRequestSchema) },
  // An attestation object with a certificate chain is a few KiB; nothing legitimate comes near this.
  bodyLimit: 128 * 1024,
  responses: {
    201: {
      ...jsonContent(PasskeySchema, "The passkey is registered.", passkeyExample),
      headers: { Location: { description: "The new passkey.", schema: { type: "string" } } },
    },
    400: problemResponse(
      400,
      "A malformed field or an attestation format other than `none` or packed self-attestation (`validation_failed`, naming it), or a response that does not verify (`passkey_registration_failed`: no open challenge of yours, another origin or RP ID, no user verification …; `detail` says which).",
    ),
    401: problemResponse(401),
    403: problemResponse(403, "An API key."),
    409: problemResponse(
      409,
      "This credential is registered already, here or to anyone (`passkey_already_registered`).",
    ),
    429: problemResponse(429, "Too many requests (`rate_limited`, `passkey_register` policy)."),
    ...problemResponses(413, 415),
  },
});

export const loginOptions = defineRoute({
  method: "post",
  path: "/passkeys/login/options",
  tags,
  summary: "Start a passkey sign-in",
  description: [
    "Answers `{ challenge_id, options }`; pass `options` to `navigator.credentials.get()` (through `PublicKeyCredential.parseRequestOptionsFromJSON()`), then send its answer with `challenge_id` to `/login/verify` within 5 minutes.",
    "Without `email` (or without a body): a discoverable sign-in, `allowCredentials` empty, and the browser offers every passkey it holds for this site. With `email`: that account's passkeys in `allowCredentials`. The answer has the same shape and cost whether or not the address has an account or passkeys (an address without passkeys gets stable look-alike ids that no passkey answers), so it reveals nothing about the address.",
    "The `passkey_login` rate-limit policy applies per IP and per email, with `/login/verify`.",
  ].join("\n\n"),
  middleware: [rateLimit("passkey_login", { key: emailInBody })],
  request: { body: jsonRequestBody(LoginOptionsRequestSchema, "`email` for an email-first sign-in.", false) },
  responses: {
    200: jsonContent(LoginOptionsSchema, "Pass `options` to the browser.", loginOptionsExample),
    400: problemResponse(400, "A malformed email (`validation_failed`)."),
    429: problemResponse(429, "Too many requests (`rate_limited`, `passkey_login` policy)."),
    ...problemResponses(413, 415),
  },
});

export const loginVerify = defineRoute({
  method: "post",
  path: "/passkeys/login/verify",
  tags,
  summary: "Sign in with a passkey",
  description: [
    '`{ challenge_id, response }`: `response` is what `navigator.credentials.get()` resolved to, as `credential.toJSON()` encodes it. The challenge is spent whatever the outcome. On success: a new session and the same token pair as `POST /login`; the access token\'s `amr` is `["hwk", "mfa"]` for a device-bound passkey, `["swk", "mfa"]` for a synced one. A user-verified passkey satisfies multi-factor authentication on its own.',
    "A sign-in from a device or country new to the account emails a `new_device` alert, as for every sign-in. The `passkey_login` rate-limit policy applies per IP, with `/login/options`.",
  ].join("\n\n"),
  middleware: [rateLimit("passkey_login")],
  request: { body: jsonRequestBody(LoginVerifyRequestSchema) },
  bodyLimit: 32 * 1024,
  responses: {
    200: jsonContent(AuthTokensSchema, "Signed in.", authTokensExample),
    400: problemResponse(400, "A malformed field (`validation_failed`, naming it)."),
    401: problemResponse(401, INVALID_PASSKEY),
    403: problemResponse(
      403,
      "The account is disabled (`account_disabled`) or, with `AUTH_EMAIL_VERIFICATION=required`, its address is not verified (`email_not_verified`).",
    ),
    429: problemResponse(429, "Too many requests (`rate_limited`, `passkey_login` policy)."),
    ...problemResponses(413, 415),
  },
});

// ---------------------------------------------------------------------------
// Your passkeys, mounted at /api/v1/users

export const listMyPasskeys = defineRoute({
  method: "get",
  path: "/me/passkeys",
  tags,
  summary: "Your passkeys",
  description: "Oldest first by default; `sort` by `created_at` or `name`.",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { query: ListPasskeysQuery },
  responses: {
    200: jsonContent(PasskeyPageSchema, "One page of passkeys.", {
      data: [passkeyExample],
      meta: { next: null, prev: null, total: 1 },
    }),
    ...problemResponses(400, 401, 403),
  },
});

export const getMyPasskey = defineRoute({
  method: "get",
  path: "/me/passkeys/{id}",
  tags,
  summary: "One of your passkeys",
  description: "Another account's passkey answers 404.",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { params: PasskeyIdParams },
  responses: {
    200: jsonContent(PasskeySchema, "The passkey.", passkeyExample),
    ...problemResponses(400, 401, 403, 404),
  },
});

export const renameMyPasskey = defineRoute({
  method: "patch",
  path: "/me/passkeys/{id}",
  tags,
  summary: "Rename a passkey",
  description: "Recorded as `auth.passkey_renamed` in the audit log. Another account's passkey answers 404.",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { params: PasskeyIdParams, body: jsonRequestBody(RenamePasskeySchema) },
  responses: {
    200: jsonContent(PasskeySchema, "The renamed passkey.", { ...passkeyExample, name: "Work laptop" }),
    400: problemResponse(400, "A missing, empty, too long or multi-line `name` (`validation_failed`)."),
    ...problemResponses(401, 403, 404, 413, 415),
  },
});

export const removeMyPasskey = defineRoute({
  method: "delete",
  path: "/me/passkeys/{id}",
  tags,
  summary: "Remove a passkey",
  description: `The passkey can no longer sign in. Refused with 409 \`last_sign_in_method\` when nothing else could sign in (no password and no other passkey; an emailed code does not count, since it proves a mailbox, not the account's owner). Every removal is re-authenticated: a stolen access token must not strip the account of the ways its owner signs in. ${REAUTHENTICATION_NOTE} Recorded as \`auth.passkey_removed\` in the audit log, and you are emailed a \`passkey_changed\` security alert. Another account's passkey answers 404.`,
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { params: PasskeyIdParams, body: proofBody() },
  responses: {
    204: { description: "Removed." },
    403: problemResponse(
      403,
      "Not a recent sign-in and no (or a wrong) proof (`reauthentication_required`, with `accepted_proofs`), or an API key.",
    ),
    409: problemResponse(409, "It is your last way to sign in (`last_sign_in_method`)."),
    429: tooManyWrongPasswords(),
    ...problemResponses(400, 401, 404, 413, 415),
  },
});
