import { z } from "@hono/zod-openapi";
import { USER_ID_EXAMPLE } from "../users/users.schemas";

/** A token from an emailed link: bounded before it is hashed, and never logged. */
export const LinkTokenSchema = (example: string) =>
  z
    .string()
    .trim()
    .min(1)
    .max(512)
    .openapi({ description: "The `token` parameter of the emailed link.", example });

export const EmailVerifySchema = z
  .strictObject({ token: LinkTokenSchema("ev_Jm4kQ2x9Vb7TzL0sYc3Wd8Rf1Ah6Ue5Np2Gq9Ko4Ii") })
  .openapi("EmailVerifyRequest");

export const EmailDisownSchema = z
  .strictObject({ token: LinkTokenSchema("do_8Xc2Lk5Qm1Zt7Wv3Rb9Ny4Hp6Ja0Se2Gd5Uf8Io1Ky") })
  .openapi("EmailDisownRequest");

export const EmailChangeConfirmSchema = z
  .strictObject({ token: LinkTokenSchema("ec_3Fh7Kq1Wz9Lm4Xv8Rt2Nb6Yc0Pd5Gs1Ja7Ue3Io9Mk") })
  .openapi("EmailChangeConfirmRequest");

export const EmailVerifiedSchema = z
  .object({
    user_id: z.uuid(),
    email: z.email(),
    email_verified: z.literal(true),
    email_verified_at: z.iso.datetime(),
  })
  .openapi("EmailVerified", {
    example: {
      user_id: USER_ID_EXAMPLE,
      email: "ada@example.com",
      email_verified: true,
      email_verified_at: "2026-11-21T08:20:00.000Z",
    },
  });

/** The answer of the routes that queue an email (202). */
export const EmailQueuedSchema = z
  .object({
    message: z.string(),
    expires_in: z.number().int().openapi({ description: "Seconds the emailed link or code stays valid." }),
  })
  .openapi("EmailQueued", {
    example: { message: "A new verification email is on its way.", expires_in: 86400 },
  });
