/**
 * Adding a passkey to the signed-in person's account, in two requests:
 *
 * 1. `beginPasskeyRegistration` (POST /passkeys/register/options): re-authentication
 *    (a passkey is a new way in that survives a password change, so a stolen access
 *    token must not add one), then the creation options: resident key preferred (so the
 *    passkey can sign in without an email), user verification required, attestation
 *    `none`, the account's passkeys excluded, and the account's opaque user handle.
 *    The challenge is stored for five minutes.
 * 2. `finishPasskeyRegistration` (POST /passkeys/register/verify): the challenge the
 *    response signed is spent (it must be this account's), @simplewebauthn/server checks
 *    the response against it, the RP ID and the origins, and the credential is stored
 *    with its audit row; the owner is emailed.
 */
import {
  type AuthenticatorTransportFuture,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type RegistrationResponseJSON,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import { isoBase64URL } from "@simplewebauthn/server/helpers";
import { and, eq, type SQL } from "drizzle-orm";
import { constraintFailure } from "../../../db/constraint-errors";
import { type PasskeyCredential, passkeyChallenges, passkeyCredentials } from "../../../db/schema";
import type { ServiceContext } from "../../../lib/context";
import { uuidv7 } from "../../../lib/ids";
import { currentUser } from "../../../lib/principal";
import { ProblemError } from "../../../lib/problem";
import { describeDevice, UNKNOWN_DEVICE } from "../../../lib/user-agent";
import { auditStatement } from "../../audit/audit.service";
import { findUserById } from "../accounts";
import { assertRecentAuthentication, type ReauthenticationProof } from "../reauthentication";
import { emailPasskeyChange } from "./passkey-alerts";
import { CHALLENGE_TTL_MS, issueChallenge, spendChallenge, userHandleFor } from "./passkey-challenges";
import type { RegistrationResponseInput } from "./passkeys.schemas";
import { passkeysOf } from "./passkeys.service";
import { checkAttestationObject, readClientData } from "./webauthn-input";

/** Enough for every device a person owns; keeps the exclude list (and the options) small. */
export const MAX_PASSKEYS_PER_ACCOUNT = 20;

/** EdDSA, ES256, RS256: what platform authenticators, password managers and security keys use. */
const SUPPORTED_ALGORITHMS = [-8, -7, -257];

export const registrationFailed = (detail: string) =>
  new ProblemError({ status: 400, code: "passkey_registration_failed", detail });

const passkeyLimitReached = () =>
  new ProblemError({
    status: 409,
    code: "passkey_limit_reached",
    detail: `An account can have ${MAX_PASSKEYS_PER_ACCOUNT} passkeys; remove one before adding another.`,
  });

const alreadyRegistered = () =>
  new ProblemError({
    status: 409,
    code: "passkey_already_registered",
    detail: "This passkey is already registered.",
    errors: [{ pointer: "/response/id", detail: "Already registered." }],
  });

export async function beginPasskeyRegistration(
  ctx: ServiceContext,
  proof: ReauthenticationProof,
  now = Date.now(),
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const { userId } = currentUser(ctx);
  await assertRecentAuthentication(ctx, proof, now);
  const user = await findUserById(ctx, userId);
  if (!user)
    throw new ProblemError({ status: 401, code: "invalid_token", detail: "The account no longer exists." });
  const existing = await passkeysOf(ctx, userId);
  if (existing.length >= MAX_PASSKEYS_PER_ACCOUNT) throw passkeyLimitReached();

  const handle = await userHandleFor(ctx, userId);
  const displayName = [user.firstName, user.lastName].join(" ").trim() || user.email;
  const options = await generateRegistrationOptions({
    rpName: ctx.config.WEBAUTHN_RP_NAME,
    rpID: ctx.config.WEBAUTHN_RP_ID,
    userID: isoBase64URL.toBuffer(handle),
    userName: user.email,
    userDisplayName: displayName.slice(0, 64),
    timeout: CHALLENGE_TTL_MS,
    attestationType: "none",
    excludeCredentials: existing.map((passkey) => ({
      id: passkey.credentialId,
      transports: passkey.transports as AuthenticatorTransportFuture[],
    })),
    authenticatorSelection: { residentKey: "preferred", userVerification: "required" },
    supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
  });
  await issueChallenge(
    ctx,
    { purpose: "register", challenge: options.challenge, userId, allowCredentials: null },
    now,
  );
  return options;
}

/** "Passkey on Safari on macOS": a name the owner recognises in their list until they choose one. */
function defaultName(ctx: ServiceContext): string {
  const device = describeDevice(ctx.client.userAgent);
  return device === UNKNOWN_DEVICE ? "Passkey" : `Passkey on ${device}`.slice(0, 64);
}

export async function finishPasskeyRegistration(
  ctx: ServiceContext,
  input: { response: RegistrationResponseInput; name?: string },
  now = Date.now(),
): Promise<PasskeyCredential> {
  const { userId } = currentUser(ctx);
  const response = input.response as RegistrationResponseJSON;
  const clientData = readClientData(response.response.clientDataJSON, "/response/response/clientDataJSON");
  checkAttestationObject(response.response.attestationObject, "/response/response/attestationObject");

  const challenge = await spendChallenge(
    ctx,
    "register",
    and(eq(passkeyChallenges.challenge, clientData.challenge), eq(passkeyChallenges.userId, userId)) as SQL,
    now,
  );
  if (!challenge) {
    throw registrationFailed(
      "The response does not answer a registration challenge of yours that is still open (each works once, for 5 minutes): ask for new options.",
    );
  }

  let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
  try {
    verified = await verifyRegistrationResponse({
      response,
      expectedChallenge: challenge.challenge,
      expectedOrigin: ctx.config.WEBAUTHN_ORIGINS,
      expectedRPID: ctx.config.WEBAUTHN_RP_ID,
      requireUserPresence: true,
      requireUserVerification: true,
      supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
    });
  } catch (error) {
    // The library's reason (wrong origin, RP ID, no user verification ...) helps the integrator fix a setup.
    const reason = error instanceof Error ? error.message.slice(0, 300) : "unknown";
    throw registrationFailed(`The passkey could not be verified: ${reason}`);
  }
  const info = verified.registrationInfo;
  if (!verified.verified || !info) throw registrationFailed("The passkey could not be verified.");

  const name = input.name ?? defaultName(ctx);
  const transports = (response.response.transports ?? info.credential.transports ?? []).slice(0, 10);
  const id = uuidv7(now);
  let rows: PasskeyCredential[];
  try {
    [rows] = await ctx.db.batch([
      ctx.db
        .insert(passkeyCredentials)
        .values({
          id,
          userId,
          credentialId: info.credential.id,
          publicKey: isoBase64URL.fromBuffer(info.credential.publicKey),
          counter: info.credential.counter,
          transports,
          deviceType: info.credentialDeviceType,
          backedUp: info.credentialBackedUp,
          name,
          aaguid: info.aaguid,
          createdAt: new Date(now),
        })
        .returning(),
      auditStatement(ctx, {
        action: "auth.passkey_added",
        target: { type: "user", id: userId },
        before: null,
        after: { passkey_id: id, name, backed_up: info.credentialBackedUp, aaguid: info.aaguid },
      }),
    ]);
  } catch (error) {
    // One credential, one account: the unique index decides, even between two racing registrations.
    if (constraintFailure(error)?.kind === "unique") throw alreadyRegistered();
    throw error;
  }
  const passkey = rows[0];
  if (!passkey) throw new Error("finishPasskeyRegistration: the insert returned no row");

  const user = await findUserById(ctx, userId);
  if (user) await emailPasskeyChange(ctx, { user, event: "passkey_added", passkeyName: name, at: now });
  return passkey;
}
