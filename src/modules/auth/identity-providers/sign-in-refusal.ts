/**
 * Why a provider sign-in did not sign anyone in. The callback answers each of these as
 * a 302 to the client's redirect_uri with `?error=<code>&error_description=<text>`: the
 * client shows its own message for the code; the description is ours (never text the
 * provider or the request chose), short, and safe to show.
 */

export const SIGN_IN_ERROR_CODES = {
  access_denied: "You cancelled the sign-in at the provider, or it refused to sign you in.",
  invalid_state:
    "This sign-in link expired, was already used, or was started in another browser. Start the sign-in again.",
  invalid_request: "The provider came back without an authorization code. Start the sign-in again.",
  provider_error: "The provider refused the sign-in (its authorization code was not accepted).",
  provider_unavailable: "The provider could not be reached or answered unexpectedly. Try again in a moment.",
  invalid_id_token: "The provider's ID token could not be verified.",
  email_missing: "The provider did not share an email address for this account.",
  email_not_verified:
    "The provider has not verified this email address, so it cannot be used to sign in to or create an account here. Verify it at the provider, or sign in another way and link the provider from your account settings.",
  account_disabled: "This account has been disabled.",
  identity_already_linked: "This provider account is already linked to another account here.",
  email_taken: "An account with this email address was created at the same moment. Try signing in again.",
  server_error: "Something went wrong on our side. Try again in a moment.",
} as const;

export type SignInErrorCode = keyof typeof SIGN_IN_ERROR_CODES;

/** A refusal the callback turns into an error redirect (and a log line with the request id). */
export class SignInRefusal extends Error {
  constructor(
    readonly code: SignInErrorCode,
    /** For the log only: what exactly was wrong (never shown to the client). */
    readonly reason: string,
  ) {
    super(`${code}: ${reason}`);
    this.name = "SignInRefusal";
  }

  get description(): string {
    return SIGN_IN_ERROR_CODES[this.code];
  }
}
