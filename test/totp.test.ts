/**
 * The TOTP arithmetic against RFC 6238's own test vectors (Appendix B, SHA-1, 8 digits,
 * the ASCII key "12345678901234567890"), and what the server adds around it: the skew
 * window, accepting a step only after the last one used, and the secret box the
 * secrets are stored in.
 */
import { describe, expect, it } from "vitest";
import { open, seal } from "../src/lib/secret-box";
import { matchTotp, totpCode, totpSecretText, totpStep, totpUri } from "../src/modules/auth/totp";

const RFC_KEY = new TextEncoder().encode("12345678901234567890");
const at = (unixSeconds: number) => unixSeconds * 1000;

describe("RFC 6238 test vectors (SHA-1)", () => {
  it.each([
    [59, "94287082"],
    [1111111109, "07081804"],
    [1111111111, "14050471"],
    [1234567890, "89005924"],
    [2000000000, "69279037"],
    [20000000000, "65353130"],
  ])("T = %i → %s", (time, expected) => {
    expect(totpCode(RFC_KEY, totpStep(at(time)), 8)).toBe(expected);
  });

  it("six digits are the last six of the same value (RFC 4226 truncation)", () => {
    expect(totpCode(RFC_KEY, totpStep(at(59)))).toBe("287082");
  });
});

describe("matchTotp", () => {
  const now = at(1234567890);
  const step = totpStep(now);

  it("accepts the current step and one step either side, and says which", () => {
    expect(matchTotp(RFC_KEY, totpCode(RFC_KEY, step), now, 0)).toBe(step);
    expect(matchTotp(RFC_KEY, totpCode(RFC_KEY, step - 1), now, 0)).toBe(step - 1);
    expect(matchTotp(RFC_KEY, totpCode(RFC_KEY, step + 1), now, 0)).toBe(step + 1);
  });

  it("refuses codes two steps away", () => {
    expect(matchTotp(RFC_KEY, totpCode(RFC_KEY, step - 2), now, 0)).toBeNull();
    expect(matchTotp(RFC_KEY, totpCode(RFC_KEY, step + 2), now, 0)).toBeNull();
  });

  it("refuses a step at or before the last one accepted (no replay)", () => {
    expect(matchTotp(RFC_KEY, totpCode(RFC_KEY, step), now, step)).toBeNull();
    expect(matchTotp(RFC_KEY, totpCode(RFC_KEY, step - 1), now, step - 1)).toBeNull();
    expect(matchTotp(RFC_KEY, totpCode(RFC_KEY, step + 1), now, step)).toBe(step + 1);
  });

  it("refuses anything that is not six digits", () => {
    for (const code of ["", "12345", "1234567", "abcdef", " 123456", "12345a"]) {
      expect(matchTotp(RFC_KEY, code, now, 0)).toBeNull();
    }
  });
});

describe("the secret and its URI", () => {
  it("writes the key in base32 and the Key URI format apps scan", () => {
    expect(totpSecretText(RFC_KEY)).toBe("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    const uri = new URL(totpUri("Edge API Platform", "ada@example.com", RFC_KEY));
    expect(uri.protocol).toBe("otpauth:");
    expect(uri.searchParams.get("secret")).toBe("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    expect(uri.searchParams.get("issuer")).toBe("Edge API Platform");
    expect(uri.searchParams.get("digits")).toBe("6");
    expect(uri.searchParams.get("period")).toBe("30");
    expect(decodeURIComponent(uri.pathname)).toContain("ada@example.com");
  });
});

describe("secret box", () => {
  const key = "dGVzdC1vbmx5LW1mYS1lbmNyeXB0aW9uLWtleS0zMmI";
  const other = "YW5vdGhlci10ZXN0LWtleS1mb3Itc2VjcmV0LWJveCE"; // 32 bytes too

  it("opens what it sealed for the same context, and nothing else", async () => {
    const box = await seal(key, RFC_KEY, "totp:user-1");
    expect(box).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(await open(key, box, "totp:user-1")).toEqual(RFC_KEY);
    expect(await open(key, box, "totp:user-2")).toBeNull();
    expect(await open(other, box, "totp:user-1")).toBeNull();
    const [version, iv, sealed = ""] = box.split(".");
    const flipped = `${sealed.slice(0, -2)}${sealed.endsWith("A") ? "B" : "A"}${sealed.slice(-1)}`;
    expect(await open(key, `${version}.${iv}.${flipped}`, "totp:user-1")).toBeNull();
    expect(await open(key, "not a box", "totp:user-1")).toBeNull();
  });

  it("seals the same secret differently each time (a fresh IV)", async () => {
    expect(await seal(key, RFC_KEY, "c")).not.toBe(await seal(key, RFC_KEY, "c"));
  });
});
