/**
 * FCM_SERVICE_ACCOUNT: the Firebase service-account key file (Project settings →
 * Service accounts → Generate new private key), pasted whole as the secret's value.
 * Only the fields FCM HTTP v1 needs are kept: the project, the account's address and
 * its RSA key (PKCS#8 PEM), with the key's id for the assertion header. The messages
 * name fields, never values: the value is a private key.
 */
import { z } from "zod";
import { jsonSetting } from "../../lib/json-setting";

export const fcmServiceAccountSchema = jsonSetting(
  z.object({
    type: z.literal("service_account", { error: 'must be "service_account"' }),
    project_id: z
      .string()
      .regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, "must be a Google Cloud project id such as my-app-1234"),
    client_email: z.email({ error: "must be the service account's email address" }),
    // The PEM markers below are a format check of what the operator pastes in; no key material lives here.
    private_key: z
      .string()
      .refine(
        (key) => key.includes("-----BEGIN PRIVATE KEY-----") && key.includes("-----END PRIVATE KEY-----"),
        "must be the PKCS#8 PEM private key of the key file",
      ),
    private_key_id: z.string().optional(),
  }),
  'must be the service-account key file\'s JSON: {"type":"service_account","project_id":"…","client_email":"…","private_key":"-----BEGIN PRIVATE KEY-----\\n…"}',
);

export type FcmServiceAccount = z.infer<typeof fcmServiceAccountSchema>;
