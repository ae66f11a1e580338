/**
 * The API shape of passkeys: the WebAuthn JSON a browser's `credential.toJSON()` (or
 * @simplewebauthn/browser) sends and `PublicKeyCredential.parse…OptionsFromJSON()`
 * reads, and the passkey as its owner sees it.
 *
 * The WebAuthn objects accept members this schema does not name (`.loose()`): browsers
 * add to them over time (new client extension outputs, new response fields), and a
 * passkey must not stop working on the next browser release. Every string is still
 * bounded and base64url-checked, so nothing oversized or malformed reaches the verifier.
 */
import { z } from "@hono/zod-openapi";
import { listQuery } from "../../../lib/list-query";
import { pageSchema } from "../../../lib/pagination";
import { EmailSchema } from "../../users/users.schemas";

const PASSKEY_ID_EXAMPLE = "0190c6d2-4b1a-7e3c-9d2f-6a7b8c9d0e1f";
const CHALLENGE_ID_EXAMPLE = "0190c6d2-51c0-7a44-8b19-2f3e4d5c6b7a";
const CREDENTIAL_ID_EXAMPLE = "EnZyg188bk5KtiqdZdIVhbVsvHA";
const CHALLENGE_EXAMPLE = "rV3dyQm0Xc8bN5kLp2Hs7Tf4Wj9Ga1Ue6Yz0Ri3Oq5A";

/** base64url as WebAuthn's JSON encodes bytes (no padding; padding tolerated). */
const base64url = (maxLength: number, what: string) =>
  z
    .string()
    .min(1)
    .max(maxLength)
    .regex(/^[A-Za-z0-9_-]+={0,2}$/, `${what} must be base64url (A–Z, a–z, 0–9, "-" and "_").`);

/** A credential id is at most 1023 bytes (WebAuthn §5.8.3): 1364 base64url characters. */
const CredentialIdSchema = base64url(1364, "A credential id");

const TransportsSchema = z
  .array(z.string().min(1).max(32))
  .max(10)
  .openapi({
    description: "Transport hints: `internal`, `hybrid`, `usb`, `nfc`, `ble`, `smart-card`.",
    example: ["internal", "hybrid"],
  });

const ClientExtensionResultsSchema = z.record(z.string().max(64), z.unknown()).openapi({
  description: "`getClientExtensionResults()`, e.g. `{ credProps: { rk: true } }`.",
  example: {},
});

const credentialFields = {
  id: CredentialIdSchema,
  rawId: CredentialIdSchema,
  type: z.literal("public-key"),
  authenticatorAttachment: z.string().max(32).optional().openapi({ example: "platform" }),
  clientExtensionResults: ClientExtensionResultsSchema,
};

/** `navigator.credentials.create()`'s credential, `.toJSON()`ed (WebAuthn L3 RegistrationResponseJSON). */
export const RegistrationResponseSchema = z
  .object({
    ...credentialFields,
    response: z
      .object({
        clientDataJSON: base64url(8192, "clientDataJSON"),
        // Attestation "none" is a few hundred bytes; a certificate chain (packed, TPM) a few KiB.
        attestationObject: base64url(65_536, "attestationObject"),
        authenticatorData: base64url(16_384, "authenticatorData").optional(),
        transports: TransportsSchema.optional(),
        publicKeyAlgorithm: z.number().int().optional(),
        publicKey: base64url(8192, "publicKey").optional(),
      })
      .loose(),
  })
  .loose()
  .openapi("RegistrationResponseJSON", {
    description:
      "What `navigator.credentials.create()` resolved to, as `credential.toJSON()` (or @simplewebauthn/browser's `startRegistration()`) encodes it.",
    example: registrationResponseExample(),
  });

/** A genuine response (a synced P-256 passkey, attestation `none`) to the creation options example below. */
function registrationResponseExample() {
  return {
    id: CREDENTIAL_ID_EXAMPLE,
    rawId: CREDENTIAL_ID_EXAMPLE,
    type: "public-key",
    authenticatorAttachment: "platform",
    response: {
      clientDataJSON:
        "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiclYzZHlRbTBYYzhiTjVrTHAySHM3VGY0V2o5R2ExVWU2WXowUmkzT3E1QSIsIm9yaWdpbiI6Imh0dHBzOi8vYXBwLmV4YW1wbGUuY29tIiwiY3Jvc3NPcmlnaW4iOmZhbHNlfQ",
      attestationObject:
        "o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YViYo3mm9u6vuaVeN4wRgDTidR5oL6ufLTCrE9ISVYbOGUddAAAAAAAAAAAAAAAAAAAAAAAAAAAAFBJ2coNfPG5OSrYqnWXSFYW1bLxwpQECAyYgASFYII2apzXYKTlkZKxyCL4vj3jat_9QtDkktv7gZ0PGlvRWIlggrnJmmBl72_92tYoNokFTPyOxtsdZ7HMGco1wa5ity1Y",
      authenticatorData:
        "o3mm9u6vuaVeN4wRgDTidR5oL6ufLTCrE9ISVYbOGUddAAAAAAAAAAAAAAAAAAAAAAAAAAAAFBJ2coNfPG5OSrYqnWXSFYW1bLxwpQECAyYgASFYII2apzXYKTlkZKxyCL4vj3jat_9QtDkktv7gZ0PGlvRWIlggrnJmmBl72_92tYoNokFTPyOxtsdZ7HMGco1wa5ity1Y",
      transports: ["internal", "hybrid"],
      publicKeyAlgorithm: -7,
      publicKey:
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEjZqnNdgpOWRkrHIIvi-PeNq3_1C0OSS2_uBnQ8aW9FaucmaYGXvb_3a1ig2iQVM_I7G2x1nscwZyjXBrmK3LVg",
    },
    clientExtensionResults: { credProps: { rk: true } },
  };
}

