/**
 * Password hashes: their stored form, their parameters, hashing and checking, given a scrypt
 * (src/lib/password.ts binds the Worker's, WebAssembly; scripts/lib/hash-password.ts the seed
 * scripts'). Hashes carry their parameters (`scrypt$N=16384,r=8,p=5$<salt>$<hash>`, the key
 * length is the decoded hash's), so the parameters can change at any time: every stored hash
 * keeps verifying with its own, and a weaker one is upgraded at the next successful sign-in.
 *
 * The parameters are a setting (PASSWORD_HASH_PARAMS, parsed by `parseScryptParams`);
 * the default is OWASP's. Callers pass `ctx.config.PASSWORD_HASH_PARAMS`.
 *
 * This file must stay free of relative imports other than types: scripts/ run it directly in Node.
 */
import { Buffer } from "node:buffer";
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { Scrypt } from "./scrypt/scrypt";

export type ScryptParams = {
  N: number;
  r: number;
  p: number;
  /** Bytes of derived key for new hashes (verification uses the stored hash's length). */
  keyLength: number;
};

/** OWASP's scrypt setting (N=2^14, r=8, p=5): 16 MiB a hash, 32-byte keys. */
export const DEFAULT_PARAMS: ScryptParams = { N: 2 ** 14, r: 8, p: 5, keyLength: 32 };

/**
 * The most CPU work accepted: past it a hash takes over a quarter of a second of CPU. (Deployed
 * Workers also refuse node:crypto's scrypt past it, see ARCHITECTURE.md; ours runs in WebAssembly.)
 */
export const PRODUCTION_SCRYPT_COST_CAP = 2 ** 20;

/**
 * The weakest setting accepted: CPU work N*r*p of 2^18, Better Auth's default (N=16384, r=16, p=1).
 * OWASP's table starts at 655,360 (2.5 times more); below this floor a stolen hash is cheap to attack.
 */
export const MIN_SCRYPT_WORK = 2 ** 18;

/** Memory scrypt uses is 128*N*r bytes; an isolate has 128 MiB in all. */
const MAX_SCRYPT_MEMORY = 64 * 1024 ** 2;

const SALT_LENGTH = 16;
const MIN_KEY_LENGTH = 16;
const MAX_KEY_LENGTH = 64;

/**
 * Parses `N=16384,r=8,p=5` (optionally `,keyLength=64`): the PASSWORD_HASH_PARAMS syntax, the same
 * as a stored hash's parameter segment. Answers the parameters, or why they are refused.
 */
export function parseScryptParams(text: string): ScryptParams | string {
  const match = /^N=(\d{1,8}),r=(\d{1,3}),p=(\d{1,3})(?:,keyLength=(\d{1,3}))?$/.exec(
    text.replace(/\s+/g, ""),
  );
  if (!match) return "must look like N=16384,r=8,p=5 (optionally ,keyLength=32)";
  const params: ScryptParams = {
    N: Number(match[1]),
    r: Number(match[2]),
    p: Number(match[3]),
    keyLength: match[4] === undefined ? DEFAULT_PARAMS.keyLength : Number(match[4]),
  };
  const { N, r, p, keyLength } = params;
  if (N < 2 ** 13 || (N & (N - 1)) !== 0) return "N must be a power of two, at least 8192";
  if (r < 1 || p < 1) return "r and p must be at least 1";
  if (N * r * p > PRODUCTION_SCRYPT_COST_CAP)
    return `N*r*p is ${N * r * p}: at most ${PRODUCTION_SCRYPT_COST_CAP} (more is over a quarter of a second of CPU a hash)`;
  if (N * r * p < MIN_SCRYPT_WORK)
    return `N*r*p is ${N * r * p}: at least ${MIN_SCRYPT_WORK} (N=16384,r=16,p=1); OWASP's N=16384,r=8,p=5 is the default`;
  if (128 * N * r > MAX_SCRYPT_MEMORY) return "128*N*r bytes of memory must stay within 64 MiB";
  if (keyLength < MIN_KEY_LENGTH || keyLength > MAX_KEY_LENGTH)
    return `keyLength must be ${MIN_KEY_LENGTH} to ${MAX_KEY_LENGTH} bytes`;
  return params;
}

