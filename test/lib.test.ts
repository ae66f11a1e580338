/** Pure helpers: ids, crypto, D1 chunking, config parsing. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { chunk, D1_MAX_BOUND_PARAMETERS, rowsPerInsert } from "../src/db/batch";
import { users } from "../src/db/schema";
import { ConfigError, getConfig } from "../src/env";
import {
  base64urlDecode,
  base64urlEncode,
  randomDigits,
  randomToken,
  sha256Hex,
  timingSafeEqual,
} from "../src/lib/crypto";
import { isUuid, uuidv7, uuidv7Timestamp } from "../src/lib/ids";

describe("uuidv7", () => {
  it("is a version-7 RFC 9562 UUID carrying its time", () => {
    const id = uuidv7(Date.UTC(2026, 10, 21));
    expect(isUuid(id)).toBe(true);
    expect(id[14]).toBe("7");
    expect(uuidv7Timestamp(id).toISOString()).toBe("2026-11-21T00:00:00.000Z");
  });

  it("sorts in creation order, even within one millisecond", () => {
    const ids = Array.from({ length: 500 }, () => uuidv7(1_800_000_000_000));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(500);
  });

  it("draws fresh random bits for every id, across refills of its pool of random bytes", () => {
    // 4 KiB of pooled bytes serve 256 ids: 1,000 ids go through the pool about four times.
    const ids = Array.from({ length: 1000 }, (_, i) => uuidv7(1_900_000_000_000 + i));
    const randomTails = ids.map((id) => id.slice(19)); // variant + 62 random bits
    expect(new Set(randomTails).size).toBe(1000);
    for (const id of ids) {
      expect(isUuid(id)).toBe(true);
      expect("89ab").toContain(id[19]);
    }
  });
});

describe("crypto helpers", () => {
  it("round-trips base64url", () => {
    const bytes = new Uint8Array([0, 1, 250, 251, 252, 253, 254, 255]);
    const text = base64urlEncode(bytes);
    expect(text).not.toMatch(/[+/=]/);
    expect(base64urlDecode(text)).toEqual(bytes);
    expect(() => base64urlDecode("a+b/")).toThrow();
  });

  it("makes random tokens of the asked strength", () => {
    expect(base64urlDecode(randomToken()).length).toBe(32);
    expect(randomToken()).not.toBe(randomToken());
    expect(randomDigits(8)).toMatch(/^\d{8}$/);
  });

  it("hashes with SHA-256", async () => {
    expect(await sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("compares in constant time, lengths included", () => {
    expect(timingSafeEqual("secret", "secret")).toBe(true);
    expect(timingSafeEqual("secret", "secreT")).toBe(false);
    expect(timingSafeEqual("secret", "secret2")).toBe(false);
    expect(timingSafeEqual("", "")).toBe(true);
  });
});

describe("D1 chunking", () => {
  it("keeps every insert under the bound-parameter cap", () => {
    // users has 16 columns: 6 rows × 16 = 96 parameters, a seventh row would pass 100.
    expect(rowsPerInsert(users)).toBe(6);
    expect(rowsPerInsert(users) * 16).toBeLessThanOrEqual(D1_MAX_BOUND_PARAMETERS);
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(() => chunk([1], 0)).toThrow(RangeError);
  });
});

describe("getConfig", () => {
  it("parses the test environment with defaults", () => {
    const config = getConfig(env);
    expect(config).toMatchObject({
      ENVIRONMENT: "test",
      ACCESS_TOKEN_TTL: 900,
      API_DOCS_ENABLED: true,
      isProduction: false,
    });
    expect(config.CORS_ORIGINS).toContain("http://localhost:3000");
  });

  it("is computed once per env object", () => {
    expect(getConfig(env)).toBe(getConfig(env));
  });

  it("refuses the console email provider in production, where it would log secrets", () => {
    expect(() => getConfig({ ...env, ENVIRONMENT: "production", EMAIL_PROVIDER: "console" })).toThrowError(
      /EMAIL_PROVIDER/,
    );
    expect(getConfig({ ...env, ENVIRONMENT: "production", EMAIL_PROVIDER: "resend" }).isProduction).toBe(
      true,
    );
  });

  it("names every invalid variable", () => {
    try {
      getConfig({ ...env, ENVIRONMENT: "prod", APP_URL: "not a url" });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).issues.join(" ")).toMatch(/ENVIRONMENT.*APP_URL|APP_URL.*ENVIRONMENT/);
    }
  });
});
