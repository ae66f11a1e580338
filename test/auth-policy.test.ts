/** Pure helpers of the identity module: the password policy and revocation TTLs. */
import { describe, expect, it } from "vitest";
import { COMMON_PASSWORDS } from "../src/modules/auth/common-passwords";
import {
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  passwordLength,
  passwordPolicyProblem,
} from "../src/modules/auth/password-policy";
import { KV_MIN_TTL_SECONDS, revocationTtlSeconds } from "../src/modules/auth/sessions.service";

describe("password policy", () => {
  const account = { email: "grace.hopper@example.test", username: "amazing_grace" };

  it("counts characters as code points after NFKC", () => {
    expect(passwordLength("abc")).toBe(3);
    expect(passwordLength("🦄🦄")).toBe(2);
    expect(passwordLength("x".repeat(10_000))).toBe(PASSWORD_MAX_LENGTH + 1);
  });

  it.each([
    ["x".repeat(PASSWORD_MIN_LENGTH), null],
    ["x".repeat(PASSWORD_MAX_LENGTH), null],
    ["🦄".repeat(PASSWORD_MAX_LENGTH), null],
    ["nothing but lower case", null],
    ["x".repeat(PASSWORD_MIN_LENGTH - 1), /at least 8/],
    ["x".repeat(PASSWORD_MAX_LENGTH + 1), /at most 128/],
    ["🦄".repeat(PASSWORD_MAX_LENGTH + 1), /at most 128/],
    ["QWERTY123", /too common/],
    ["Grace.Hopper@Example.test", /email/],
    ["grace.hopper", /email/],
    ["AMAZING_GRACE", /username/],
  ])("%s → %s", (password, expected) => {
    const problem = passwordPolicyProblem(password, account);
    if (expected === null) expect(problem).toBeNull();
    else expect(problem).toMatch(expected);
  });

  it("ships a list of common passwords that the length rule alone would let through", () => {
    expect(COMMON_PASSWORDS.size).toBeGreaterThanOrEqual(150);
    for (const entry of COMMON_PASSWORDS) {
      expect(entry).toBe(entry.toLowerCase());
      expect(passwordLength(entry)).toBeGreaterThanOrEqual(PASSWORD_MIN_LENGTH);
    }
  });
});

describe("revocation TTL in AUTH_KV", () => {
  const now = 1_800_000_000_000;
  it("lasts as long as the newest access token, never under KV's 60 s minimum", () => {
    expect(revocationTtlSeconds(now + 900_000, now)).toBe(905);
    expect(revocationTtlSeconds(now + 10_000, now)).toBe(KV_MIN_TTL_SECONDS);
  });
  it("is not written when every access token has already expired", () => {
    expect(revocationTtlSeconds(now - 1, now)).toBeNull();
    expect(revocationTtlSeconds(now, now)).toBeNull();
  });
});
