/**
 * The passkey ceremonies as a client runs them, through the Worker's own fetch: ask
 * for options, let the software authenticator (./webauthn.ts) answer them, send the
 * answer back. Each helper returns what the test needs to check next.
 */
import type {
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from "@simplewebauthn/server";
import type { PasskeyDto } from "../../src/modules/auth/passkeys/passkeys.schemas";
import { api, type as, jsonOf, type RequestOptions } from "./http";
import { type AssertionTweaks, SoftAuthenticator } from "./webauthn";

export type Client = ReturnType<typeof as>;
export type LoginOptions = { challenge_id: string; options: PublicKeyCredentialRequestOptionsJSON };

export const PASSKEY_PATHS = {
  registerOptions: "/api/v1/auth/passkeys/register/options",
  registerVerify: "/api/v1/auth/passkeys/register/verify",
  loginOptions: "/api/v1/auth/passkeys/login/options",
  loginVerify: "/api/v1/auth/passkeys/login/verify",
  mine: "/api/v1/users/me/passkeys",
} as const;

export async function registrationOptions(client: Client, body?: object) {
  return jsonOf<PublicKeyCredentialCreationOptionsJSON>(
    await client.post(PASSKEY_PATHS.registerOptions, body === undefined ? {} : { body }),
    200,
  );
}

/** A passkey registered on `client`'s account with a new (or the given) authenticator. */
export async function addPasskey(
  client: Client,
  options: { authenticator?: SoftAuthenticator; name?: string; headers?: Record<string, string> } = {},
): Promise<{ passkey: PasskeyDto; authenticator: SoftAuthenticator; location: string | null }> {
  const authenticator = options.authenticator ?? (await SoftAuthenticator.create());
  const creation = await registrationOptions(client);
  const response = await authenticator.register(creation);
  const res = await client.post(PASSKEY_PATHS.registerVerify, {
    body: { response, ...(options.name ? { name: options.name } : {}) },
    headers: options.headers,
  });
  const location = res.headers.get("location");
  return { passkey: await jsonOf<PasskeyDto>(res, 201), authenticator, location };
}

export async function loginOptions(email?: string, options: Omit<RequestOptions, "body"> = {}) {
  return jsonOf<LoginOptions>(
    await api("POST", PASSKEY_PATHS.loginOptions, { ...options, body: email === undefined ? {} : { email } }),
    200,
  );
}

/** options (discoverable, or email-first with `email`) → the authenticator's assertion → verify; the verify answer. */
export async function passkeySignIn(
  authenticator: SoftAuthenticator,
  input: { email?: string; tweaks?: AssertionTweaks; request?: Omit<RequestOptions, "body"> } = {},
): Promise<Response> {
  const { challenge_id, options } = await loginOptions(input.email, input.request);
  const response = await authenticator.assert(options, input.tweaks);
  return api("POST", PASSKEY_PATHS.loginVerify, { ...input.request, body: { challenge_id, response } });
}
