import { z } from "@hono/zod-openapi";
import { EmailSchema } from "../users/users.schemas";
import { confirmationMatches, NewPasswordSchema, PASSWORD_FIELD_MAX_UNITS } from "./auth.schemas";
import { LinkTokenSchema } from "./email-verification.schemas";

export const PasswordForgotSchema = z
  .strictObject({ email: EmailSchema })
  .openapi("PasswordForgotRequest", { example: { email: "ada@example.com" } });

export const PasswordForgotAcceptedSchema = z
  .object({ message: z.string() })
  .openapi("PasswordForgotAccepted", {
    example: {
      message: "If an account exists for this address, a reset link is on its way. It works for 1 hour.",
    },
  });

export const PasswordResetSchema = z
  .strictObject({
    token: LinkTokenSchema("pr_Q3w8Er5Ty1Ui7Op4As2Df9Gh6Jk0Lz3Xc8Vb5Nm1Qw"),
    password: NewPasswordSchema,
    password_confirm: z.string().max(PASSWORD_FIELD_MAX_UNITS).openapi({ format: "password" }),
  })
  .superRefine(confirmationMatches)
  .openapi("PasswordResetRequest", {
    example: {
      token: "pr_Q3w8Er5Ty1Ui7Op4As2Df9Gh6Jk0Lz3Xc8Vb5Nm1Qw",
      password: "a brand new passphrase",
      password_confirm: "a brand new passphrase",
    },
  });

export type PasswordResetInput = z.infer<typeof PasswordResetSchema>;
