/**
 * Password hashing with scrypt from node:crypto (native in workerd under
 * nodejs_compat, and in Node for the seed script). Hashes carry their parameters
 * (`scrypt$N=16384,r=8,p=5$<salt>$<hash>`), so the parameters can be raised
 * later and old hashes upgraded at the next successful login.
 *
 * This file must stay free of relative imports: scripts/ run it directly in Node.
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

export type ScryptParams = { N: number; r: number; p: number };

/** OWASP's scrypt setting (N=2^14, r=8, p=5): 16 MiB and ~50 ms a hash. */
export const CURRENT_PARAMS: ScryptParams = { N: 2 ** 14, r: 8, p: 5 };

/** Deployed Workers refuse scrypt when N*r*p exceeds 2^20 (local workerd does not), see ARCHITECTURE.md. */
export const PRODUCTION_SCRYPT_COST_CAP = 2 ** 20;

const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

function derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize("NFKC"),
      salt,
      KEY_LENGTH,
      { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r },
      (error, key) => (error ? reject(error) : resolve(key)),
    );
  });
}

export async function hashPassword(password: string, params: ScryptParams = CURRENT_PARAMS): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await derive(password, salt, params);
  return `scrypt$N=${params.N},r=${params.r},p=${params.p}$${salt.toString("base64")}$${key.toString("base64")}`;
}

type ParsedHash = { params: ScryptParams; salt: Buffer; key: Buffer };

export function parsePasswordHash(stored: string): ParsedHash | null {
  const match = /^scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(stored);
  if (!match) return null;
  const [, N, r, p, salt, key] = match as unknown as [string, string, string, string, string, string];
  return {
    params: { N: Number(N), r: Number(r), p: Number(p) },
    salt: Buffer.from(salt, "base64"),
    key: Buffer.from(key, "base64"),
  };
}

/** A fixed hash to verify against when the account does not exist, so both paths cost one scrypt. */
const DUMMY_HASH =
  "scrypt$N=16384,r=8,p=5$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

export type VerifyResult = { valid: boolean; needsRehash: boolean };

/**
 * Password checks this isolate has run (each one scrypt). Throttling is meant to refuse
 * before this work: the tests and the benchmark read it to show a refused attempt cost no hash.
 */
export const passwordCheckCount = { value: 0 };

/**
 * Checks `password` against `stored` (or against a dummy hash when `stored` is
 * null, so an unknown account takes as long as a known one).
 */
export async function verifyPassword(password: string, stored: string | null): Promise<VerifyResult> {
  passwordCheckCount.value += 1;
  const parsed = parsePasswordHash(stored ?? DUMMY_HASH) ?? (parsePasswordHash(DUMMY_HASH) as ParsedHash);
  const key = await derive(password, parsed.salt, parsed.params);
  const valid = stored !== null && key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
  const needsRehash =
    valid &&
    (parsed.params.N !== CURRENT_PARAMS.N ||
      parsed.params.r !== CURRENT_PARAMS.r ||
      parsed.params.p !== CURRENT_PARAMS.p);
  return { valid, needsRehash };
}
