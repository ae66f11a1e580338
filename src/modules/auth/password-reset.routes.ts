import type { Context } from "hono";
import type { AppEnv } from "../../app-env";
import {
  defineRoute,
  jsonContent,
  jsonRequestBody,
  problemResponse,
  problemResponses,
} from "../../lib/openapi";
import { rateLimit } from "../../middleware/rate-limit";
import {
  PasswordForgotAcceptedSchema,
  PasswordForgotSchema,
  PasswordResetSchema,
} from "./password-reset.schemas";

const tags = ["Auth"];

/** The `email` of a JSON body, normalised like the schema does, for per-address rate limits. */
export async function emailInBody(c: Context<AppEnv>): Promise<string | undefined> {
  const body = (await c.req.json()) as { email?: unknown };
  return typeof body.email === "string" ? body.email.trim().toLowerCase() : undefined;
}

export const forgotPassword = defineRoute({
  method: "post",
  path: "/password/forgot",
  tags,
  summary: "Ask for a password reset link",
  description:
    "Always 202 with the same body, whether or not an account has this address, and in the same time: the account lookup, the token and the email happen after the response. When the account exists (and is active) a single-use link valid 1 hour is emailed. Limited per IP and per address (`password_forgot` policy).",
  request: { body: jsonRequestBody(PasswordForgotSchema) },
  middleware: [rateLimit("password_forgot", { key: emailInBody })],
  responses: {
    202: jsonContent(PasswordForgotAcceptedSchema, "Accepted; an email follows if the account exists."),
    429: problemResponse(429, "Too many requests for this address or from this IP (`rate_limited`)."),
    ...problemResponses(400, 413, 415),
  },
});

export const resetPassword = defineRoute({
  method: "post",
  path: "/password/reset",
  tags,
  summary: "Set a new password with a reset link",
  description:
    "Takes the `token` of the emailed link and the new password (same policy as sign-up). The token works once and for 1 hour; any token that cannot be used answers 400 `invalid_or_expired`, and a password the policy refuses leaves the token usable. Every session of the account is signed out, its other reset links die, and its sign-in lockout is lifted; the address counts as verified.",
  request: { body: jsonRequestBody(PasswordResetSchema) },
  responses: {
    204: { description: "The password is changed; every session is revoked." },
    400: problemResponse(
      400,
      "Unknown, expired or used token (`invalid_or_expired`), or a refused password / mismatched confirmation (`validation_failed`).",
    ),
    ...problemResponses(413, 415),
  },
});
