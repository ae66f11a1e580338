/**
 * The state a WebAuthn ceremony keeps between its two requests: the challenge the
 * options route handed out (spent once by the verify route, whatever the outcome),
 * and the user handle every passkey of an account is created under.
 */
import { and, eq, type SQL } from "drizzle-orm";
import {
  type PasskeyChallenge,
  type PasskeyChallengePurpose,
  passkeyChallenges,
  passkeyUserHandles,
} from "../../../db/schema";
import type { ServiceContext } from "../../../lib/context";
import { randomToken } from "../../../lib/crypto";
import { uuidv7 } from "../../../lib/ids";

/** How long a ceremony may take, from options to verify: the options' `timeout` too. */
export const CHALLENGE_TTL_MS = 5 * 60_000;

export async function issueChallenge(
  ctx: ServiceContext,
  input: {
    purpose: PasskeyChallengePurpose;
    /** base64url, as the options carry it. */
    challenge: string;
    userId: string | null;
    allowCredentials: string[] | null;
  },
  now = Date.now(),
): Promise<PasskeyChallenge> {
  const [row] = await ctx.db
    .insert(passkeyChallenges)
    .values({
      id: uuidv7(now),
      challenge: input.challenge,
      purpose: input.purpose,
      userId: input.userId,
      allowCredentials: input.allowCredentials,
      expiresAt: new Date(now + CHALLENGE_TTL_MS),
      createdAt: new Date(now),
    })
    .returning();
  if (!row) throw new Error("issueChallenge: the insert returned no row");
  return row;
}

/**
 * Spends the challenge `which` names (a DELETE … RETURNING: of two requests presenting
 * it, exactly one gets the row). An expired row is spent too, and answers undefined
 * like an unknown one.
 */
export async function spendChallenge(
  ctx: ServiceContext,
  purpose: PasskeyChallengePurpose,
  which: SQL,
  now = Date.now(),
): Promise<PasskeyChallenge | undefined> {
  const [row] = await ctx.db
    .delete(passkeyChallenges)
    .where(and(eq(passkeyChallenges.purpose, purpose), which))
    .returning();
  return row && row.expiresAt.getTime() > now ? row : undefined;
}

/**
 * The account's WebAuthn user handle, created on its first passkey registration:
 * 32 random bytes (base64url) that say nothing about the person. Two first
 * registrations racing agree on one handle (insert-if-absent, then read).
 */
export async function userHandleFor(ctx: ServiceContext, userId: string): Promise<string> {
  const [, [row]] = await ctx.db.batch([
    ctx.db
      .insert(passkeyUserHandles)
      .values({ userId, handle: randomToken(32) })
      .onConflictDoNothing({ target: passkeyUserHandles.userId }),
    ctx.db.select().from(passkeyUserHandles).where(eq(passkeyUserHandles.userId, userId)),
  ]);
  if (!row) throw new Error("userHandleFor: no handle after insert");
  return row.handle;
}
