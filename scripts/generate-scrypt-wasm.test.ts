/**
 * The committed src/lib/scrypt/romix.wasm is what scripts/generate-scrypt-wasm.ts compiles
 * (edit the generator, then `npm run build:scrypt-wasm`), and Node derives RFC 7914's keys with it
 * (the seed scripts hash passwords with it: scripts/lib/hash-password.ts).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createScrypt } from "../src/lib/scrypt/scrypt.ts";
import { compileRomix, ROMIX_WASM_PATH } from "./generate-scrypt-wasm.ts";

describe("romix.wasm", () => {
  it("is what its generator compiles, byte for byte", async () => {
    expect(Buffer.from(await compileRomix()).equals(readFileSync(ROMIX_WASM_PATH))).toBe(true);
  });

  it("derives RFC 7914's key in Node too", () => {
    const scrypt = createScrypt(new WebAssembly.Module(readFileSync(ROMIX_WASM_PATH)));
    const utf8 = new TextEncoder();
    const key = scrypt(utf8.encode("password"), utf8.encode("NaCl"), { N: 1024, r: 8, p: 16 }, 64);
    expect(Buffer.from(key).toString("hex")).toBe(
      "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640",
    );
  });
});
