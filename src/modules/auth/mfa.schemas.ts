/** Shapes of the second-factor routes (POST /auth/mfa/*) and of a sign-in that stops at one. */
import { z } from "@hono/zod-openapi";
import { AuthTokensSchema, authTokensExample } from "./auth.schemas";
import { ReauthenticationFields } from "./reauthentication.schemas";

const SecondFactorMethodSchema = z.enum(["totp", "recovery_code", "passkey"]);

export const mfaRequiredExample = {
  mfa_required: true as const,
  mfa_token: "mfa_Zq3kP0x9vJ2bW7nT4cR1yH6mA8sD5fG0eL3uK9iO2pE",
  methods: ["totp", "recovery_code"] as Array<"totp" | "recovery_code" | "passkey">,
  expires_in: 300,
};

export const MfaRequiredSchema = z
  .object({
    mfa_required: z.literal(true),
    mfa_token: z.string().openapi({
      description: "Finishes this sign-in with POST /auth/mfa/verify: 5 minutes, 5 tries, single use.",
    }),
    methods: z.array(SecondFactorMethodSchema).openapi({
      description:
        "What can finish it: `totp` (a code of the authenticator app), `recovery_code`, `passkey` (sign in with the passkey instead).",
    }),
    expires_in: z.number().int().openapi({ description: "Seconds the mfa_token lives." }),
  })
  .openapi("MfaRequired", { example: mfaRequiredExample });

/** A first-factor sign-in's answer: the token pair, or the second factor still owed. */
export const SignInAnswerSchema = z.union([AuthTokensSchema, MfaRequiredSchema]).openapi("SignInAnswer", {
  description:
    "The token pair; for an account with a second factor, `{ mfa_required: true, mfa_token, methods }` instead (no tokens).",
});

/**
 * The 200 of a first-factor sign-in route, with an example of each answer: the route's
 * own token pair (the login's by default) or the MFA step.
 */
export function signInAnswer(
  description: string,
  tokens: { schema: z.ZodType; example: unknown } = { schema: AuthTokensSchema, example: authTokensExample },
) {
  const schema =
    tokens.schema === AuthTokensSchema ? SignInAnswerSchema : z.union([tokens.schema, MfaRequiredSchema]);
  return {
    description,
    content: {
      "application/json": {
        schema,
        examples: {
          signed_in: { summary: "Signed in", value: tokens.example },
          mfa_required: { summary: "A second factor is needed", value: mfaRequiredExample },
        },
      },
    },
  };
}

export const MfaStatusSchema = z
  .object({
    totp: z.object({
      enabled: z.boolean().openapi({ description: "A confirmed authenticator app guards every sign-in." }),
      created_at: z.iso.datetime().nullable().openapi({ description: "When it was confirmed." }),
    }),
    recovery_codes_remaining: z.number().int(),
    passkeys: z
      .number()
      .int()
      .openapi({ description: "Passkeys registered (GET /users/me/passkeys lists them)." }),
  })
  .openapi("MfaStatus", {
    example: {
      totp: { enabled: true, created_at: "2026-11-02T09:30:00.000Z" },
      recovery_codes_remaining: 9,
      passkeys: 1,
    },
  });

export const TotpEnrollmentSchema = z
  .object({
    secret: z.string().openapi({ description: "Base32, for typing into an authenticator app." }),
    otpauth_url: z.string().openapi({
      description: "The `otpauth://totp/…` URI to show as a QR code (the client renders it).",
    }),
  })
  .openapi("TotpEnrollment", {
    example: {
      secret: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
      otpauth_url:
        "otpauth://totp/Edge%20API%20Platform:ada%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Edge%20API%20Platform&algorithm=SHA1&digits=6&period=30",
    },
  });

const totpCode = z
  .string()
  .trim()
  .regex(/^\d{3}\s?\d{3}$/, "six digits")
  .openapi({ description: "The 6-digit code the authenticator app shows now.", example: "492039" });

const recoveryCode = z.string().trim().min(10).max(32).openapi({
  description: "One of the recovery codes (`xxxxx-xxxxx`); case and dashes do not matter.",
  example: "k7m2q-x9p4t",
});

export const TotpConfirmSchema = z.strictObject({ code: totpCode }).openapi("TotpConfirm");

export const RecoveryCodesSchema = z
  .object({
    recovery_codes: z.array(z.string()).openapi({
      description: "Ten single-use codes, shown once: ask the person to store them somewhere safe.",
    }),
  })
  .openapi("RecoveryCodes", {
    example: {
      recovery_codes: [
        "k7m2q-x9p4t",
        "b3h8w-c2n6r",
        "s5d9f-g4j7k",
        "t2v6y-z8a3e",
        "p9q4r-m7w2x",
        "h6j3k-n8s5u",
        "c4f7g-v2b9d",
        "e8t3y-q6w5r",
        "a2s7d-f9g4h",
        "z5x8c-v3b6n",
      ],
    },
  });

export const MfaVerifySchema = z
  .strictObject({
    mfa_token: z.string().min(1).max(200),
    code: totpCode.optional(),
    recovery_code: recoveryCode.optional(),
  })
  .superRefine((body, issue) => {
    if ((body.code === undefined) === (body.recovery_code === undefined)) {
      issue.addIssue({
        code: "custom",
        path: [body.code === undefined ? "code" : "recovery_code"],
        message: "Send exactly one of `code` and `recovery_code`.",
      });
    }
  })
  .openapi("MfaVerify", { example: { mfa_token: mfaRequiredExample.mfa_token, code: "492039" } });

/** Disabling and regenerating take the re-authentication proof (an `mfa_code` counts). */
export const MfaProofSchema = z.strictObject(ReauthenticationFields).openapi("MfaProof", {
  example: { mfa_code: "492039" },
});

export type MfaVerifyInput = z.infer<typeof MfaVerifySchema>;
export type MfaStatusDto = z.infer<typeof MfaStatusSchema>;
