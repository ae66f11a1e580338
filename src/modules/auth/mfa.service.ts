/**
 * The second factor of an account: enrolling an authenticator app (TOTP), confirming
 * it with a first code (which turns it on and hands out recovery codes), turning it
 * off, replacing the recovery codes, and finishing a sign-in that stopped at the MFA
 * step. Every change is audited in the batch that makes it and reported to the owner
 * (security-events.ts).
 */
import { and, eq, isNull } from "drizzle-orm";
import { totpFactors } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { currentUser } from "../../lib/principal";
import { ProblemError, problems } from "../../lib/problem";
import { auditStatement } from "../audit/audit.service";
import { findUserById } from "./accounts";
import type { MfaStatusDto, MfaVerifyInput } from "./mfa.schemas";
import { attemptMfaChallenge } from "./mfa-challenges";
import {
  checkSecondFactor,
  findTotpFactor,
  hasConfirmedTotp,
  newRecoveryCodeSet,
  removeSecondFactorStatements,
  sealTotpKey,
  spendTotpCode,
  unusedRecoveryCodeCount,
} from "./mfa-factors";
import { countPasskeys } from "./passkeys/passkey-count";
import { assertRecentAuthentication, type ReauthenticationProof } from "./reauthentication";
import { reportSignInMethodChange } from "./security-events";
import {
  type AuthenticationMethod,
  openSession,
  type SignedIn,
  type SignInMethod,
  sessionOf,
} from "./sign-in";
import { beginPasswordCheck } from "./sign-in-throttle";
import { newTotpKey, totpSecretText, totpUri } from "./totp";

export const invalidMfaCode = (status: 400 | 401 = 401) =>
  new ProblemError({
    status,
    code: "invalid_mfa_code",
    detail: "That code is not right, or was already used: enter the code your authenticator app shows now.",
  });

const mfaAlreadyEnabled = () =>
  problems.conflict(
    "mfa_already_enabled",
    "An authenticator app is already on: turn it off (DELETE /auth/mfa/totp) before enrolling another.",
  );
const mfaNotEnabled = () =>
  problems.conflict("mfa_not_enabled", "This account has no authenticator app turned on.");
const totpNotEnrolled = () =>
  problems.conflict(
    "totp_not_enrolled",
    "Start with POST /auth/mfa/totp/enroll: there is no app to confirm.",
  );

export async function mfaStatus(ctx: ServiceContext): Promise<MfaStatusDto> {
  const { userId } = currentUser(ctx);
  const [factor, remaining, passkeys] = await Promise.all([
    findTotpFactor(ctx, userId),
    unusedRecoveryCodeCount(ctx, userId),
    countPasskeys(ctx, userId),
  ]);
  const confirmedAt = factor?.confirmedAt ?? null;
  return {
    totp: { enabled: confirmedAt !== null, created_at: confirmedAt?.toISOString() ?? null },
    recovery_codes_remaining: confirmedAt ? remaining : 0,
    passkeys,
  };
}

/**
 * A new secret for the caller's authenticator app, pending until confirmed. Needs a
 * recent authentication and a verified address (a second factor on an account whose
 * address nobody has proven would belong to whoever squatted it). Enrolling again
 * before confirming replaces the pending secret.
 */
export async function enrollTotp(
  ctx: ServiceContext,
  proof: ReauthenticationProof,
): Promise<{ secret: string; otpauth_url: string }> {
  await assertRecentAuthentication(ctx, proof);
  const { userId } = currentUser(ctx);
  const user = await findUserById(ctx, userId);
  if (!user) throw problems.unauthorized();
  if (user.emailVerifiedAt === null) {
    throw problems.forbidden(
      "Verify your email address before adding an authenticator app.",
      "email_not_verified",
    );
  }
  if (await hasConfirmedTotp(ctx, userId)) throw mfaAlreadyEnabled();
  const key = newTotpKey();
  const secretCiphertext = await sealTotpKey(ctx, userId, key);
  await ctx.db
    .insert(totpFactors)
    .values({ userId, secretCiphertext, lastUsedStep: 0, createdAt: new Date() })
    .onConflictDoUpdate({
      target: totpFactors.userId,
      set: { secretCiphertext, lastUsedStep: 0, createdAt: new Date() },
      // A confirmed app is never replaced here (a race with a confirm keeps the confirmed one).
      setWhere: isNull(totpFactors.confirmedAt),
    });
  return { secret: totpSecretText(key), otpauth_url: totpUri(ctx.config.APP_NAME, user.email, key) };
}

