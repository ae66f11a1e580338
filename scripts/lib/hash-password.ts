/**
 * Password hashes for the seed scripts, in Node: the Worker's own hashing
 * (src/lib/password-hashing.ts) over the same WebAssembly scrypt, whose module Node compiles from
 * the committed file (a Worker imports it; Node cannot import a .wasm file as a module).
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { hashPasswordWith, type ScryptParams } from "../../src/lib/password-hashing.ts";
import { createScrypt } from "../../src/lib/scrypt/scrypt.ts";

const romixPath = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "src",
  "lib",
  "scrypt",
  "romix.wasm",
);
const scrypt = createScrypt(new WebAssembly.Module(readFileSync(romixPath)));

export function hashPassword(password: string, params?: ScryptParams): Promise<string> {
  return hashPasswordWith(scrypt, password, params);
}
