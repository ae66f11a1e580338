/**
 * The step between a first factor and a session for an account with a second factor:
 * the first factor's sign-in answers `{ mfa_required: true, mfa_token, methods }`
 * instead of tokens, and POST /auth/mfa/verify finishes it. The mfa_token lives five
 * minutes, allows five tries and is spent by the try that succeeds; only its SHA-256
 * is stored. It carries how the first factor was proven, so the session's `amr` says
 * both (e.g. `["pwd", "otp", "mfa"]`).
 */
import { and, eq, gt, isNull, lt, sql } from "drizzle-orm";
import { type MfaChallenge, mfaChallenges, type User } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { randomToken, sha256Hex } from "../../lib/crypto";
import { uuidv7 } from "../../lib/ids";
import { ProblemError } from "../../lib/problem";
import type { SecondFactorMethod } from "./mfa-factors";

export const MFA_TOKEN_TTL_MS = 5 * 60 * 1000;
export const MFA_MAX_ATTEMPTS = 5;

/** What a sign-in answers instead of tokens when a second factor is still owed. */
export type MfaRequired = {
  mfaRequired: true;
  mfaToken: string;
  methods: SecondFactorMethod[];
  expiresIn: number;
};

export const invalidMfaToken = () =>
  new ProblemError({
    status: 401,
    code: "invalid_mfa_token",
    detail: "This mfa_token is unknown, expired, already used or out of tries: sign in again for a new one.",
  });

/** How the first factor was proven (a sign-in proof's method and `amr`). */
export type FirstFactor = { method: string; amr: string[] };

export async function startMfaChallenge(
  ctx: ServiceContext,
  user: User,
  proof: FirstFactor,
  methods: SecondFactorMethod[],
  now = Date.now(),
): Promise<MfaRequired> {
  const token = `mfa_${randomToken()}`;
  await ctx.db.insert(mfaChallenges).values({
    id: uuidv7(now),
    userId: user.id,
    tokenHash: await sha256Hex(token),
    firstFactor: { method: proof.method, amr: proof.amr },
    expiresAt: new Date(now + MFA_TOKEN_TTL_MS),
    createdAt: new Date(now),
  });
  ctx.logger.info("second factor required", { user_id: user.id, first_factor: proof.method });
  return { mfaRequired: true, mfaToken: token, methods, expiresIn: MFA_TOKEN_TTL_MS / 1000 };
}

/**
 * Takes one try of the challenge behind `token` (a conditional UPDATE, so concurrent
 * guesses cannot exceed the five), and runs `check` with it. When the check passes the
 * challenge is spent, again conditionally: of two right answers at once, one wins.
 * Returns the spent challenge, or throws 401 `invalid_mfa_token` / whatever `check`
 * throws for a wrong answer.
 */
export async function attemptMfaChallenge(
  ctx: ServiceContext,
  token: string,
  check: (challenge: MfaChallenge) => Promise<boolean>,
  wrongAnswer: () => ProblemError,
  now = Date.now(),
): Promise<MfaChallenge> {
  const tokenHash = await sha256Hex(token);
  const live = and(
    eq(mfaChallenges.tokenHash, tokenHash),
    isNull(mfaChallenges.usedAt),
    gt(mfaChallenges.expiresAt, new Date(now)),
  );
  const [challenge] = await ctx.db
    .update(mfaChallenges)
    .set({ attempts: sql`${mfaChallenges.attempts} + 1` })
    .where(and(live, lt(mfaChallenges.attempts, MFA_MAX_ATTEMPTS)))
    .returning();
  if (!challenge) throw invalidMfaToken();
  if (!(await check(challenge))) {
    ctx.logger.warn("wrong second factor", { user_id: challenge.userId, attempts: challenge.attempts });
    throw wrongAnswer();
  }
  const [spent] = await ctx.db
    .update(mfaChallenges)
    .set({ usedAt: new Date(now) })
    .where(and(eq(mfaChallenges.id, challenge.id), isNull(mfaChallenges.usedAt)))
    .returning();
  if (!spent) throw invalidMfaToken();
  return spent;
}
