/** The proof fields of a sensitive action's body (see reauthentication.ts). A leaf: schemas only. */
import { z } from "@hono/zod-openapi";
import { PASSWORD_MAX_LENGTH } from "./password-policy";

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