/** `navigator.credentials.get()`'s credential, `.toJSON()`ed (WebAuthn L3 AuthenticationResponseJSON). */
export const AuthenticationResponseSchema = z
  .object({
    ...credentialFields,
    response: z
      .object({
        clientDataJSON: base64url(8192, "clientDataJSON"),
        authenticatorData: base64url(16_384, "authenticatorData"),
        // DER ECDSA is ~72 bytes, RSA up to 512, ML-DSA a few KiB.
        signature: base64url(8192, "signature"),
        // A user handle is at most 64 bytes.
        userHandle: base64url(88, "userHandle").nullish(),
      })
      .loose(),
  })
  .loose()
  .openapi("AuthenticationResponseJSON", {
    description:
      "What `navigator.credentials.get()` resolved to, as `credential.toJSON()` (or @simplewebauthn/browser's `startAuthentication()`) encodes it.",
    example: authenticationResponseExample(),
  });

/** A genuine assertion of that passkey for the request options example below. */
function authenticationResponseExample() {
  return {
    id: CREDENTIAL_ID_EXAMPLE,
    rawId: CREDENTIAL_ID_EXAMPLE,
    type: "public-key",
    authenticatorAttachment: "platform",
    response: {
      clientDataJSON:
        "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiclYzZHlRbTBYYzhiTjVrTHAySHM3VGY0V2o5R2ExVWU2WXowUmkzT3E1QSIsIm9yaWdpbiI6Imh0dHBzOi8vYXBwLmV4YW1wbGUuY29tIiwiY3Jvc3NPcmlnaW4iOmZhbHNlfQ",
      authenticatorData: "o3mm9u6vuaVeN4wRgDTidR5oL6ufLTCrE9ISVYbOGUcdAAAAAA",
      signature:
        "MEYCIQC7sKplx4jPAmqiecJJwAIXlx_kEQPnnFr4ZW0ouM3AmAIhAL-KIx7Pxl6l0PNxzzd60KkbnRY0rph0OGWqiVW2fvp7",
      userHandle: "bXlVc2VySGFuZGxlMzJCeXRlc0xvbmdSYW5kb21WYWx1ZQ",
    },
    clientExtensionResults: {},
  };
}

const CredentialDescriptorSchema = z.object({
  id: z.string(),
  type: z.literal("public-key"),
  transports: z.array(z.string()).optional(),
});

export const creationOptionsExample = {
  rp: { id: "example.com", name: "Edge API Platform" },
  user: {
    id: "bXlVc2VySGFuZGxlMzJCeXRlc0xvbmdSYW5kb21WYWx1ZQ",
    name: "ada@example.com",
    displayName: "Ada Lovelace",
  },
  challenge: CHALLENGE_EXAMPLE,
  pubKeyCredParams: [
    { alg: -8, type: "public-key" },
    { alg: -7, type: "public-key" },
    { alg: -257, type: "public-key" },
  ],
  timeout: 300000,
  attestation: "none",
  excludeCredentials: [{ id: CREDENTIAL_ID_EXAMPLE, type: "public-key", transports: ["internal", "hybrid"] }],
  authenticatorSelection: {
    residentKey: "preferred",
    requireResidentKey: false,
    userVerification: "required",
  },
  extensions: { credProps: true },
  hints: [],
};

/** What the register/options route answers: hand it to `PublicKeyCredential.parseCreationOptionsFromJSON()`. */
export const CreationOptionsSchema = z
  .object({
    rp: z.object({ id: z.string().optional(), name: z.string() }),
    user: z.object({
      id: z.string().openapi({ description: "The account's opaque WebAuthn user handle (not the email)." }),
      name: z.string(),
      displayName: z.string(),
    }),
    challenge: z.string(),
    pubKeyCredParams: z.array(z.object({ alg: z.number().int(), type: z.literal("public-key") })),
    timeout: z.number().int().optional(),
    excludeCredentials: z.array(CredentialDescriptorSchema).optional(),
    authenticatorSelection: z
      .object({
        authenticatorAttachment: z.string().optional(),
        residentKey: z.string().optional(),
        requireResidentKey: z.boolean().optional(),
        userVerification: z.string().optional(),
      })
      .optional(),
    hints: z.array(z.string()).optional(),
    attestation: z.string().optional(),
    extensions: z.record(z.string(), z.unknown()).optional(),
  })
  .openapi("PublicKeyCredentialCreationOptionsJSON", {
    description:
      "Options for `navigator.credentials.create()`, JSON-encoded (WebAuthn L3): pass them to `PublicKeyCredential.parseCreationOptionsFromJSON()`.",
    example: creationOptionsExample,
  });

