import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "../src/db/client";
import { users } from "../src/db/schema";
import { ConfigError, getConfig } from "../src/env";
import { hashPassword, verifyPassword } from "../src/lib/password";
import {
  DEFAULT_PARAMS,
  MIN_SCRYPT_WORK,
  PRODUCTION_SCRYPT_COST_CAP,
  parsePasswordHash,
  parseScryptParams,
  type ScryptParams,
} from "../src/lib/password-hashing";
import { createUser, DEFAULT_PASSWORD } from "./support/factories";
import { apiWith, jsonOf, problemOf } from "./support/http";

/** Better Auth's default (packages/better-auth/src/crypto/password.ts): what the benchmark compares with. */
const PEER: ScryptParams = { N: 16384, r: 16, p: 1, keyLength: 64 };
const PEER_SETTING = "N=16384,r=16,p=1,keyLength=64";

const db = getDb(env);
const storedHashOf = async (userId: string) =>
  (await db.select({ hash: users.passwordHash }).from(users).where(eq(users.id, userId)))[0]?.hash ?? null;
const login = (email: string, password: string, vars: Record<string, string> = {}) =>
  apiWith(vars, "POST", "/api/v1/auth/login", { body: { email, password } });

describe("password hashing", () => {
  it("defaults to OWASP's parameters, under the production cap", () => {
    expect(DEFAULT_PARAMS).toEqual({ N: 2 ** 14, r: 8, p: 5, keyLength: 32 });
    expect(DEFAULT_PARAMS.N * DEFAULT_PARAMS.r * DEFAULT_PARAMS.p).toBeLessThanOrEqual(
      PRODUCTION_SCRYPT_COST_CAP,
    );
    expect(getConfig(env).PASSWORD_HASH_PARAMS).toEqual(DEFAULT_PARAMS);
  });

  it("hashes and verifies", async () => {
    const hash = await hashPassword("correct horse battery");
    expect(hash).toMatch(/^scrypt\$N=16384,r=8,p=5\$/);
    expect(await verifyPassword("correct horse battery", hash)).toEqual({ valid: true, needsRehash: false });
    expect((await verifyPassword("wrong", hash)).valid).toBe(false);
    expect((await verifyPassword("x", null)).valid).toBe(false);
  });

  it("hashes at other parameters, carried in the hash with their key length", async () => {
    const hash = await hashPassword("correct horse battery", PEER);
    expect(hash).toMatch(/^scrypt\$N=16384,r=16,p=1\$/);
    expect(parsePasswordHash(hash)?.key.length).toBe(64);
    // Verified with its own parameters whatever the current setting is.
    expect((await verifyPassword("correct horse battery", hash, PEER)).valid).toBe(true);
    expect((await verifyPassword("correct horse battery", hash, DEFAULT_PARAMS)).valid).toBe(true);
    expect((await verifyPassword("correct horse batterY", hash, PEER)).valid).toBe(false);
  });

  it("upgrades a hash weaker in CPU work or in memory, never downgrades one", async () => {
    const owasp = await hashPassword("pass phrase one");
    // The peer's setting uses less CPU work but twice the memory: OWASP hashes move to it.
    expect(await verifyPassword("pass phrase one", owasp, PEER)).toEqual({ valid: true, needsRehash: true });
    // Less work and the same memory: the stronger stored hash is kept.
    const lighter = parseScryptParams("N=16384,r=8,p=2") as ScryptParams;
    expect(await verifyPassword("pass phrase one", owasp, lighter)).toEqual({
      valid: true,
      needsRehash: false,
    });
    const peerHash = await hashPassword("pass phrase one", PEER);
    expect(await verifyPassword("pass phrase one", peerHash, DEFAULT_PARAMS)).toEqual({
      valid: true,
      needsRehash: true,
    });
    // A wrong password never asks for a rehash.
    expect(await verifyPassword("wrong", peerHash, DEFAULT_PARAMS)).toEqual({
      valid: false,
      needsRehash: false,
    });
  });

  it("treats an unreadable stored hash as no hash: refused, at the full cost, without throwing", async () => {
    for (const stored of [
      "",
      "bcrypt$2b$10$abc",
      "scrypt$N=16384,r=8,p=5$AAAA$AAAA",
      "scrypt$N=x,r=8,p=5$A$A",
    ]) {
      expect(await verifyPassword(DEFAULT_PASSWORD, stored)).toEqual({ valid: false, needsRehash: false });
    }
  });

  it("parses PASSWORD_HASH_PARAMS, refusing what is weak, over the cap or malformed", () => {
    expect(parseScryptParams("N=16384,r=8,p=5")).toEqual(DEFAULT_PARAMS);
    expect(parseScryptParams(" N=16384, r=16, p=1, keyLength=64 ")).toEqual(PEER);
    expect(parseScryptParams("N=8192,r=8,p=10")).toEqual({ N: 8192, r: 8, p: 10, keyLength: 32 });
    const refusals: Array<[string, RegExp]> = [
      ["N=16384,r=8,p=1", new RegExp(`at least ${MIN_SCRYPT_WORK}`)],
      ["N=4096,r=64,p=1", /at least 8192/],
      ["N=20000,r=16,p=1", /power of two/],
      ["N=131072,r=8,p=2", /at most 1048576/],
      ["N=65536,r=16,p=1", /64 MiB/],
      ["N=16384,r=16,p=1,keyLength=8", /keyLength/],
      ["N=16384,r=0,p=1", /at least 1/],
      ["16384,8,5", /must look like/],
      ["N=16384,r=8,p=5,dkLen=64", /must look like/],
      ["N=1e5,r=8,p=5", /must look like/],
    ];
    for (const [text, reason] of refusals) expect(parseScryptParams(text)).toMatch(reason);
  });

  it("refuses a bad PASSWORD_HASH_PARAMS at start, naming the variable", () => {
    expect(() => getConfig({ ...env, PASSWORD_HASH_PARAMS: "N=1024,r=1,p=1" } as typeof env)).toThrowError(
      ConfigError,
    );
    try {
      getConfig({ ...env, PASSWORD_HASH_PARAMS: "N=1024,r=1,p=1" } as typeof env);
    } catch (error) {
      expect((error as ConfigError).issues.join()).toMatch(/^PASSWORD_HASH_PARAMS: N must be a power of two/);
    }
  });
});

