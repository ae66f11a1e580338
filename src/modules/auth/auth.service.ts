/**
 * Registration, password sign-in, refresh, sign-out, password change and token
 * checks. Every verb takes the ServiceContext first; none knows about HTTP. Sessions
 * are opened only through sign-in.ts (openSession), accounts created only through
 * accounts.ts (createAccount).
 */
import { eq, sql } from "drizzle-orm";
import { type User, users } from "../../db/schema";
import { sendEmail } from "../../email/send-email";
import type { ServiceContext } from "../../lib/context";
import {
  type AccessTokenClaims,
  getKeyRing,
  InvalidTokenError,
  loadedKeyRing,
  type PublicJwk,
  publicJwks,
  rememberedAccessToken,
  verifyAccessToken,
} from "../../lib/jwt";
import { serializeError } from "../../lib/logger";
import { hashPassword, verifyPassword } from "../../lib/password";
import { currentUser } from "../../lib/principal";
import { ProblemError, problems } from "../../lib/problem";
import {
  createAccount,
  emailTaken,
  findUserByEmail,
  findUserById,
  findUserByUsername,
  normalizeEmail,
  usernameTaken,
} from "./accounts";
import type { LoginInput, PasswordChangeInput, RegisterInput } from "./auth.schemas";
import { appBaseUrl, emailName } from "./email-links";
import { hasConfirmedTotpColumn } from "./mfa-factors";
import { passwordPolicyProblem } from "./password-policy";
import {
  findSessionByRefreshToken,
  isSessionRevoked,
  refreshSession,
  revokeSession,
  revokeUserSessions,
  sessionRevocationInMemory,
} from "./sessions.service";
import {
  accountDisabled,
  openSession,
  PASSWORD_PROOF,
  type SignedIn,
  type SignInOutcome,
  sessionOf,
} from "./sign-in";
import { beginPasswordCheck } from "./sign-in-throttle";

const invalidCredentials = () =>
  new ProblemError({
    status: 401,
    code: "invalid_credentials",
    detail: "The email/username or password is not correct.",
    // Credentials in a body, not an HTTP auth scheme: no WWW-Authenticate challenge applies.
  });

export const emailNotVerified = () =>
  problems.forbidden(
    "Confirm your email address first: use the link we emailed you, or sign in with an emailed code.",
    "email_not_verified",
  );

function assertPasswordPolicy(password: string, account: { email: string; username?: string | null }): void {
  const problem = passwordPolicyProblem(password, account);
  if (problem) {
    throw problems.validation(
      [{ pointer: "/password", detail: problem }],
      "The password does not meet the policy.",
    );
  }
}

export type Registration = { kind: "signed_in"; signedIn: SignedIn } | { kind: "verification_sent" };

/**
 * POST /auth/register. With AUTH_EMAIL_VERIFICATION=optional (the default) the
 * account is created and signed in (409 when the address is taken). With `required`
 * the answer is the same whether or not the address has an account, and no tokens
 * are issued before the address is proven.
 */
export async function register(ctx: ServiceContext, input: RegisterInput): Promise<Registration> {
  assertPasswordPolicy(input.password, { email: input.email, username: input.username });
  if (ctx.config.AUTH_EMAIL_VERIFICATION === "required") {
    await registerWithVerification(ctx, input);
    return { kind: "verification_sent" };
  }
  if (await findUserByEmail(ctx, input.email)) throw emailTaken();
  if (input.username && (await findUserByUsername(ctx, input.username))) throw usernameTaken();
  const now = Date.now();
  const user = await createAccount(
    ctx,
    {
      email: input.email,
      username: input.username,
      firstName: input.first_name,
      lastName: input.last_name,
      passwordHash: await hashPassword(input.password, ctx.config.PASSWORD_HASH_PARAMS),
      emailVerified: false,
    },
    now,
  );
  return {
    kind: "signed_in",
    signedIn: sessionOf(await openSession(ctx, user, PASSWORD_PROOF, { now, newAccount: true })),
  };
}

/**
 * Strict mode. The request path does the same work for a new and an existing address
 * (policy, username check, one scrypt) and returns; what depends on the address runs
 * after the response (`waitUntil`), so neither the answer nor its timing tells whether
 * the address has an account. A new address gets an unverified account and the
 * verification email; the owner of an existing account gets `account_exists` instead
 * (never a verification link for someone else's registration).
 */
