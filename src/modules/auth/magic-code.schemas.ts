import { z } from "@hono/zod-openapi";
import { EmailSchema } from "../users/users.schemas";
import { LinkTokenSchema } from "./email-verification.schemas";

export const MagicRequestSchema = z
  .strictObject({ email: EmailSchema })
  .openapi("MagicCodeRequest", { example: { email: "ada@example.com" } });

export const MagicRequestAcceptedSchema = z
  .object({
    message: z.string(),
    expires_in: z.number().int().openapi({ description: "Seconds the code and the link stay valid." }),
    debug_token: z.string().optional().openapi({
      description:
        "The emailed code, only when MAGIC_LINK_DEBUG_ECHO_TOKEN=true outside production (local testing).",
      example: "48213907",
    }),
  })
  .openapi("MagicCodeAccepted", {
    example: { message: "A sign-in code and link are on their way to ada@example.com.", expires_in: 900 },
  });

export const MagicVerifySchema = z
  .strictObject({
    email: EmailSchema.optional().openapi({ description: "With `code`." }),
    code: z
      .string()
      .trim()
      .regex(/^\d{8}$/, "The code is 8 digits.")
      .optional()
      .openapi({ description: "The 8-digit code from the email, with `email`.", example: "48213907" }),
    token: LinkTokenSchema("ml_Zx7Cv2Bn9Mq4Wl1Ek6Rj3Th8Yg5Uf0Id2Os7Pa4Sd").optional().openapi({
      description: "The `token` parameter of the emailed link, alone.",
    }),
  })
  .superRefine((value, ctx) => {
    const byCode = value.email !== undefined || value.code !== undefined;
    if (value.token !== undefined) {
      if (byCode) {
        ctx.addIssue({
          code: "custom",
          path: ["token"],
          message: "Send either `token`, or `email` and `code`; not both.",
        });
      }
      return;
    }
    if (value.email === undefined)
      ctx.addIssue({ code: "custom", path: ["email"], message: "Required with `code` (or send `token`)." });
    if (value.code === undefined)
      ctx.addIssue({ code: "custom", path: ["code"], message: "Required with `email` (or send `token`)." });
  })
  .openapi("MagicCodeVerifyRequest", {
    description: "`{ email, code }` from the email's code, or `{ token }` from its link.",
    example: { email: "ada@example.com", code: "48213907" },
  });

export type MagicVerifyInput = z.infer<typeof MagicVerifySchema>;
