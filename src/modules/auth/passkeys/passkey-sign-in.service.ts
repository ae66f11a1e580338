/**
 * Signing in with a passkey, in two requests:
 *
 * 1. `beginPasskeySignIn` (POST /passkeys/login/options): without an email, options for
 *    a discoverable sign-in (empty `allowCredentials`: the browser offers every passkey
 *    it holds for the RP ID); with one, the account's passkeys in `allowCredentials`,
 *    or stable decoys when the address has none (passkey-decoys.ts), so the answer
 *    never says whether the address has an account. The challenge is stored with the
 *    ids offered.
 * 2. `verifyPasskeyAssertion` (POST /passkeys/login/verify): the challenge is spent
 *    (whatever happens next), the credential must be one that was offered and its user
 *    handle the owner's, @simplewebauthn/server checks origin, RP ID hash, user
 *    verification, the signature and the counter; the counter moves forward in a
 *    conditional UPDATE. Every refusal is the same 401 `invalid_passkey`; the reason
 *    goes to the log only.
 *
 * `signInWithPasskey` then opens the session through openSession (sign-in.ts), the one
 * place sessions open: a disabled account is refused there, the sign-in hooks
 * (new-device alert) run there, and the tokens say `amr: ["hwk" | "swk", "mfa"]`.
 */
import {
  type AuthenticationResponseJSON,
  type AuthenticatorTransportFuture,
  generateAuthenticationOptions,
  type PublicKeyCredentialRequestOptionsJSON,
  verifyAuthenticationResponse,
} from "@simplewebauthn/server";
import { isoBase64URL } from "@simplewebauthn/server/helpers";
import { and, eq, lt } from "drizzle-orm";
import {
  type PasskeyCredential,
  type PasskeyDeviceType,
  passkeyChallenges,
  passkeyCredentials,
  passkeyUserHandles,
  type User,
} from "../../../db/schema";
import type { ServiceContext } from "../../../lib/context";
import { ProblemError } from "../../../lib/problem";
import { findUserByEmail, findUserById, normalizeEmail } from "../accounts";
import { emailNotVerified } from "../auth.service";
import { openSession, type SignInProof } from "../sign-in";
import { CHALLENGE_TTL_MS, issueChallenge, spendChallenge } from "./passkey-challenges";
import { decoyCredentials, type OfferedCredential } from "./passkey-decoys";
import type { AuthenticationResponseInput } from "./passkeys.schemas";
import { passkeysOf } from "./passkeys.service";
import { checkAuthenticatorData, readClientData } from "./webauthn-input";

/** A user-verified passkey is two factors at once (the key, and the PIN or biometric that unlocked it). */
export function passkeyProof(deviceType: PasskeyDeviceType): SignInProof {
  return {
    method: "passkey",
    // RFC 8176: a synced passkey is a software-secured key (swk), a device-bound one hardware-secured (hwk).
    amr: [deviceType === "multiDevice" ? "swk" : "hwk", "mfa"],
    provesEmail: false,
    satisfiesMfa: true,
  };
}

export const invalidPasskey = () =>
  new ProblemError({
    status: 401,
    code: "invalid_passkey",
    detail:
      "The passkey sign-in could not be verified: the challenge is unknown, used or expired, or the passkey is not registered here, or its response does not match. Ask for new options and try again.",
    // Credentials in a body, not an HTTP auth scheme: no WWW-Authenticate challenge applies.
  });

/** Never a user id: the credential query of an unknown address runs all the same (same timing). */
const NO_ACCOUNT = "00000000-0000-0000-0000-000000000000";

export async function beginPasskeySignIn(
  ctx: ServiceContext,
  input: { email?: string },
  now = Date.now(),
): Promise<{ challengeId: string; options: PublicKeyCredentialRequestOptionsJSON }> {
  let offered: OfferedCredential[] | null = null;
  let userId: string | null = null;
  if (input.email !== undefined) {
    const email = normalizeEmail(input.email);
    // Every address costs the same work (an account lookup, a credential query, a decoy derivation).
    const [user, decoys] = await Promise.all([findUserByEmail(ctx, email), decoyCredentials(ctx, email)]);
    const passkeys = await passkeysOf(ctx, user?.id ?? NO_ACCOUNT);
    userId = user?.id ?? null;
    offered =
      passkeys.length > 0
        ? passkeys.map((passkey) => ({ id: passkey.credentialId, transports: passkey.transports }))
        : decoys;
  }
  const options = await generateAuthenticationOptions({
    rpID: ctx.config.WEBAUTHN_RP_ID,
    allowCredentials: (offered ?? []).map((credential) => ({
      id: credential.id,
      transports: credential.transports as AuthenticatorTransportFuture[],
    })),
    userVerification: "required",
    timeout: CHALLENGE_TTL_MS,
  });
  const challenge = await issueChallenge(
    ctx,
    {
      purpose: "login",
      challenge: options.challenge,
      userId,
      allowCredentials: offered ? offered.map((credential) => credential.id) : null,
    },
    now,
  );
  return { challengeId: challenge.id, options };
}

