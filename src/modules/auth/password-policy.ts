/**
 * Password rules after NIST SP 800-63B §3.1.1.2: 8 to 128 characters (Unicode
 * code points, after the NFKC normalisation the hash applies), any characters,
 * no composition rules, and refused when it is a commonly used password or is
 * derived from the account itself (the email, its local part, the username).
 */
import { COMMON_PASSWORDS } from "./common-passwords";

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

/** Code points, counted with an early exit so a megabyte of input costs nothing. */
export function passwordLength(password: string, stopAfter = PASSWORD_MAX_LENGTH + 1): number {
  let length = 0;
  for (const _ of password) {
    length += 1;
    if (length >= stopAfter) break;
  }
  return length;
}

/** Length only: what a schema can check without knowing the account. */
export function passwordLengthProblem(password: string): string | null {
  // A string over 4 times the limit in UTF-16 units cannot be under it in code points.
  if (password.length > PASSWORD_MAX_LENGTH * 4) return `Use at most ${PASSWORD_MAX_LENGTH} characters.`;
  const length = passwordLength(password.normalize("NFKC"));
  if (length < PASSWORD_MIN_LENGTH) return `Use at least ${PASSWORD_MIN_LENGTH} characters.`;
  if (length > PASSWORD_MAX_LENGTH) return `Use at most ${PASSWORD_MAX_LENGTH} characters.`;
  return null;
}

/** Every rule; null when the password is acceptable for this account. */
export function passwordPolicyProblem(
  password: string,
  account: { email?: string | null; username?: string | null },
): string | null {
  const lengthProblem = passwordLengthProblem(password);
  if (lengthProblem) return lengthProblem;
  const candidate = password.normalize("NFKC").trim().toLowerCase();
  if (COMMON_PASSWORDS.has(candidate)) {
    return "This password is too common; choose one that is not on lists of breached passwords.";
  }
  const email = account.email?.trim().toLowerCase();
  const localPart = email?.split("@")[0];
  const username = account.username?.trim().toLowerCase();
  if (candidate === email || candidate === localPart || candidate === username) {
    return "The password must not be your email address or username.";
  }
  return null;
}
