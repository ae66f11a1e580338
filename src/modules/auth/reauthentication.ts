/**
 * Re-authentication: actions that would let a stolen access token do lasting harm
 * (erasing the account or an organization, changing the address, minting a key with
 * every scope) need the person to have proven who they are recently, not merely to
 * hold a token. Recently means one of:
 *
 * - the token's `auth_time` (the sign-in that opened its session; refresh keeps it)
 *   is within REAUTH_WINDOW seconds;
 * - the request carries the right `current_password` (throttled like sign-in), or an
 *   `mfa_code` of the account's second factor.
 *
 * A proof that is given is always checked, even with a fresh `auth_time`: a wrong
 * `current_password` is refused, never ignored.
 */
import type { ServiceContext } from "../../lib/context";
import { verifyPassword } from "../../lib/password";
import { currentUser } from "../../lib/principal";
import { ProblemError } from "../../lib/problem";
import { findUserById } from "./accounts";
import { checkSecondFactor, hasConfirmedTotp } from "./mfa-factors";
import { beginPasswordCheck } from "./sign-in-throttle";

export type ReauthenticationProof = { current_password?: string; mfa_code?: string };

/** The proofs a person can give, in the order a client should offer them. */
export type AcceptedProof = "current_password" | "mfa_code" | "sign_in";

function reauthenticationRequired(
  detail: string,
  acceptedProofs: AcceptedProof[],
  field?: "current_password" | "mfa_code",
): ProblemError {
  return new ProblemError({
    status: 403,
    code: "reauthentication_required",
    detail,
    extensions: { accepted_proofs: acceptedProofs },
    ...(field ? { errors: [{ pointer: `/${field}`, detail: "Not correct." }] } : {}),
  });
}

/**
 * Passes when the caller has recently authenticated or proves it now; otherwise 403
 * `reauthentication_required` naming the proofs this account can give
 * (`accepted_proofs`: `current_password` when it has a password, `sign_in` always).
 */
export async function assertRecentAuthentication(
  ctx: ServiceContext,
  proof: ReauthenticationProof,
  now = Date.now(),
): Promise<void> {
  const principal = currentUser(ctx);
  const user = await findUserById(ctx, principal.userId);
  if (!user) throw reauthenticationRequired("The account no longer exists.", ["sign_in"]);
  const hasTotp = await hasConfirmedTotp(ctx, user.id);
  const accepted: AcceptedProof[] = [
    ...(user.passwordHash ? (["current_password"] as const) : []),
    ...(hasTotp ? (["mfa_code"] as const) : []),
    "sign_in",
  ];

  if (proof.current_password !== undefined) {
    const check = await beginPasswordCheck(ctx, { userId: user.id }, now);
    const { valid } = await verifyPassword(
      proof.current_password,
      user.passwordHash,
      ctx.config.PASSWORD_HASH_PARAMS,
    );
    if (valid) return check.succeeded();
    await check.failed();
    throw reauthenticationRequired("The current password is not correct.", accepted, "current_password");
  }
  if (proof.mfa_code !== undefined) {
    if (!hasTotp) {
      throw reauthenticationRequired(
        "This account has no authenticator app turned on: prove it with your current password or by signing in again.",
        accepted,
        "mfa_code",
      );
    }
    // Six digits are a code of the app; anything else is tried as a recovery code.
    const answer = /^\d{3}\s?\d{3}$/.test(proof.mfa_code.trim())
      ? { code: proof.mfa_code.trim() }
      : { recovery_code: proof.mfa_code };
    if (await checkSecondFactor(ctx, user.id, answer, now)) return;
    throw reauthenticationRequired("That code is not right, or was already used.", accepted, "mfa_code");
  }
  const windowMs = ctx.config.REAUTH_WINDOW * 1000;
  if (now - principal.authTime <= windowMs) return;
  throw reauthenticationRequired(
    `This action needs a recent sign-in (within ${ctx.config.REAUTH_WINDOW} seconds). ${
      user.passwordHash || hasTotp
        ? `Send ${[user.passwordHash ? "`current_password`" : "", hasTotp ? "`mfa_code`" : ""].filter(Boolean).join(" or ")} in the body, or sign in again.`
        : "Sign in again."
    }`,
    accepted,
  );
}
