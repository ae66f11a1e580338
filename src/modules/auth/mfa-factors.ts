/**
 * An account's second factors as stored: the authenticator app (TOTP) and its recovery
 * codes. Every check here spends what it accepts with a conditional UPDATE, so of two
 * requests presenting the same code only one succeeds:
 *
 * - a TOTP code moves `last_used_step` forward to the step it matched, and only a later
 *   step is accepted after it (no replay within the code's window);
 * - a recovery code is marked used.
 */
import { and, count, eq, isNotNull, isNull, lt, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { mfaChallenges, recoveryCodes, type TotpFactor, totpFactors, users } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { randomBytes, sha256Hex } from "../../lib/crypto";
import { uuidv7 } from "../../lib/ids";
import { ProblemError } from "../../lib/problem";
import { open, seal } from "../../lib/secret-box";
import { audit } from "../audit/audit.service";
import { countPasskeys } from "./passkeys/passkey-count";
import { reportSignInMethodChange } from "./security-events";
import { beginPasswordCheck } from "./sign-in-throttle";
import { matchTotp } from "./totp";

export const RECOVERY_CODE_COUNT = 10;

/** What an account can finish a sign-in with, in the order a client should offer them. */
export type SecondFactorMethod = "totp" | "recovery_code" | "passkey";

export const mfaNotConfigured = () =>
  new ProblemError({
    status: 503,
    code: "mfa_not_configured",
    detail: "Authenticator apps are not available on this server (MFA_ENCRYPTION_KEY is not set).",
  });

function encryptionKey(ctx: ServiceContext): string {
  const key = ctx.config.MFA_ENCRYPTION_KEY;
  if (!key) throw mfaNotConfigured();
  return key;
}

export function sealTotpKey(ctx: ServiceContext, userId: string, key: Uint8Array): Promise<string> {
  return seal(encryptionKey(ctx), key, `totp:${userId}`);
}

async function openTotpKey(ctx: ServiceContext, factor: TotpFactor): Promise<Uint8Array | null> {
  const key = ctx.config.MFA_ENCRYPTION_KEY;
  if (!key) return null;
  const opened = await open(key, factor.secretCiphertext, `totp:${factor.userId}`);
  if (!opened)
    ctx.logger.error("a TOTP secret does not open under MFA_ENCRYPTION_KEY", { user_id: factor.userId });
  return opened;
}

export async function findTotpFactor(ctx: ServiceContext, userId: string): Promise<TotpFactor | undefined> {
  return ctx.db.select().from(totpFactors).where(eq(totpFactors.userId, userId)).get();
}

/** True when the account has a confirmed authenticator app: its sign-ins need a second factor. */
export async function hasConfirmedTotp(ctx: ServiceContext, userId: string): Promise<boolean> {
  const row = await ctx.db
    .select({ userId: totpFactors.userId })
    .from(totpFactors)
    .where(and(eq(totpFactors.userId, userId), isNotNull(totpFactors.confirmedAt)))
    .get();
  return row !== undefined;
}

/**
 * The same question as a column of a query on `users` (1 when the row's account has a confirmed
 * authenticator app), so a sign-in can read it with the account in one round trip. Columns are
 * named with their tables: drizzle leaves them bare in a one-table query, where the subquery's
 * `user_id = id` would compare totp_factors with itself.
 */
export const hasConfirmedTotpColumn = sql<number>`exists (select 1 from ${totpFactors} where ${totpFactors}.${sql.identifier(totpFactors.userId.name)} = ${users}.${sql.identifier(users.id.name)} and ${totpFactors}.${sql.identifier(totpFactors.confirmedAt.name)} is not null)`;

/**
 * The second factors that can finish a sign-in of this account; empty when it has
 * none (its sign-ins need one factor).
 */
export async function secondFactorMethods(
  ctx: ServiceContext,
  userId: string,
): Promise<SecondFactorMethod[]> {
  if (!(await hasConfirmedTotp(ctx, userId))) return [];
  // A passkey signs in on its own (it is multi-factor): offered as the other way to finish.
  return (await countPasskeys(ctx, userId)) > 0
    ? ["totp", "recovery_code", "passkey"]
    : ["totp", "recovery_code"];
}

export async function unusedRecoveryCodeCount(ctx: ServiceContext, userId: string): Promise<number> {
  const [row] = await ctx.db
    .select({ value: count() })
    .from(recoveryCodes)
    .where(and(eq(recoveryCodes.userId, userId), isNull(recoveryCodes.usedAt)));
  return row?.value ?? 0;
}

/**
 * Spends a TOTP code of `factor` (confirmed or pending) when it matches a step later
 * than the last one accepted; returns whether it did.
 */
export async function spendTotpCode(
  ctx: ServiceContext,
  factor: TotpFactor,
  code: string,
  now = Date.now(),
): Promise<boolean> {
  const key = await openTotpKey(ctx, factor);
  if (!key) return false;
  const step = matchTotp(key, code.replace(/\s+/g, ""), now, factor.lastUsedStep);
  if (step === null) return false;
  const [spent] = await ctx.db
    .update(totpFactors)
    .set({ lastUsedStep: step })
    .where(and(eq(totpFactors.userId, factor.userId), lt(totpFactors.lastUsedStep, step)))
    .returning({ userId: totpFactors.userId });
  return spent !== undefined;
}

/** Recovery codes are typed by people: case, spaces and dashes do not matter. */
export function normalizeRecoveryCode(code: string): string {
  return code.toLowerCase().replace(/[\s-]+/g, "");
}

const hashRecoveryCode = (userId: string, code: string) =>
  sha256Hex(`${userId}:${normalizeRecoveryCode(code)}`);

/** Spends one of the account's unused recovery codes; returns whether `code` was one. */
export async function spendRecoveryCode(
  ctx: ServiceContext,
  userId: string,
  code: string,
  now = Date.now(),
): Promise<boolean> {
  const codeHash = await hashRecoveryCode(userId, code);
  const [spent] = await ctx.db
    .update(recoveryCodes)
    .set({ usedAt: new Date(now) })
    .where(
      and(
        eq(recoveryCodes.userId, userId),
        eq(recoveryCodes.codeHash, codeHash),
        isNull(recoveryCodes.usedAt),
      ),
    )
    .returning({ id: recoveryCodes.id });
  return spent !== undefined;
}

const RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"; // no 0/o, 1/l/i: read aloud and typed from paper

/** `xxxxx-xxxxx`: 10 characters of a 31-letter alphabet, about 49 bits each. */
function newRecoveryCode(): string {
  let code = "";
  while (code.length < 10) {
    for (const byte of randomBytes(16)) {
      // 248 = 8 × 31: bytes above it are dropped so every character is equally likely.
      if (byte < 248 && code.length < 10) code += RECOVERY_ALPHABET[byte % RECOVERY_ALPHABET.length];
    }
  }
  return `${code.slice(0, 5)}-${code.slice(5)}`;
}

/**
 * A fresh set of recovery codes: the plain codes (shown once) and the statements that
 * replace the account's previous set, for the caller's batch.
 */
export async function newRecoveryCodeSet(
  ctx: ServiceContext,
  userId: string,
  now = Date.now(),
): Promise<{ codes: string[]; statements: BatchItem<"sqlite">[] }> {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
  const rows = await Promise.all(
    codes.map(async (code) => ({
      id: uuidv7(now),
      userId,
      codeHash: await hashRecoveryCode(userId, code),
      createdAt: new Date(now),
    })),
  );
  return {
    codes,
    statements: [
      ctx.db.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId)),
      ctx.db.insert(recoveryCodes).values(rows),
    ],
  };
}

