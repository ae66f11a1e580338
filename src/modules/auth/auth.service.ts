/**
 * Sign-up, sign-in, refresh, sign-out, password change and token checks. Every
 * verb takes the ServiceContext first; none knows about HTTP.
 */
import { eq } from "drizzle-orm";
import { sessions, type User, users } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { uuidv7 } from "../../lib/ids";
import {
  type AccessTokenClaims,
  getKeyRing,
  InvalidTokenError,
  type PublicJwk,
  publicJwks,
  verifyAccessToken,
} from "../../lib/jwt";
import { hashPassword, verifyPassword } from "../../lib/password";
import { ProblemError, problems } from "../../lib/problem";
import {
  currentUser,
  emailTaken,
  findUserByEmail,
  findUserById,
  findUserByUsername,
  uniqueViolation,
  usernameTaken,
} from "../users/users.service";
import type { LoginInput, PasswordChangeInput, RegisterInput } from "./auth.schemas";
import { assertNotLocked, clearFailures, recordFailure, throttleKeys } from "./login-throttle";
import { passwordPolicyProblem } from "./password-policy";
import {
  findSessionByRefreshToken,
  isSessionRevoked,
  issueTokens,
  prepareSession,
  refreshSession,
  revokeSession,
  revokeUserSessions,
  type TokenPair,
} from "./sessions.service";

export type SignedIn = { user: User; tokens: TokenPair };

/**
 * Work that follows a sign-up (a personal organization, the verification email):
 * each later module registers one line here. Runs after the account and its first
 * session are written, before the tokens are answered.
 */
export type RegistrationHook = (ctx: ServiceContext, user: User) => Promise<void>;
export const registrationHooks: RegistrationHook[] = [];

/**
 * Work that follows a sign-in to an existing account (password or magic code) once its
 * session is written, e.g. the new-device alert. Registration is not a sign-in here.
 */
export type SignInHook = (
  ctx: ServiceContext,
  signIn: { user: User; sessionId: string; method: "password" | "magic_code"; at: number },
) => Promise<void>;
export const signInHooks: SignInHook[] = [];

const invalidCredentials = () =>
  new ProblemError({
    status: 401,
    code: "invalid_credentials",
    detail: "The email/username or password is not correct.",
    // Credentials in a body, not an HTTP auth scheme: no WWW-Authenticate challenge applies.
  });

function assertPasswordPolicy(password: string, account: { email: string; username?: string | null }): void {
  const problem = passwordPolicyProblem(password, account);
  if (problem) {
    throw problems.validation(
      [{ pointer: "/password", detail: problem }],
      "The password does not meet the policy.",
    );
  }
}

export async function register(ctx: ServiceContext, input: RegisterInput): Promise<SignedIn> {
  assertPasswordPolicy(input.password, { email: input.email, username: input.username });
  if (await findUserByEmail(ctx, input.email)) throw emailTaken();
  if (input.username && (await findUserByUsername(ctx, input.username))) throw usernameTaken();

  const passwordHash = await hashPassword(input.password);
  const now = Date.now();
  const userId = uuidv7(now);
  const { row, refreshToken } = await prepareSession(ctx, userId, now);
  let user: User | undefined;
  try {
    const [created] = await ctx.db.batch([
      ctx.db
        .insert(users)
        .values({
          id: userId,
          email: input.email,
          username: input.username ?? null,
          firstName: input.first_name ?? "",
          lastName: input.last_name ?? "",
          passwordHash,
          lastLoginAt: new Date(now),
          createdAt: new Date(now),
          updatedAt: new Date(now),
        })
        .returning(),
      ctx.db.insert(sessions).values(row),
    ]);
    user = created[0];
  } catch (error) {
    // Two sign-ups racing for one address or username: the unique index decides.
    const field = uniqueViolation(error);
    if (field === "email") throw emailTaken();
    if (field === "username") throw usernameTaken();
    throw error;
  }
  if (!user) throw new Error("register: the insert returned no row");
  for (const hook of registrationHooks) await hook(ctx, user);
  return { user, tokens: await issueTokens(ctx, { user, sessionId: row.id, refreshToken }, now) };
}

/**
 * Password sign-in. The account is looked up first so both the throttle and the
 * cost are the same whether it exists or not: one KV read, one scrypt.
 */
export async function login(ctx: ServiceContext, input: LoginInput): Promise<SignedIn> {
  const now = Date.now();
  const user =
    input.email !== undefined
      ? await findUserByEmail(ctx, input.email)
      : await findUserByUsername(ctx, input.username ?? "");
  const keys = await throttleKeys(
    ctx,
    user ? { userId: user.id } : { identifier: input.email ?? `username:${input.username ?? ""}` },
  );
  await assertNotLocked(ctx, keys, now);

  const { valid, needsRehash } = await verifyPassword(input.password, user?.passwordHash ?? null);
  if (!user || !valid) {
    await recordFailure(ctx, keys, now);
    throw invalidCredentials();
  }
  if (!user.isActive) {
    // Said only to someone who knows the password.
    throw problems.forbidden("This account has been disabled.", "account_disabled");
  }
  await clearFailures(ctx, keys);

  const { row, refreshToken } = await prepareSession(ctx, user.id, now);
  const changes: Partial<typeof users.$inferInsert> = { lastLoginAt: new Date(now) };
  // Hashes made with older parameters are upgraded while the plain password is at hand.
  if (needsRehash) changes.passwordHash = await hashPassword(input.password);
  const [, [updated]] = await ctx.db.batch([
    ctx.db.insert(sessions).values(row),
    ctx.db.update(users).set(changes).where(eq(users.id, user.id)).returning(),
  ]);
  const signedIn = updated ?? user;
  for (const hook of signInHooks)
    await hook(ctx, { user: signedIn, sessionId: row.id, method: "password", at: now });
  return {
    user: signedIn,
    tokens: await issueTokens(ctx, { user: signedIn, sessionId: row.id, refreshToken }, now),
  };
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
  return refreshSession(ctx, refreshToken);
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
  const keys = await throttleKeys(ctx, { userId: user.id });
  await assertNotLocked(ctx, keys);
  const { valid } = await verifyPassword(input.current_password, user.passwordHash);
  if (!valid) {
    await recordFailure(ctx, keys);
    throw problems.validation(
      [{ pointer: "/current_password", detail: "This is not your current password." }],
      "The current password is not correct.",
    );
  }
  assertPasswordPolicy(input.password, { email: user.email, username: user.username });
  await clearFailures(ctx, keys);
  const passwordHash = await hashPassword(input.password);
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
