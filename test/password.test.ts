import { describe, expect, it } from "vitest";
import {
  CURRENT_PARAMS,
  hashPassword,
  PRODUCTION_SCRYPT_COST_CAP,
  verifyPassword,
} from "../src/lib/password";

describe("password hashing", () => {
  it("keeps the scrypt cost under the production cap", () => {
    expect(CURRENT_PARAMS.N * CURRENT_PARAMS.r * CURRENT_PARAMS.p).toBeLessThanOrEqual(
      PRODUCTION_SCRYPT_COST_CAP,
    );
  });
  it("hashes and verifies", async () => {
    const hash = await hashPassword("correct horse battery");
    expect(hash).toMatch(/^scrypt\$N=16384,r=8,p=5\$/);
    expect(await verifyPassword("correct horse battery", hash)).toEqual({ valid: true, needsRehash: false });
    expect((await verifyPassword("wrong", hash)).valid).toBe(false);
    expect((await verifyPassword("x", null)).valid).toBe(false);
  });
});
