/**
 * The one place a session is opened. Every sign-in method (password, magic code or
 * link, an identity provider, and the passkey sign-in to come) proves something, then calls
 * `openSession`, so the rules live once:
 *
 * 1. a disabled account is refused (403 `account_disabled`), whatever the method;
 * 2. a proof of the mailbox that does not start from the account's own password
 *    claims a never-verified account (accounts.ts → claimAccount);
 * 3. an account with a second factor gets no session from a first factor alone: the
 *    answer is an mfa_token (mfa-challenges.ts) that POST /auth/mfa/verify finishes,
 *    unless the proof already is multi-factor (a user-verified passkey, the verify
 *    itself);
 * 4. the session row records when and how the person authenticated (`auth_time`,
 *    `amr`), which every access token of the session carries;
 * 5. the sign-in hooks run (new-device alerts), except for an account created by
 *    this very sign-in (its registration hooks ran instead).
 */
import { eq } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { sessions, type User, users } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { problems } from "../../lib/problem";
import { claimAccount } from "./accounts";
import { type MfaRequired, startMfaChallenge } from "./mfa-challenges";
import { secondFactorMethods } from "./mfa-factors";
import { issueTokens, prepareSession, type TokenPair } from "./sessions.service";
import { trustSignInClient } from "./sign-in-throttle";

/** RFC 8176 authentication method references the platform issues. */
export type AuthenticationMethod = "pwd" | "email" | "otp" | "mfa" | "fed" | "hwk" | "swk";

export type SignInMethod = "password" | "magic_code" | "provider" | "passkey";

/** What a sign-in proved, as the method that checked it reports it. */
export type SignInProof = {
  method: SignInMethod;
  amr: AuthenticationMethod[];
  /**
   * True when the proof is control of the mailbox by a channel that does not start
   * from the account's password (a magic code or link, a provider's verified email:
   * identity-providers/provider-sign-in.service.ts → providerProof).
   */
  provesEmail: boolean;
  /**
   * True when the proof is already more than one factor (a user-verified passkey: something
   * held plus a PIN or biometric), so no second-factor step follows it.
   */
  satisfiesMfa?: boolean;
};

export const PASSWORD_PROOF: SignInProof = { method: "password", amr: ["pwd"], provesEmail: false };
export const MAGIC_CODE_PROOF: SignInProof = { method: "magic_code", amr: ["email"], provesEmail: true };

export type SignedIn = { user: User; tokens: TokenPair; isNewUser: boolean };

/** A sign-in's outcome: a session, or the second factor it still needs. */
export type SignInOutcome = SignedIn | MfaRequired;

export function needsSecondFactor(outcome: SignInOutcome): outcome is MfaRequired {
  return "mfaRequired" in outcome;
}

/**
 * For sign-ins that cannot meet a second factor (an account created by this very
 * request has none): the session, or an error if that ever stops being true.
 */
export function sessionOf(outcome: SignInOutcome): SignedIn {
  if (needsSecondFactor(outcome)) throw new Error("a new account asked for a second factor");
  return outcome;
}

/** What a sign-in hook is told: the account, the session just opened, how, and when. */
export type SignInFacts = { user: User; sessionId: string; method: SignInMethod; at: number };

/**
 * Work that follows a sign-in to an existing account once its session is written, e.g. the
 * new-device alert. Listed in the wiring (src/modules/wiring.ts). `read`, when a hook has
 * one, is a query run in the same D1 batch that writes the session, so what the hook needs
 * to know costs no round trip of its own; `run` gets its rows. A failing read fails the
 * batch, and so the sign-in: keep it a plain read of our own tables, and let `run` be the
 * part that may fail quietly.
 */
export type SignInHook = {
  read?: (ctx: ServiceContext, signIn: SignInFacts) => BatchItem<"sqlite">;
  run: (ctx: ServiceContext, signIn: SignInFacts, rows: unknown) => Promise<void>;
};

/** A SignInHook whose `run` is typed by its `read`'s rows (the registry holds them untyped). */
export function defineSignInHook<Read extends BatchItem<"sqlite">>(hook: {
  read: (ctx: ServiceContext, signIn: SignInFacts) => Read;
  run: (ctx: ServiceContext, signIn: SignInFacts, rows: Awaited<Read>) => Promise<void>;
}): SignInHook {
  return hook as SignInHook;
}

export const signInHooks: SignInHook[] = [];

export const accountDisabled = () =>
  problems.forbidden("This account has been disabled.", "account_disabled");

export type OpenSessionOptions = {
  now?: number;
  /** The account was created by this sign-in: registration hooks ran, sign-in hooks do not. */
  newAccount?: boolean;
  /** A fresh hash of the password just checked, when the stored one used older parameters. */
  upgradedPasswordHash?: string;
  /**
   * Whether the account has a confirmed authenticator app, when the read that found it said so
   * (mfa-factors.ts → hasConfirmedTotpColumn): `false` spares the second-factor read.
   */
  hasConfirmedTotp?: boolean;
};

/** Opens a session for `user` after `proof`, with every rule above; returns the token pair or the MFA step. */
export async function openSession(
  ctx: ServiceContext,
  user: User,
  proof: SignInProof,
  options: OpenSessionOptions = {},
): Promise<SignInOutcome> {
  const now = options.now ?? Date.now();
  if (!user.isActive) throw accountDisabled();
  // A claim drops whatever second factor a squatter enrolled, so it comes before the MFA step.
  const account = proof.provesEmail ? await claimAccount(ctx, user, now) : user;

  if (!proof.satisfiesMfa) {
    // Without an authenticator app an account has no second factor (secondFactorMethods).
    const methods = options.hasConfirmedTotp === false ? [] : await secondFactorMethods(ctx, account.id);
    if (methods.length > 0) {
      if (options.upgradedPasswordHash) {
        await ctx.db
          .update(users)
          .set({ passwordHash: options.upgradedPasswordHash })
          .where(eq(users.id, account.id));
      }
      return startMfaChallenge(ctx, account, proof, methods, now);
    }
  }

  const { row, refreshToken } = await prepareSession(ctx, account.id, now, { authTime: now, amr: proof.amr });
  const changes: Partial<typeof users.$inferInsert> = { lastLoginAt: new Date(now) };
  if (options.upgradedPasswordHash) changes.passwordHash = options.upgradedPasswordHash;
  const facts: SignInFacts = { user: account, sessionId: row.id, method: proof.method, at: now };
  const hooks = options.newAccount ? [] : signInHooks;
  // The hooks' reads ride in the session's batch, after its writes (one round trip in all).
  const reads = hooks.flatMap((hook) => (hook.read ? [hook.read(ctx, facts)] : []));
  const [, [updated], ...readRows] = await ctx.db.batch([
    ctx.db.insert(sessions).values(row),
    ctx.db.update(users).set(changes).where(eq(users.id, account.id)).returning(),
    ...reads,
  ]);
  const signedIn = updated ?? account;

  let nextRead = 0;
  for (const hook of hooks) {
    const rows = hook.read ? readRows[nextRead++] : undefined;
    await hook.run(ctx, { ...facts, user: signedIn }, rows);
  }
  // A password sign-in already trusted its client through the throttle; other proofs do it here.
  if (proof.method !== "password") await trustSignInClient(ctx, signedIn.id, now);
  const session = {
    id: row.id,
    createdAt: row.createdAt as Date,
    authTime: row.authTime ?? null,
    amr: row.amr ?? [],
  };
  return {
    user: signedIn,
    tokens: await issueTokens(ctx, { user: signedIn, session, refreshToken }, now),
    isNewUser: options.newAccount ?? false,
  };
}