/** The options inside login/options' answer: hand them to `PublicKeyCredential.parseRequestOptionsFromJSON()`. */
export const RequestOptionsSchema = z
  .object({
    challenge: z.string(),
    timeout: z.number().int().optional(),
    rpId: z.string().optional(),
    allowCredentials: z.array(CredentialDescriptorSchema).optional(),
    userVerification: z.string().optional(),
    extensions: z.record(z.string(), z.unknown()).optional(),
  })
  .openapi("PublicKeyCredentialRequestOptionsJSON", {
    description:
      "Options for `navigator.credentials.get()`, JSON-encoded (WebAuthn L3): pass them to `PublicKeyCredential.parseRequestOptionsFromJSON()`.",
    example: {
      rpId: "example.com",
      challenge: CHALLENGE_EXAMPLE,
      allowCredentials: [],
      timeout: 300000,
      userVerification: "required",
    },
  });

/** The name a person gives a passkey: one line, shown in their list and in security emails. */
export const PasskeyNameSchema = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[^\p{Cc}]*$/u, "Must not contain control characters.")
  .openapi({ description: "1–64 characters, one line.", example: "MacBook Touch ID" });

export const RegistrationVerifyRequestSchema = z
  .strictObject({
    response: RegistrationResponseSchema,
    name: PasskeyNameSchema.optional().openapi({
      description: 'Defaults to "Passkey on <browser> on <system>" from the User-Agent.',
    }),
  })
  .openapi("PasskeyRegistrationRequest", {
    example: { response: registrationResponseExample(), name: "MacBook Touch ID" },
  });

export const LoginOptionsRequestSchema = z
  .strictObject({
    email: EmailSchema.optional().openapi({
      description:
        "Email-first sign-in: the options list that account's passkeys (`allowCredentials`). Without it the browser offers every passkey it holds for this site (discoverable credentials).",
    }),
  })
  .openapi("PasskeyLoginOptionsRequest", { example: { email: "ada@example.com" } });

export const loginOptionsExample = {
  challenge_id: CHALLENGE_ID_EXAMPLE,
  options: {
    rpId: "example.com",
    challenge: CHALLENGE_EXAMPLE,
    allowCredentials: [{ id: CREDENTIAL_ID_EXAMPLE, type: "public-key", transports: ["internal", "hybrid"] }],
    timeout: 300000,
    userVerification: "required",
  },
};

export const LoginOptionsSchema = z
  .object({
    challenge_id: z.uuid().openapi({ description: "Send it back with the response to /login/verify." }),
    options: RequestOptionsSchema,
  })
  .openapi("PasskeyLoginOptions", { example: loginOptionsExample });

export const LoginVerifyRequestSchema = z
  .strictObject({
    challenge_id: z.uuid().openapi({ example: CHALLENGE_ID_EXAMPLE }),
    response: AuthenticationResponseSchema,
  })
  .openapi("PasskeyLoginRequest", {
    example: { challenge_id: CHALLENGE_ID_EXAMPLE, response: authenticationResponseExample() },
  });

export const passkeyExample = {
  id: PASSKEY_ID_EXAMPLE,
  name: "MacBook Touch ID",
  created_at: "2026-11-20T08:00:00.000Z",
  last_used_at: "2026-11-21T08:15:42.000Z",
  transports: ["internal", "hybrid"],
  backed_up: true,
};

export const PasskeySchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    created_at: z.iso.datetime(),
    last_used_at: z.iso
      .datetime()
      .nullable()
      .openapi({ description: "The last sign-in with it; null until then." }),
    transports: z.array(z.string()),
    backed_up: z.boolean().openapi({
      description:
        "True for a synced passkey (iCloud Keychain, Google Password Manager, a password manager): its sign-ins carry `amr` `swk`; a device-bound one carries `hwk`.",
    }),
  })
  .openapi("Passkey", { example: passkeyExample });

export type PasskeyDto = z.infer<typeof PasskeySchema>;

export const PasskeyPageSchema = pageSchema(PasskeySchema, "PasskeyPage");

export const PASSKEY_SORT_FIELDS = ["created_at", "name"] as const;

export const ListPasskeysQuery = listQuery({ sort: PASSKEY_SORT_FIELDS, defaultSort: "created_at" });

export const PasskeyIdParams = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, example: PASSKEY_ID_EXAMPLE }),
});

export const RenamePasskeySchema = z
  .strictObject({ name: PasskeyNameSchema })
  .openapi("PasskeyRename", { example: { name: "Work laptop" } });

export type RegistrationResponseInput = z.infer<typeof RegistrationResponseSchema>;
export type AuthenticationResponseInput = z.infer<typeof AuthenticationResponseSchema>;
