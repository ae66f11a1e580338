import {
  defineRoute,
  jsonContent,
  jsonRequestBody,
  problemResponse,
  problemResponses,
} from "../../lib/openapi";
import { rateLimit } from "../../middleware/rate-limit";
import { MagicRequestAcceptedSchema, MagicRequestSchema, MagicVerifySchema } from "./magic-code.schemas";
import { signInAnswer } from "./mfa.schemas";
import { emailInBody } from "./password-reset.routes";

const tags = ["Auth"];

export const requestMagicCode = defineRoute({
  method: "post",
  path: "/magic/request",
  tags,
  summary: "Email a sign-in code and link (passwordless)",
  description:
    "Emails an 8-digit code and a one-click link to the address, whether or not it has an account (the first use signs up). Both are stored hashed, live 15 minutes and work once; a new request replaces the previous code. Limited to 5 a minute per IP and per address (`magic_request` policy). With `MAGIC_LINK_DEBUG_ECHO_TOKEN=true` outside production the code is echoed as `debug_token`.",
  request: { body: jsonRequestBody(MagicRequestSchema) },
  middleware: [rateLimit("magic_request", { key: emailInBody })],
  responses: {
    202: jsonContent(MagicRequestAcceptedSchema, "The email is queued."),
    429: problemResponse(429, "Too many requests for this address or from this IP (`rate_limited`)."),
    500: problemResponse(500, "`MAGIC_LINK_VERIFY_URL` is not configured (`configuration_error`)."),
    ...problemResponses(400, 413, 415),
  },
});

export const verifyMagicCode = defineRoute({
  method: "post",
  path: "/magic/verify",
  tags,
  summary: "Sign in (or sign up) with a code or link",
  description:
    "`{ email, code }` with the emailed code, or `{ token }` from the emailed link. Signs in to the address's account, or creates it (verified, no password) on first use, and answers a token pair. A wrong code counts against it: after 5 checks the code is dead and a new one must be requested. Anything that cannot be used answers 400 `invalid_or_expired`.",
  request: { body: jsonRequestBody(MagicVerifySchema) },
  responses: {
    200: signInAnswer("Signed in (or signed up), or the MFA step for an account with an authenticator app."),
    400: problemResponse(
      400,
      "Wrong, expired, used or dead code or link (`invalid_or_expired`), or a malformed body.",
    ),
    403: problemResponse(403, "The account is disabled (`account_disabled`)."),
    ...problemResponses(413, 415),
  },
});