/** What a password becomes before hashing: NFKC, so every way of typing the same text derives the same key. */
const utf8 = new TextEncoder();
function passwordBytes(password: string): Uint8Array {
  return utf8.encode(password.normalize("NFKC"));
}

export async function hashPasswordWith(
  scrypt: Scrypt,
  password: string,
  params: ScryptParams = DEFAULT_PARAMS,
): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = Buffer.from(scrypt(passwordBytes(password), salt, params, params.keyLength));
  return `scrypt$N=${params.N},r=${params.r},p=${params.p}$${salt.toString("base64")}$${key.toString("base64")}`;
}

type ParsedHash = { params: Pick<ScryptParams, "N" | "r" | "p">; salt: Buffer; key: Buffer };

export function parsePasswordHash(stored: string): ParsedHash | null {
  const match = /^scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(stored);
  if (!match) return null;
  const [, N, r, p, salt, key] = match as unknown as [string, string, string, string, string, string];
  const parsed = {
    params: { N: Number(N), r: Number(r), p: Number(p) },
    salt: Buffer.from(salt, "base64"),
    key: Buffer.from(key, "base64"),
  };
  return parsed.key.length >= MIN_KEY_LENGTH && parsed.key.length <= MAX_KEY_LENGTH ? parsed : null;
}

/**
 * A hash of nothing with the current parameters, verified against when the account does not
 * exist (or its hash is unreadable), so that path costs what a known account's sign-in costs.
 */
const dummyHashes = new Map<string, ParsedHash>();
function dummyHashFor(params: ScryptParams): ParsedHash {
  const id = `${params.N},${params.r},${params.p},${params.keyLength}`;
  let dummy = dummyHashes.get(id);
  if (!dummy) {
    const { N, r, p } = params;
    dummy = { params: { N, r, p }, salt: Buffer.alloc(SALT_LENGTH), key: Buffer.alloc(params.keyLength) };
    dummyHashes.set(id, dummy);
  }
  return dummy;
}

/**
 * A stored hash is upgraded when it is weaker than the current setting in CPU work (N*r*p) or in
 * memory (N*r). One at least as strong in both is kept: lowering the setting (to compare with another
 * system at its parameters, say) never quietly downgrades the hashes already stored.
 */
function weakerThan(stored: ParsedHash["params"], current: ScryptParams): boolean {
  return (
    stored.N * stored.r * stored.p < current.N * current.r * current.p ||
    stored.N * stored.r < current.N * current.r
  );
}

export type VerifyResult = { valid: boolean; needsRehash: boolean };

/**
 * Password checks this isolate has run (each one scrypt). Throttling is meant to refuse
 * before this work: the tests and the benchmark read it to show a refused attempt cost no hash.
 */
export const passwordCheckCount = { value: 0 };

/**
 * Checks `password` against `stored` (or against a dummy hash when `stored` is null or
 * unreadable, so an unknown account takes as long as a known one). `params` is the current
 * setting: what the dummy costs and what `needsRehash` compares with.
 */
export async function verifyPasswordWith(
  scrypt: Scrypt,
  password: string,
  stored: string | null,
  params: ScryptParams = DEFAULT_PARAMS,
): Promise<VerifyResult> {
  passwordCheckCount.value += 1;
  const readable = stored === null ? null : parsePasswordHash(stored);
  const parsed = readable ?? dummyHashFor(params);
  const key = scrypt(passwordBytes(password), parsed.salt, parsed.params, parsed.key.length);
  const valid = readable !== null && timingSafeEqual(key, parsed.key);
  return { valid, needsRehash: valid && weakerThan(parsed.params, params) };
}
