/** The proof fields of a sensitive action's body (see reauthentication.ts). A leaf: schemas only. */
import { z } from "@hono/zod-openapi";
import { problemResponse } from "../../lib/openapi";
import { PASSWORD_MAX_LENGTH } from "./password-policy";

/** The sentence each re-authenticated route's description ends with. */
export const REAUTHENTICATION_NOTE =
  "Needs a recent authentication: a sign-in within REAUTH_WINDOW (default 10 minutes), or `current_password` (or `mfa_code`) in the body; otherwise 403 `reauthentication_required` naming the `accepted_proofs`.";

/** The body of a route whose only input is the proof. */
export const proofBody = () => ({
  required: false,
  description: "Proof, when the sign-in is not recent.",
  content: { "application/json": { schema: ReauthenticationSchema } },
});

/** A re-authenticated route's 429: wrong passwords are throttled like sign-in. */
export const tooManyWrongPasswords = () =>
  problemResponse(429, "Too many wrong passwords (`too_many_attempts`).");

/** The proof fields a request body may carry beside its own fields. */
export const ReauthenticationFields = {
  current_password: z
    .string()
    .min(1)
    .max(PASSWORD_MAX_LENGTH * 4)
    .optional()
    .openapi({
      format: "password",
      description:
        "Your password, when your sign-in is older than the re-authentication window (`reauthentication_required`).",
      example: "correct horse battery staple",
    }),
  mfa_code: z.string().trim().min(1).max(64).optional().openapi({
    description: "A code of your second factor, instead of `current_password`.",
    example: "123456",
  }),
};

export const ReauthenticationSchema = z.strictObject(ReauthenticationFields).openapi("Reauthentication", {
  description:
    "Optional proof for a sensitive action: needed only when the access token's `auth_time` is older than REAUTH_WINDOW (default 10 minutes).",
  example: { current_password: "correct horse battery staple" },
});
