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
import { UserSchema, userExample } from "../users/users.schemas";
import {
  EmailChangeConfirmSchema,
  EmailDisownSchema,
  EmailQueuedSchema,
  EmailVerifiedSchema,
  EmailVerifySchema,
} from "./email-verification.schemas";

const tags = ["Auth"];

export const verifyEmail = defineRoute({
  method: "post",
  path: "/email/verify",
  tags,
  summary: "Confirm an email address",
  description:
    "Takes the `token` of the link emailed at registration (or by `/email/resend`). Tokens are single use and live 24 hours; any token that cannot be used answers 400 `invalid_or_expired`. The account is marked verified and the welcome email is queued. No sign-in is needed: the link may be opened on another device. Verifying continues the registration the link was sent for (its password and sessions stay): an owner who did not register should use the email's other link (POST /email/disown) instead.",
  request: { body: jsonRequestBody(EmailVerifySchema) },
  responses: {
    200: jsonContent(EmailVerifiedSchema, "The address is verified."),
    400: problemResponse(400, "Unknown, expired or used token (`invalid_or_expired`), or a malformed body."),
    ...problemResponses(413, 415),
  },
});

export const resendVerification = defineRoute({
  method: "post",
  path: "/email/resend",
  tags,
  summary: "Send the verification email again",
  description:
    "Queues a new verification link for the caller's address (earlier links keep working until they expire or one is used). One email a minute per account, registration's included: sooner answers 429 `email_resend_too_soon` with `Retry-After`. The `email_resend` rate-limit policy also applies.",
  security: SECURITY.bearer,
  middleware: [requireUser(), rateLimit("email_resend")],
  responses: {
    202: jsonContent(EmailQueuedSchema, "The email is queued."),
    409: problemResponse(409, "The address is already verified (`email_already_verified`)."),
    429: problemResponse(
      429,
      "Less than a minute since the last email (`email_resend_too_soon`), or `rate_limited`.",
    ),
    ...problemResponses(401, 403),
  },
});

export const disownAccount = defineRoute({
  method: "post",
  path: "/email/disown",
  tags,
  summary: '"This was not me": erase an account registered with your address',
  description:
    "Takes the `token` of the second link of a verification email (`{APP_URL}/disown-account?token=…`). While the account has never been verified it is erased: sessions revoked (sockets close), its data removed, the address free for its owner to register. Single use, valid as long as the verification link. For an account that has been verified since, or any token that cannot be used, 400 `invalid_or_expired` and nothing changes. No sign-in is needed.",
  request: { body: jsonRequestBody(EmailDisownSchema) },
  responses: {
    204: { description: "The account is erased and the address is free." },
    400: problemResponse(
      400,
      "Unknown, expired or used token, or the account is verified (`invalid_or_expired`), or a malformed body.",
    ),
    ...problemResponses(413, 415),
  },
});

export const confirmEmailChange = defineRoute({
  method: "post",
  path: "/email/change/confirm",
  tags,
  summary: "Confirm a change of email address",
  description:
    "Takes the `token` of the link POST /users/me/email sent to the new address. The account's address becomes the new one and stays verified. Single use, 24 hours; a link for an address the account no longer has, or of a disabled account, answers 400 `invalid_or_expired`. No sign-in is needed: the link may be opened on another device.",
  request: { body: jsonRequestBody(EmailChangeConfirmSchema) },
  responses: {
    200: jsonContent(UserSchema, "The account, with its new address.", {
      ...userExample,
      email: "ada.lovelace@example.org",
    }),
    400: problemResponse(400, "Unknown, expired or used token (`invalid_or_expired`), or a malformed body."),
    409: problemResponse(409, "Another account has taken the new address meanwhile (`email_taken`)."),
    ...problemResponses(413, 415),
  },
});
