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
import { EmailQueuedSchema, EmailVerifiedSchema, EmailVerifySchema } from "./email-verification.schemas";

const tags = ["Auth"];

export const verifyEmail = defineRoute({
  method: "post",
  path: "/email/verify",
  tags,
  summary: "Confirm an email address",
  description:
    "Takes the `token` of the link emailed at registration (or by `/email/resend`). Tokens are single use and live 24 hours; any token that cannot be used answers 400 `invalid_or_expired`. The account is marked verified and the welcome email is queued. No sign-in is needed: the link may be opened on another device.",
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
