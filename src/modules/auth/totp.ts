/**
 * Authenticator-app codes (TOTP, RFC 6238 over HOTP, RFC 4226): HMAC-SHA-1, 6 digits,
 * 30-second steps, the parameters every authenticator app supports. The arithmetic is
 * @oslojs/otp's; this module adds what a server needs around it: which step a code
 * matched (so a code is accepted once), a step of clock skew either way, and a
 * comparison that takes the same time however much of a guess is right.
 */
import { encodeBase32UpperCaseNoPadding } from "@oslojs/encoding";
import { createTOTPKeyURI, generateHOTP } from "@oslojs/otp";
import { randomBytes, timingSafeEqual } from "../../lib/crypto";

export const TOTP_DIGITS = 6;
export const TOTP_PERIOD_SECONDS = 30;
/** Steps accepted either side of the current one: a phone's clock a little off, a code typed near the end of its window. */
export const TOTP_SKEW_STEPS = 1;

/** 20 random bytes: the HMAC-SHA-1 block the RFC recommends (160 bits). */
export function newTotpKey(): Uint8Array {
  return randomBytes(20);
}

/** The secret as authenticator apps take it typed in: base32, no padding. */
export function totpSecretText(key: Uint8Array): string {
  return encodeBase32UpperCaseNoPadding(key);
}

/** The `otpauth://totp/…` URI a QR code carries (Google Authenticator's Key Uri Format). */
export function totpUri(issuer: string, accountName: string, key: Uint8Array): string {
  return createTOTPKeyURI(issuer, accountName, key, TOTP_PERIOD_SECONDS, TOTP_DIGITS);
}

export function totpStep(nowMs: number): number {
  return Math.floor(nowMs / 1000 / TOTP_PERIOD_SECONDS);
}

export function totpCode(key: Uint8Array, step: number, digits = TOTP_DIGITS): string {
  return generateHOTP(key, BigInt(step), digits);
}

/**
 * The step `code` matches within the skew window, later than `afterStep`, or null.
 * Every candidate step is computed and compared, so the time taken does not say which
 * (if any) matched.
 */
export function matchTotp(
  key: Uint8Array,
  code: string,
  nowMs: number,
  afterStep: number,
  digits = TOTP_DIGITS,
): number | null {
  if (!new RegExp(`^\\d{${digits}}$`).test(code)) return null;
  const current = totpStep(nowMs);
  let matched: number | null = null;
  for (let step = current - TOTP_SKEW_STEPS; step <= current + TOTP_SKEW_STEPS; step++) {
    const equal = timingSafeEqual(totpCode(key, step, digits), code);
    if (equal && step > afterStep && matched === null) matched = step;
  }
  return matched;
}