/** The reason goes to the log (for whoever debugs a client); the answer is always the same. */
function refuse(ctx: ServiceContext, reason: string, facts: Record<string, unknown> = {}): ProblemError {
  ctx.logger.info("passkey sign-in refused", { reason, ...facts });
  return invalidPasskey();
}

const sameBytes = (a: string, b: string) => isoBase64URL.trimPadding(a) === isoBase64URL.trimPadding(b);

export type VerifiedPasskey = { user: User; passkey: PasskeyCredential; deviceType: PasskeyDeviceType };

/**
 * Checks a passkey assertion against the challenge `challengeId` names and moves the
 * credential's counter on. Every refusal is `invalid_passkey` (401); a malformed field
 * is a 400 naming it, before the challenge is spent.
 */
export async function verifyPasskeyAssertion(
  ctx: ServiceContext,
  input: { challengeId: string; response: AuthenticationResponseInput },
  now = Date.now(),
): Promise<VerifiedPasskey> {
  const response = input.response as AuthenticationResponseJSON;
  readClientData(response.response.clientDataJSON, "/response/response/clientDataJSON");
  checkAuthenticatorData(response.response.authenticatorData, "/response/response/authenticatorData");

  const challenge = await spendChallenge(ctx, "login", eq(passkeyChallenges.id, input.challengeId), now);
  if (!challenge)
    throw refuse(ctx, "unknown, used or expired challenge", { challenge_id: input.challengeId });

  const credentialId = isoBase64URL.trimPadding(response.id);
  const found = await ctx.db
    .select({ passkey: passkeyCredentials, handle: passkeyUserHandles.handle })
    .from(passkeyCredentials)
    .leftJoin(passkeyUserHandles, eq(passkeyUserHandles.userId, passkeyCredentials.userId))
    .where(eq(passkeyCredentials.credentialId, credentialId))
    .get();
  if (!found) throw refuse(ctx, "unknown credential", { credential_id: credentialId });
  const { passkey, handle } = found;
  const facts = { passkey_id: passkey.id, user_id: passkey.userId };

  // WebAuthn §7.2 steps 5–6: a credential that was not offered, or whose user handle is not its owner's.
  if (challenge.allowCredentials && !challenge.allowCredentials.includes(passkey.credentialId)) {
    throw refuse(ctx, "credential not in allowCredentials", facts);
  }
  const userHandle = response.response.userHandle;
  if (challenge.allowCredentials === null && !userHandle) {
    throw refuse(ctx, "discoverable sign-in without a user handle", facts);
  }
  if (userHandle && !(handle && sameBytes(userHandle, handle))) {
    throw refuse(ctx, "user handle is not the credential owner's", facts);
  }

  let verification: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
  try {
    verification = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge.challenge,
      expectedOrigin: ctx.config.WEBAUTHN_ORIGINS,
      expectedRPID: ctx.config.WEBAUTHN_RP_ID,
      credential: {
        id: passkey.credentialId,
        publicKey: isoBase64URL.toBuffer(passkey.publicKey),
        counter: passkey.counter,
        transports: passkey.transports as AuthenticatorTransportFuture[],
      },
      requireUserVerification: true,
    });
  } catch (error) {
    // Wrong origin, RP ID hash, type or challenge; no user verification; a counter that did not move forward.
    throw refuse(ctx, error instanceof Error ? error.message.slice(0, 300) : "verification failed", facts);
  }
  if (!verification.verified) throw refuse(ctx, "signature does not verify with the credential's key", facts);

  const info = verification.authenticationInfo;
  // The counter must still be what was checked: of two assertions racing with one counter value, one wins.
  const [updated] = await ctx.db
    .update(passkeyCredentials)
    .set({
      counter: info.newCounter,
      backedUp: info.credentialBackedUp,
      deviceType: info.credentialDeviceType,
      lastUsedAt: new Date(now),
    })
    .where(
      and(
        eq(passkeyCredentials.id, passkey.id),
        info.newCounter === 0
          ? eq(passkeyCredentials.counter, 0)
          : lt(passkeyCredentials.counter, info.newCounter),
      ),
    )
    .returning();
  if (!updated) throw refuse(ctx, "counter moved meanwhile", facts);

  const user = await findUserById(ctx, passkey.userId);
  if (!user) throw refuse(ctx, "account erased meanwhile", facts);
  return { user, passkey: updated, deviceType: info.credentialDeviceType };
}

/**
 * POST /passkeys/login/verify: a verified assertion opens a session like every other
 * sign-in. In strict verification mode an unverified account gets no session, as with
 * a password: its passkey may be a squatter's (registered before the mode was on), and
 * the owner proves the address with an emailed code instead, which claims the account.
 */
export async function signInWithPasskey(
  ctx: ServiceContext,
  input: { challengeId: string; response: AuthenticationResponseInput },
  now = Date.now(),
): ReturnType<typeof openSession> {
  const { user, deviceType } = await verifyPasskeyAssertion(ctx, input, now);
  const strict = ctx.config.AUTH_EMAIL_VERIFICATION === "required";
  if (strict && user.isActive && user.emailVerifiedAt === null) throw emailNotVerified();
  return openSession(ctx, user, passkeyProof(deviceType), { now });
}
