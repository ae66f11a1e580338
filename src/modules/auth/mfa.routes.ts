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
import { AuthTokensSchema, authTokensExample } from "./auth.schemas";
import {
  MfaProofSchema,
  MfaStatusSchema,
  MfaVerifySchema,
  RecoveryCodesSchema,
  TotpConfirmSchema,
  TotpEnrollmentSchema,
} from "./mfa.schemas";
import { REAUTHENTICATION_NOTE, tooManyWrongPasswords } from "./reauthentication.schemas";

const tags = ["Auth"];

const reauthRefused = problemResponse(
  403,
  "Not a recent sign-in and no (or a wrong) proof (`reauthentication_required`, with `accepted_proofs`), or an API key.",
);

const proof = {
  required: false,
  description:
    "Proof, when the sign-in is not recent: `current_password`, or `mfa_code` (a code of the app or a recovery code).",
  content: { "application/json": { schema: MfaProofSchema } },
};

export const mfaStatus = defineRoute({
  method: "get",
  path: "/mfa",
  tags,
  summary: "Your second factors",
  description:
    "Whether an authenticator app guards your sign-ins, how many recovery codes are left, and how many passkeys you have.",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  responses: {
    200: jsonContent(MfaStatusSchema, "Your second factors."),
    ...problemResponses(401, 403),
  },
});

export const enrollTotp = defineRoute({
  method: "post",
  path: "/mfa/totp/enroll",
  tags,
  summary: "Start adding an authenticator app",
  description: `A new secret (RFC 6238: SHA-1, 6 digits, 30 seconds) and its \`otpauth://\` URI, for the client to show as a QR code. Nothing changes until POST /auth/mfa/totp/confirm proves the app holds it; enrolling again before that replaces the secret. Needs a verified address. ${REAUTHENTICATION_NOTE}`,
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { body: proof },
  responses: {
    200: jsonContent(TotpEnrollmentSchema, "The secret; show `otpauth_url` as a QR code."),
    403: problemResponse(
      403,
      "Re-authentication needed (`reauthentication_required`), the address is not verified (`email_not_verified`), or an API key.",
    ),
    409: problemResponse(409, "An authenticator app is already on (`mfa_already_enabled`)."),
    429: tooManyWrongPasswords(),
    503: problemResponse(503, "MFA_ENCRYPTION_KEY is not set on this server (`mfa_not_configured`)."),
    ...problemResponses(400, 401, 413, 415),
  },
});

export const confirmTotp = defineRoute({
  method: "post",
  path: "/mfa/totp/confirm",
  tags,
  summary: "Turn the authenticator app on with its first code",
  description:
    "Proves the app holds the secret: from now on every sign-in of the account (password, magic code, provider) needs a code of it. Answers ten recovery codes, shown this once and stored hashed; each works once. Wrong codes count in the account's sign-in throttle.",
  security: SECURITY.bearer,
  middleware: [requireUser(), rateLimit("mfa_verify")],
  request: { body: jsonRequestBody(TotpConfirmSchema) },
  responses: {
    200: jsonContent(RecoveryCodesSchema, "The app is on; store these codes."),
    400: problemResponse(
      400,
      "The code is wrong or was already used (`invalid_mfa_code`), or malformed (`validation_failed`).",
    ),
    409: problemResponse(
      409,
      "No app is pending (`totp_not_enrolled`), or one is already on (`mfa_already_enabled`).",
    ),
    429: problemResponse(
      429,
      "Too many wrong codes (`too_many_attempts`) or requests (`rate_limited`); see `Retry-After`.",
    ),
    ...problemResponses(401, 403, 413, 415),
  },
});

export const disableTotp = defineRoute({
  method: "delete",
  path: "/mfa/totp",
  tags,
  summary: "Turn the authenticator app off",
  description: `Removes the app and the recovery codes: sign-ins need one factor again. The owner is emailed. ${REAUTHENTICATION_NOTE}`,
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { body: proof },
  responses: {
    204: { description: "Turned off." },
    403: reauthRefused,
    409: problemResponse(409, "No authenticator app is on (`mfa_not_enabled`)."),
    429: tooManyWrongPasswords(),
    ...problemResponses(400, 401, 413, 415),
  },
});

export const regenerateRecoveryCodes = defineRoute({
  method: "post",
  path: "/mfa/recovery-codes",
  tags,
  summary: "Replace your recovery codes",
  description: `Ten new codes, shown this once; the previous set stops working at once. ${REAUTHENTICATION_NOTE}`,
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { body: proof },
  responses: {
    200: jsonContent(RecoveryCodesSchema, "The new codes; the old ones no longer work."),
    403: reauthRefused,
    409: problemResponse(409, "No authenticator app is on (`mfa_not_enabled`)."),
    429: tooManyWrongPasswords(),
    ...problemResponses(400, 401, 413, 415),
  },
});

export const verifyMfa = defineRoute({
  method: "post",
  path: "/mfa/verify",
  tags,
  summary: "Finish a sign-in with a second factor",
  description:
    'After a sign-in answered `mfa_required`: `{ mfa_token, code }` with a code of the authenticator app (each code is accepted once), or `{ mfa_token, recovery_code }` (single use; the owner is emailed). Answers the token pair, whose access token carries `amr` with `"mfa"` (e.g. `["pwd", "otp", "mfa"]`). The mfa_token lives 5 minutes and allows 5 tries; wrong codes also count in the account\'s sign-in throttle (5 per client per 15 minutes).',
  middleware: [rateLimit("mfa_verify")],
  request: { body: jsonRequestBody(MfaVerifySchema) },
  responses: {
    200: jsonContent(AuthTokensSchema, "Signed in.", authTokensExample),
    401: problemResponse(
      401,
      "A wrong or reused code (`invalid_mfa_code`), or an mfa_token that is unknown, expired, spent or out of tries (`invalid_mfa_token`).",
    ),
    403: problemResponse(403, "The account was disabled meanwhile (`account_disabled`)."),
    429: problemResponse(
      429,
      "Too many wrong codes (`too_many_attempts`) or requests (`rate_limited`); see `Retry-After`.",
    ),
    ...problemResponses(400, 413, 415),
  },
});
