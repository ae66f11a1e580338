/**
 * scrypt in WebAssembly (src/lib/scrypt/): RFC 7914's own test vectors, the same keys as
 * node:crypto's scrypt (BoringSSL in workerd) over many inputs and parameters, the module's
 * memory left zeroed and shared across sizes, PBKDF2 past workerd's 255 blocks, and bad
 * parameters refused.
 */
import { Buffer } from "node:buffer";
import { scrypt as nodeScrypt } from "node:crypto";
import { describe, expect, it } from "vitest";
import romix from "../src/lib/scrypt/romix.wasm";
import { createScrypt, type ScryptCost } from "../src/lib/scrypt/scrypt";

const utf8 = (text: string) => new TextEncoder().encode(text);
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

function nodeKey(password: Uint8Array, salt: Uint8Array, { N, r, p }: ScryptCost, keyLength: number) {
  return new Promise<Uint8Array>((resolve, reject) =>
    nodeScrypt(password, salt, keyLength, { N, r, p, maxmem: 256 * N * r }, (error, key) =>
      error ? reject(error) : resolve(new Uint8Array(key)),
    ),
  );
}

describe("scrypt in WebAssembly", () => {
  const scrypt = createScrypt(romix);

  // RFC 7914 section 12. Its fourth vector (N=1048576, r=8) needs 1 GiB, more than an isolate has.
  it.each([
    {
      password: "",
      salt: "",
      cost: { N: 16, r: 1, p: 1 },
      key: "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906",
    },
    {
      password: "password",
      salt: "NaCl",
      cost: { N: 1024, r: 8, p: 16 },
      key: "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640",
    },
    {
      password: "pleaseletmein",
      salt: "SodiumChloride",
      cost: { N: 16384, r: 8, p: 1 },
      key: "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887",
    },
  ])("derives RFC 7914's key for P=$password, S=$salt, $cost", async ({ password, salt, cost, key }) => {
    expect(hex(await scrypt(utf8(password), utf8(salt), cost, 64))).toBe(key);
  });

  it("derives node:crypto's keys, over passwords, salts, parameters and key lengths", async () => {
    const costs: ScryptCost[] = [
      { N: 2, r: 1, p: 1 },
      { N: 16, r: 3, p: 2 },
      { N: 256, r: 1, p: 7 },
      { N: 1024, r: 5, p: 3 },
      { N: 64, r: 16, p: 1 },
    ];
    for (const [index, cost] of costs.entries()) {
      for (const keyLength of [1, 16, 32, 33, 64, 100]) {
        const password = crypto.getRandomValues(new Uint8Array(index * 13 + (keyLength % 7)));
        const salt = crypto.getRandomValues(new Uint8Array((keyLength * 3) % 40));
        expect(
          hex(await scrypt(password, salt, cost, keyLength)),
          `${JSON.stringify(cost)}, ${keyLength}`,
        ).toBe(hex(await nodeKey(password, salt, cost, keyLength)));
      }
    }
  });

  it("derives node:crypto's keys at the parameters passwords are hashed with (OWASP's, Better Auth's)", async () => {
    const password = utf8("correct horse ✓ battery");
    const salt = crypto.getRandomValues(new Uint8Array(16));
    for (const cost of [
      { N: 16384, r: 8, p: 5 },
      { N: 16384, r: 16, p: 1 },
    ]) {
      expect(hex(await scrypt(password, salt, cost, 32))).toBe(hex(await nodeKey(password, salt, cost, 32)));
    }
  });

  it("leaves the module's memory zeroed: no password-derived block outlives a derivation", async () => {
    const instance = new WebAssembly.Instance(romix, {});
    const own = createScrypt(instance);
    await own(utf8("a password"), utf8("a salt"), { N: 1024, r: 8, p: 2 }, 32);
    const memory = new Uint8Array((instance.exports.memory as WebAssembly.Memory).buffer);
    expect(memory.byteLength).toBeGreaterThanOrEqual(128 * 8 * (1024 + 2));
    expect(memory.every((byte) => byte === 0)).toBe(true);
  });

  it("shares one module across derivations of any size, growing its memory once for the largest", async () => {
    const inputs = Array.from({ length: 6 }, (_, i) => ({
      password: utf8(`password ${i}`),
      salt: utf8(`salt ${i}`),
      cost: { N: 2048 >> i, r: 1 + ((i * 3) % 5), p: 1 + (i % 2) },
    }));
    // Largest first, then smaller ones in the grown memory, then the largest again.
    for (const { password, salt, cost } of [...inputs, inputs[0] as (typeof inputs)[0]]) {
      expect(hex(scrypt(password, salt, cost, 32))).toBe(hex(await nodeKey(password, salt, cost, 32)));
    }
  });

  it("derives past the 255 blocks workerd's PBKDF2 stops at (128·r·p over 8160 bytes)", async () => {
    // OWASP's N=8192, r=8, p=10 asks PBKDF2 for 10 KiB; here r·p = 80 at a smaller N.
    const cost = { N: 64, r: 8, p: 10 };
    expect(128 * cost.r * cost.p).toBeGreaterThan(255 * 32);
    const password = utf8("long block");
    const salt = utf8("salt");
    expect(hex(scrypt(password, salt, cost, 64))).toBe(hex(await nodeKey(password, salt, cost, 64)));
  });

  it("refuses parameters scrypt does not define, before any work", () => {
    const refused: Array<[ScryptCost, number]> = [
      [{ N: 1, r: 1, p: 1 }, 32],
      [{ N: 1000, r: 1, p: 1 }, 32],
      [{ N: 16, r: 0, p: 1 }, 32],
      [{ N: 16, r: 1, p: 0 }, 32],
      [{ N: 16, r: 1.5, p: 1 }, 32],
      [{ N: 16, r: 1, p: 1 }, 0],
      [{ N: 2 ** 24, r: 64, p: 1 }, 32],
    ];
    for (const [cost, keyLength] of refused) {
      expect(() => scrypt(utf8("p"), utf8("s"), cost, keyLength)).toThrow(RangeError);
    }
  });
});
