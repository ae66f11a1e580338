import { z } from "@hono/zod-openapi";
import { EmailSchema, NameSchema, UsernameSchema, UserSchema, userExample } from "../users/users.schemas";
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, passwordLengthProblem } from "./password-policy";

/** Upper bound for any password-like field before it is looked at: stops megabytes early, with a field name. */
export const PASSWORD_FIELD_MAX_UNITS = PASSWORD_MAX_LENGTH * 4;

/** A new password: 8–128 characters (code points); the account-aware rules run in the service. */
export const NewPasswordSchema = z
  .string()
  .max(PASSWORD_FIELD_MAX_UNITS, { abort: true, error: `Use at most ${PASSWORD_MAX_LENGTH} characters.` })
  .superRefine((value, ctx) => {
    const problem = passwordLengthProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  })
  .openapi({
    minLength: PASSWORD_MIN_LENGTH,
    maxLength: PASSWORD_MAX_LENGTH,
    format: "password",
    description:
      "8–128 characters, anything allowed (spaces, emoji). Refused when it is a common password or your email/username.",
    example: "correct horse battery staple",
  });

/** A password being checked, not set: only bounded. */
const CurrentPasswordSchema = z
  .string()
  .min(1)
  .max(PASSWORD_FIELD_MAX_UNITS)
  .openapi({ format: "password", example: "correct horse battery staple" });

export const confirmationMatches = (
  value: { password: string; password_confirm: string },
  ctx: z.RefinementCtx,
) => {
  if (value.password !== value.password_confirm) {
    ctx.addIssue({ code: "custom", path: ["password_confirm"], message: "Does not match the password." });
  }
};

export const RegisterSchema = z
  .strictObject({
    email: EmailSchema,
    password: NewPasswordSchema,
    password_confirm: z.string().max(PASSWORD_FIELD_MAX_UNITS).openapi({ format: "password" }),
    username: UsernameSchema.optional(),
    first_name: NameSchema.optional(),
    last_name: NameSchema.optional(),
  })
  .superRefine(confirmationMatches)
  .openapi("RegisterRequest", {
    example: {
      email: "ada@example.com",
      password: "correct horse battery staple",
      password_confirm: "correct horse battery staple",
      username: "ada_l",
      first_name: "Ada",
      last_name: "Lovelace",
    },
  });

export type RegisterInput = z.infer<typeof RegisterSchema>;

export const RegistrationPendingSchema = z
  .object({ status: z.literal("verification_sent") })
  .openapi("RegistrationPending", {
    description:
      "AUTH_EMAIL_VERIFICATION=required: the same answer whether or not the address has an account. Sign in once the address is verified.",
    example: { status: "verification_sent" },
  });

export const LoginSchema = z
  .strictObject({
    email: z
      .string()
      .trim()
      .toLowerCase()
      .min(1)
      .max(254)
      .optional()
      .openapi({ example: "ada@example.com", description: "Either email or username." }),
    username: z.string().trim().min(1).max(64).optional().openapi({ example: "ada_l" }),
    password: CurrentPasswordSchema,
  })
  .superRefine((value, ctx) => {
    if ((value.email === undefined) === (value.username === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: [value.email === undefined ? "email" : "username"],
        message: "Send either email or username (exactly one).",
      });
    }
  })
  .openapi("LoginRequest", {
    example: { email: "ada@example.com", password: "correct horse battery staple" },
  });

export type LoginInput = z.infer<typeof LoginSchema>;

const RefreshTokenField = z
  .string()
  .min(1)
  .max(512)
  .openapi({ example: "rt_3q2-7wEYk0m9dX4c1Jt8bH5nQ0sVfLr2uZyWpA6eKiM" });

export const RefreshSchema = z
  .strictObject({ refresh_token: RefreshTokenField.optional() })
  .openapi("RefreshRequest", {
    description: "The refresh token, here or in the X-Refresh-Token header.",
    example: { refresh_token: "rt_3q2-7wEYk0m9dX4c1Jt8bH5nQ0sVfLr2uZyWpA6eKiM" },
  });

export const LogoutSchema = z
  .strictObject({ refresh_token: RefreshTokenField.optional() })
  .openapi("LogoutRequest", {
    description:
      "Optional: a refresh token whose session is revoked too (logout works with it alone when the access token has expired).",
    example: {},
  });