async function registerWithVerification(ctx: ServiceContext, input: RegisterInput): Promise<void> {
  // Usernames are public handles, not the secret here: a taken one is said, as in optional mode.
  if (input.username && (await findUserByUsername(ctx, input.username))) throw usernameTaken();
  const passwordHash = await hashPassword(input.password, ctx.config.PASSWORD_HASH_PARAMS);
  ctx.waitUntil(
    completeRegistration(ctx, input, passwordHash).catch((error: unknown) => {
      ctx.logger.error("registration (verification required) failed after the answer", {
        error: serializeError(error),
      });
    }),
  );
}

/** The address-dependent half of a strict-mode registration. Exported for tests. */
export async function completeRegistration(
  ctx: ServiceContext,
  input: RegisterInput,
  passwordHash: string,
): Promise<"created" | "account_exists"> {
  const existing = await findUserByEmail(ctx, input.email);
  if (!existing) {
    try {
      await createAccount(ctx, {
        email: input.email,
        username: input.username,
        firstName: input.first_name,
        lastName: input.last_name,
        passwordHash,
        emailVerified: false,
      });
      return "created";
    } catch (error) {
      // Another registration of the address won the race: its owner is told, as below.
      if (!(error instanceof ProblemError && error.code === "email_taken")) throw error;
    }
  }
  const owner = existing ?? (await findUserByEmail(ctx, input.email));
  if (!owner) return "account_exists";
  const base = appBaseUrl(ctx);
  await sendEmail(ctx, {
    template: "account_exists",
    to: owner.email,
    data: {
      name: emailName(owner),
      sign_in_url: `${base}/sign-in`,
      reset_url: `${base}/forgot-password`,
    },
  });
  return "account_exists";
}

/**
 * The account a password sign-in names, by email or username, and whether it has a confirmed
 * authenticator app: one read (the sign-in's first, before the throttle and the hash).
 */
async function findPasswordAccount(
  ctx: ServiceContext,
  input: LoginInput,
): Promise<{ user: User; hasConfirmedTotp: boolean } | undefined> {
  const named =
    input.email !== undefined
      ? eq(users.email, normalizeEmail(input.email))
      : sql`lower(${users.username}) = ${(input.username ?? "").trim().toLowerCase()}`;
  const row = await ctx.db
    .select({ user: users, hasConfirmedTotp: hasConfirmedTotpColumn })
    .from(users)
    .where(named)
    .get();
  return row && { user: row.user, hasConfirmedTotp: Boolean(row.hasConfirmedTotp) };
}

/**
 * Password sign-in. The account is looked up first so the throttle and the cost are
 * the same whether it exists or not: the throttle's reservation (a Durable Object call),
 * then one scrypt, then its settlement; no scrypt at all for a client that is locked out.
 */
export async function login(ctx: ServiceContext, input: LoginInput): Promise<SignInOutcome> {
  const now = Date.now();
  const account = await findPasswordAccount(ctx, input);
  const user = account?.user;
  const check = await beginPasswordCheck(
    ctx,
    user ? { userId: user.id } : { identifier: input.email ?? `username:${input.username ?? ""}` },
    now,
  );
  const { valid, needsRehash } = await verifyPassword(
    input.password,
    user?.passwordHash ?? null,
    ctx.config.PASSWORD_HASH_PARAMS,
  );
  if (!user || !valid) {
    await check.failed();
    throw invalidCredentials();
  }
  await check.succeeded();
  // Said only to someone who knows the password.
  if (!user.isActive) throw accountDisabled();
  if (ctx.config.AUTH_EMAIL_VERIFICATION === "required" && user.emailVerifiedAt === null) {
    throw emailNotVerified();
  }
  return openSession(ctx, user, PASSWORD_PROOF, {
    now,
    hasConfirmedTotp: account?.hasConfirmedTotp,
    // Hashes made with older parameters are upgraded while the plain password is at hand.
    upgradedPasswordHash: needsRehash
      ? await hashPassword(input.password, ctx.config.PASSWORD_HASH_PARAMS)
      : undefined,
  });
}

export async function refresh(ctx: ServiceContext, refreshToken: string | undefined): Promise<SignedIn> {
  if (!refreshToken) {
    throw problems.validation(
      [
        {
          pointer: "/refresh_token",
          detail: "Send the refresh token in the body or the X-Refresh-Token header.",
        },
      ],
      "The refresh token is missing.",
    );
  }
  return { ...(await refreshSession(ctx, refreshToken)), isNewUser: false };
}