/**
 * A claim step (listed in the wiring): a never-verified account is being claimed by the
 * owner of its address, so a second factor enrolled before that proof belongs to
 * whoever registered it, and would lock the owner out. Enrolment already needs a
 * verified address; this covers factors from before that rule.
 */
export const dropSecondFactorsOfClaimedAccount = async (ctx: ServiceContext, userId: string) => {
  const [first, ...rest] = removeSecondFactorStatements(ctx, userId);
  if (first) await ctx.db.batch([first, ...rest]);
};

/** Every second factor of the account, and the sign-ins waiting on one: for disabling and for a claim. */
export function removeSecondFactorStatements(ctx: ServiceContext, userId: string): BatchItem<"sqlite">[] {
  return [
    ctx.db.delete(totpFactors).where(eq(totpFactors.userId, userId)),
    ctx.db.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId)),
    ctx.db.delete(mfaChallenges).where(eq(mfaChallenges.userId, userId)),
  ];
}

/**
 * Checks a second-factor answer for `userId`: a TOTP code of its confirmed app, or one
 * of its recovery codes (spent, audited and reported). Wrong answers count in the
 * account's sign-in throttle like wrong passwords (5 per client per 15 minutes), so
 * asking for mfa_token after mfa_token does not multiply the guesses.
 */
export async function checkSecondFactor(
  ctx: ServiceContext,
  userId: string,
  answer: { code?: string; recovery_code?: string },
  now = Date.now(),
): Promise<"otp" | "recovery_code" | null> {
  const check = await beginPasswordCheck(ctx, { userId }, now);
  let used: "otp" | "recovery_code" | null = null;
  if (answer.code !== undefined) {
    const factor = await findTotpFactor(ctx, userId);
    if (factor?.confirmedAt && (await spendTotpCode(ctx, factor, answer.code, now))) used = "otp";
  } else if (answer.recovery_code !== undefined) {
    if (await spendRecoveryCode(ctx, userId, answer.recovery_code, now)) used = "recovery_code";
  }
  if (!used) {
    await check.failed();
    return null;
  }
  await check.succeeded();
  if (used === "recovery_code") {
    await audit(ctx, {
      action: "auth.recovery_code_used",
      target: { type: "user", id: userId },
      after: { recovery_codes_remaining: await unusedRecoveryCodeCount(ctx, userId) },
    });
    await reportSignInMethodChange(ctx, userId, "recovery_code_used", { now });
  }
  return used;
}