describe("sign-in across a change of PASSWORD_HASH_PARAMS", () => {
  it("keeps every stored hash working and moves it to the setting at its next sign-in", async () => {
    const { user, email } = await createUser();
    const before = await storedHashOf(user.id);
    expect(parsePasswordHash(before ?? "")?.params).toEqual({ N: 16384, r: 8, p: 5 });

    await jsonOf(await login(email, DEFAULT_PASSWORD, { PASSWORD_HASH_PARAMS: PEER_SETTING }), 200);
    const atPeer = await storedHashOf(user.id);
    expect(parsePasswordHash(atPeer ?? "")?.params).toEqual({ N: 16384, r: 16, p: 1 });
    expect(parsePasswordHash(atPeer ?? "")?.key.length).toBe(64);

    // Back to the default: the peer-strength hash still signs in, and is upgraded again.
    await jsonOf(await login(email, DEFAULT_PASSWORD), 200);
    expect(parsePasswordHash((await storedHashOf(user.id)) ?? "")?.params).toEqual({ N: 16384, r: 8, p: 5 });
  });

  it("registers at the setting, and a wrong password changes nothing under any setting", async () => {
    const email = `peer-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const registered = await apiWith(
      { PASSWORD_HASH_PARAMS: PEER_SETTING },
      "POST",
      "/api/v1/auth/register",
      {
        body: { email, password: DEFAULT_PASSWORD, password_confirm: DEFAULT_PASSWORD },
      },
    );
    const { user } = await jsonOf<{ user: { id: string } }>(registered, 201);
    const hash = await storedHashOf(user.id);
    expect(hash).toMatch(/^scrypt\$N=16384,r=16,p=1\$/);

    const wrong = await login(email, "not the password at all");
    expect((await problemOf(wrong, 401)).code).toBe("invalid_credentials");
    expect(await storedHashOf(user.id)).toBe(hash);
  });
});