/**
 * Revokes the caller's current session, and the session of `refreshToken` when
 * one is given (so a client whose access token has expired can still sign out).
 * Returns false when there was nothing to identify a session by.
 */
export async function logout(ctx: ServiceContext, refreshToken: string | undefined): Promise<boolean> {
  const principal = ctx.principal.kind === "user" ? ctx.principal : null;
  let identified = false;
  if (principal) {
    await revokeSession(ctx, { userId: principal.userId, sessionId: principal.sessionId, reason: "logout" });
    identified = true;
  }
  if (refreshToken) {
    const session = await findSessionByRefreshToken(ctx, refreshToken);
    if (session && (!principal || session.userId === principal.userId)) {
      await revokeSession(ctx, { userId: session.userId, sessionId: session.id, reason: "logout" });
      identified = true;
    }
  }
  return identified;
}

export async function logoutAll(ctx: ServiceContext): Promise<number> {
  return revokeUserSessions(ctx, { userId: currentUser(ctx).userId, reason: "logout_all" });
}

/** Checks the current password (throttled like sign-in), sets the new one and revokes every other session. */
export async function changePassword(ctx: ServiceContext, input: PasswordChangeInput): Promise<void> {
  const principal = currentUser(ctx);
  const user = await findUserById(ctx, principal.userId);
  if (!user) throw problems.unauthorized("The account no longer exists.", "invalid_token");
  const check = await beginPasswordCheck(ctx, { userId: user.id });
  const { valid } = await verifyPassword(
    input.current_password,
    user.passwordHash,
    ctx.config.PASSWORD_HASH_PARAMS,
  );
  if (!valid) {
    await check.failed();
    throw problems.validation(
      [{ pointer: "/current_password", detail: "This is not your current password." }],
      "The current password is not correct.",
    );
  }
  await check.succeeded();
  assertPasswordPolicy(input.password, { email: user.email, username: user.username });
  const passwordHash = await hashPassword(input.password, ctx.config.PASSWORD_HASH_PARAMS);
  await ctx.db.update(users).set({ passwordHash, updatedAt: new Date() }).where(eq(users.id, user.id));
  await revokeUserSessions(ctx, {
    userId: user.id,
    reason: "password_changed",
    exceptSessionId: principal.sessionId,
  });
}

/**
 * A full access-token check: signature, algorithm, typ, issuer, audience, times,
 * then revocation of its session. Throws InvalidTokenError.
 */
export async function authenticateAccessToken(
  ctx: ServiceContext,
  token: string,
): Promise<AccessTokenClaims> {
  const ring = await getKeyRing(ctx.config.JWT_PRIVATE_KEYS);
  const claims = await verifyAccessToken(
    ring,
    { issuer: ctx.config.JWT_ISSUER, audience: ctx.config.JWT_AUDIENCE },
    token,
  );
  if (await isSessionRevoked(ctx, claims.sid)) {
    throw new InvalidTokenError("revoked", "The access token has been revoked.");
  }
  return claims;
}

/**
 * authenticateAccessToken's answer when this isolate can give it without waiting for anything:
 * the key ring already imported, this exact token verified before with the same settings, and
 * its session known not to be revoked. Undefined as soon as any of that is not known in memory,
 * refusals included: authenticateAccessToken then decides. Why: a busy session's requests are
 * answered from these memories, and each `await` on the way costs a turn of the promise queue.
 */
export function acceptedAccessTokenInMemory(
  ctx: ServiceContext,
  token: string,
  now = Date.now(),
): AccessTokenClaims | undefined {
  const ring = loadedKeyRing(ctx.config.JWT_PRIVATE_KEYS);
  if (!ring) return undefined;
  const settings = { issuer: ctx.config.JWT_ISSUER, audience: ctx.config.JWT_AUDIENCE };
  const claims = rememberedAccessToken(ring, settings, token, now);
  if (!claims) return undefined;
  return sessionRevocationInMemory(claims.sid, now) === false ? claims : undefined;
}

/** For POST /auth/token/verify: the claims, or a 401 problem. */
export async function verifyToken(ctx: ServiceContext, token: string): Promise<AccessTokenClaims> {
  try {
    return await authenticateAccessToken(ctx, token);
  } catch (error) {
    if (error instanceof InvalidTokenError) throw problems.unauthorized(error.detail, "invalid_token");
    throw error;
  }
}

export async function signingKeys(ctx: ServiceContext): Promise<{ keys: PublicJwk[] }> {
  return publicJwks(await getKeyRing(ctx.config.JWT_PRIVATE_KEYS));
}