export const RefreshTokenHeaders = z.object({
  "x-refresh-token": RefreshTokenField.optional().openapi({
    description: "Alternative to the `refresh_token` body field.",
  }),
});

export const TOKEN_TYPE = "Bearer" as const;

const ACCESS_TOKEN_EXAMPLE =
  "eyJhbGciOiJFUzI1NiIsImtpZCI6ImtleS0yMDI2LTExIiwidHlwIjoiYXQrand0In0.eyJzaWQiOiIwMTkwYzZjNS0xYTJiLTdjM2QtOGU0Zi01YTZiN2M4ZDllMGYiLCJpc19zdGFmZiI6ZmFsc2V9.c2lnbmF0dXJl";

export const authTokensExample = {
  user: userExample,
  access_token: ACCESS_TOKEN_EXAMPLE,
  refresh_token: "rt_3q2-7wEYk0m9dX4c1Jt8bH5nQ0sVfLr2uZyWpA6eKiM",
  token_type: TOKEN_TYPE,
  expires_in: 900,
};

export const AuthTokensSchema = z
  .object({
    user: UserSchema,
    access_token: z.string().openapi({ description: "ES256 JWT; send as `Authorization: Bearer <token>`." }),
    refresh_token: z
      .string()
      .openapi({ description: "Opaque, single use: each refresh returns a new one and spends this one." }),
    token_type: z.literal(TOKEN_TYPE),
    expires_in: z.number().int().openapi({
      description:
        "Seconds the access token lives: ACCESS_TOKEN_TTL, or less when the session's SESSION_MAX_AGE ends sooner.",
    }),
  })
  .openapi("AuthTokens", { example: authTokensExample });

export const TokenVerifySchema = z
  .strictObject({ token: z.string().min(1).max(8192).openapi({ example: ACCESS_TOKEN_EXAMPLE }) })
  .openapi("TokenVerifyRequest");

export const AccessTokenClaimsSchema = z
  .object({
    iss: z.string(),
    aud: z.string(),
    sub: z.string().openapi({ description: "User id." }),
    sid: z.string().openapi({ description: "Session id." }),
    jti: z.string(),
    iat: z.number().int(),
    nbf: z.number().int(),
    exp: z.number().int(),
    is_staff: z.boolean(),
    auth_time: z.number().int().openapi({
      description:
        "When the session's sign-in happened (seconds): refresh keeps it. Sensitive actions need it within REAUTH_WINDOW.",
    }),
    amr: z.array(z.string()).openapi({
      description: "How the person signed in (RFC 8176): `pwd` password, `email` magic code or link.",
      example: ["pwd"],
    }),
  })
  .openapi("AccessTokenClaims");

export const TokenVerifyResultSchema = z
  .object({ valid: z.literal(true), claims: AccessTokenClaimsSchema })
  .openapi("TokenVerifyResult", {
    example: {
      valid: true,
      claims: {
        iss: "https://api.example.com",
        aud: "edge-api-platform",
        sub: userExample.id,
        sid: "0190c6c5-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
        jti: "0190c6c6-0000-7000-8000-000000000001",
        iat: 1795251600,
        nbf: 1795251600,
        exp: 1795252500,
        is_staff: false,
        auth_time: 1795251600,
        amr: ["pwd"],
      },
    },
  });

export const PasswordChangeSchema = z
  .strictObject({
    current_password: CurrentPasswordSchema,
    password: NewPasswordSchema,
    password_confirm: z.string().max(PASSWORD_FIELD_MAX_UNITS).openapi({ format: "password" }),
  })
  .superRefine(confirmationMatches)
  .openapi("PasswordChangeRequest", {
    example: {
      current_password: "correct horse battery staple",
      password: "a different long passphrase",
      password_confirm: "a different long passphrase",
    },
  });

export type PasswordChangeInput = z.infer<typeof PasswordChangeSchema>;

export const JwksSchema = z
  .object({
    keys: z.array(
      z.object({
        kty: z.literal("EC"),
        crv: z.literal("P-256"),
        kid: z.string(),
        x: z.string(),
        y: z.string(),
        alg: z.literal("ES256"),
        use: z.literal("sig"),
      }),
    ),
  })
  .openapi("JWKS", {
    example: {
      keys: [
        {
          kty: "EC",
          crv: "P-256",
          kid: "key-2026-11",
          x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
          y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
          alg: "ES256",
          use: "sig",
        },
      ],
    },
  });
