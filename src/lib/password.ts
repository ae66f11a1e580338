/**
 * The Worker's password hashing: src/lib/password-hashing.ts over scrypt in WebAssembly
 * (src/lib/scrypt/), which derives the same keys as node:crypto's at about two thirds of its
 * CPU. Services import hashPassword and verifyPassword from here.
 */
import {
  hashPasswordWith,
  type ScryptParams,
  type VerifyResult,
  verifyPasswordWith,
} from "./password-hashing";
import romix from "./scrypt/romix.wasm";
import { createScrypt } from "./scrypt/scrypt";

const scrypt = createScrypt(romix);

export function hashPassword(password: string, params?: ScryptParams): Promise<string> {
  return hashPasswordWith(scrypt, password, params);
}

/** verifyPasswordWith (src/lib/password-hashing.ts) with the Worker's scrypt. */
export function verifyPassword(
  password: string,
  stored: string | null,
  params?: ScryptParams,
): Promise<VerifyResult> {
  return verifyPasswordWith(scrypt, password, stored, params);
}