/** Turns the pending app on with its first code; answers the recovery codes, shown this once. */
export async function confirmTotp(ctx: ServiceContext, code: string): Promise<{ recovery_codes: string[] }> {
  const { userId } = currentUser(ctx);
  const factor = await findTotpFactor(ctx, userId);
  if (!factor) throw totpNotEnrolled();
  if (factor.confirmedAt) throw mfaAlreadyEnabled();
  const now = Date.now();
  const check = await beginPasswordCheck(ctx, { userId }, now);
  if (!(await spendTotpCode(ctx, factor, code, now))) {
    await check.failed();
    throw invalidMfaCode(400);
  }
  await check.succeeded();
  const { codes, statements } = await newRecoveryCodeSet(ctx, userId, now);
  const [confirmed] = await ctx.db.batch([
    ctx.db
      .update(totpFactors)
      .set({ confirmedAt: new Date(now) })
      .where(and(eq(totpFactors.userId, userId), isNull(totpFactors.confirmedAt)))
      .returning({ userId: totpFactors.userId }),
    ...statements,
    auditStatement(ctx, {
      action: "auth.mfa_enabled",
      target: { type: "user", id: userId },
      before: { mfa: false },
      after: { mfa: true, recovery_codes: codes.length },
    }),
  ]);
  if (confirmed.length === 0) throw mfaAlreadyEnabled();
  await reportSignInMethodChange(ctx, userId, "mfa_enabled", { now });
  return { recovery_codes: codes };
}

/** Turns the app off and drops the recovery codes (re-authenticated: an `mfa_code` counts). */
export async function disableTotp(ctx: ServiceContext, proof: ReauthenticationProof): Promise<void> {
  await assertRecentAuthentication(ctx, proof);
  const { userId } = currentUser(ctx);
  const factor = await findTotpFactor(ctx, userId);
  if (!factor) throw mfaNotEnabled();
  await ctx.db.batch([
    auditStatement(ctx, {
      action: "auth.mfa_disabled",
      target: { type: "user", id: userId },
      before: { mfa: factor.confirmedAt !== null },
      after: { mfa: false },
    }),
    ...removeSecondFactorStatements(ctx, userId),
  ]);
  if (factor.confirmedAt) await reportSignInMethodChange(ctx, userId, "mfa_disabled");
}

/** A new set of recovery codes; the previous set stops working (re-authenticated). */
export async function regenerateRecoveryCodes(
  ctx: ServiceContext,
  proof: ReauthenticationProof,
): Promise<{ recovery_codes: string[] }> {
  await assertRecentAuthentication(ctx, proof);
  const { userId } = currentUser(ctx);
  if (!(await hasConfirmedTotp(ctx, userId))) throw mfaNotEnabled();
  const { codes, statements } = await newRecoveryCodeSet(ctx, userId);
  await ctx.db.batch([
    auditStatement(ctx, {
      action: "auth.recovery_codes_regenerated",
      target: { type: "user", id: userId },
      after: { recovery_codes: codes.length },
    }),
    ...statements,
  ]);
  await reportSignInMethodChange(ctx, userId, "recovery_codes_regenerated");
  return { recovery_codes: codes };
}

/** Finishes a sign-in that stopped at the MFA step: the token pair, with `mfa` in its `amr`. */
export async function verifyMfa(ctx: ServiceContext, input: MfaVerifyInput): Promise<SignedIn> {
  const now = Date.now();
  const challenge = await attemptMfaChallenge(
    ctx,
    input.mfa_token,
    async (pending) => (await checkSecondFactor(ctx, pending.userId, input, now)) !== null,
    () => invalidMfaCode(401),
    now,
  );
  const user = await findUserById(ctx, challenge.userId);
  if (!user) throw invalidMfaCode(401);
  // Both were written by startMfaChallenge from the first factor's proof.
  const amr = [...new Set([...challenge.firstFactor.amr, "otp", "mfa"])] as AuthenticationMethod[];
  const method = challenge.firstFactor.method as SignInMethod;
  return sessionOf(
    await openSession(ctx, user, { method, amr, provesEmail: false, satisfiesMfa: true }, { now }),
  );
}
