/**
 * Sessions = logged-in devices. Each holds the SHA-256 of its current refresh
 * token; access tokens carry the session id (`sid`), so revoking the session
 * revokes every access token issued for it.
 *
 * Revocation is written in D1 (the truth, checked on refresh) and remembered in
 * AUTH_KV under `revoked:session:<id>` for as long as the session's newest access
 * token lives, plus in a small per-isolate set so the isolate that revoked a session
 * refuses its tokens at once, before KV has propagated anywhere. The auth middleware
 * asks `isSessionRevoked` on every request; KV's "not revoked" answer is trusted for
 * REVOCATION_RECHECK_MS per session and isolate, so a busy session costs one KV read
 * every few seconds instead of one per request (docs/auth.md → Sessions and revocation).
 */
import { and, eq, gt, isNull, ne, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import {
  type NewSession,
  type Session,
  sessions,
  spentRefreshTokens,
  type User,
  users,
} from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { randomToken, sha256Hex } from "../../lib/crypto";
import { ExpiringSet } from "../../lib/expiring-set";
import { uuidv7 } from "../../lib/ids";
import { getKeyRing, type SignedAccessToken, signAccessToken } from "../../lib/jwt";
import type { SortTerm } from "../../lib/list-query";
import { serializeError } from "../../lib/logger";
import { keysetPage, listPage, type Page } from "../../lib/pagination";
import { ProblemError, problems } from "../../lib/problem";
import { reportRefreshTokenReuse } from "./security-events";

/**
 * How long after a rotation the token it spent is answered 409 instead of being
 * treated as stolen: two refreshes fired at once by one client both present the
 * same token, and only one can win the conditional UPDATE.
 */
export const REFRESH_GRACE_MS = 10_000;
/** KV refuses expirationTtl under 60 s. */
export const KV_MIN_TTL_SECONDS = 60;
/** Revoked sessions stay a day (refresh answers "revoked", not "unknown"); expired ones go at once. */
export const REVOKED_SESSION_RETENTION_MS = 24 * 60 * 60 * 1000;

const REFRESH_TOKEN_PREFIX = "rt_";
const REVOKED_KEY_PREFIX = "revoked:session:";
/** Per-isolate memory of revocations; bounded so a burst of logouts cannot grow it without limit. */
const LOCAL_REVOCATION_LIMIT = 10_000;
/**
 * How long an isolate trusts KV's "this session is not revoked" before reading KV again. The
 * contract (API.md → Identity integrity): a revocation works in the revoking isolate at once and
 * everywhere within 60 s. The revoking isolate never relies on this (its own revocation set is
 * checked first and the answer is dropped); another isolate sees the revocation once KV shows it
 * there and this window has run out: KV's propagation plus at most 10 s. Shorter windows buy
 * little: a session busy enough to matter makes many requests in 10 s.
 */
export const REVOCATION_RECHECK_MS = 10_000;
/** Sessions whose "not revoked" answer an isolate keeps; the least recently read go first. */
export const NOT_REVOKED_ANSWERS_LIMIT = 10_000;

export type RevocationReason =
  | "logout"
  | "logout_all"
  | "session_revoked"
  | "password_changed"
  | "refresh_token_reused"
  | "account_deleted"
  | "account_disabled"
  | "account_claimed";

export const revokedSessionKey = (sessionId: string) => `${REVOKED_KEY_PREFIX}${sessionId}`;

// ---------------------------------------------------------------------------
// Revocation memory (KV + this isolate)

const localRevocations = new ExpiringSet(LOCAL_REVOCATION_LIMIT);
/** Sessions KV said were not revoked, each until its answer is REVOCATION_RECHECK_MS old. */
const notRevokedAnswers = new ExpiringSet(NOT_REVOKED_ANSWERS_LIMIT);

function rememberLocally(sessionId: string, untilMs: number, now: number): void {
  localRevocations.add(sessionId, untilMs, now);
  notRevokedAnswers.delete(sessionId);
}

/**
 * Test seam: forget this isolate's memory (its revocations and the "not revoked" answers it
 * holds), as a fresh isolate would have, so the next check has to go to KV.
 */
export function forgetLocalRevocations(): void {
  localRevocations.clear();
  notRevokedAnswers.clear();
}

/** Test seam: how many "not revoked" answers this isolate holds (bounded by NOT_REVOKED_ANSWERS_LIMIT). */
export function notRevokedAnswerCount(): number {
  return notRevokedAnswers.size;
}

/** Seconds the KV entry must live: the newest access token's remaining life, clamped to KV's minimum. */
export function revocationTtlSeconds(accessExpiresAt: number, now: number): number | null {
  const remainingMs = accessExpiresAt - now;
  if (remainingMs <= 0) return null; // every access token of the session has already expired
  return Math.max(KV_MIN_TTL_SECONDS, Math.ceil(remainingMs / 1000) + 5);
}

async function publishRevocations(
  ctx: ServiceContext,
  revoked: Array<{ id: string; accessExpiresAt: Date }>,
  reason: RevocationReason,
  now: number,
): Promise<void> {
  await Promise.all(
    revoked.map(async (session) => {
      const ttl = revocationTtlSeconds(session.accessExpiresAt.getTime(), now);
      if (ttl === null) return;
      rememberLocally(session.id, now + ttl * 1000, now);
      try {
        await ctx.env.AUTH_KV.put(revokedSessionKey(session.id), reason, { expirationTtl: ttl });
      } catch (error) {
        // D1 already says revoked (refresh is refused); only other isolates may accept the
        // session's current access token until it expires. Loud, but not a failed logout.
        ctx.logger.error("could not publish session revocation to AUTH_KV", {
          session_id: session.id,
          error: serializeError(error),
        });
      }
    }),
  );
}

/**
 * Whether `sessionId` is revoked, when this isolate knows without asking KV: true when it
 * revoked the session itself, false when KV said "not revoked" less than REVOCATION_RECHECK_MS
 * ago; undefined otherwise (isSessionRevoked asks KV).
 */
export function sessionRevocationInMemory(sessionId: string, now = Date.now()): boolean | undefined {
  if (localRevocations.has(sessionId, now)) return true;
  if (notRevokedAnswers.has(sessionId, now)) return false;
  return undefined;
}

/**
 * True when the session was revoked while some of its access tokens may still be
 * alive. A KV outage fails open (logged): refusing every token would log every
 * user out for the outage, and refresh still checks D1.
 */
export async function isSessionRevoked(
  ctx: ServiceContext,
  sessionId: string,
  now = Date.now(),
): Promise<boolean> {
  const known = sessionRevocationInMemory(sessionId, now);
  if (known !== undefined) return known;
  try {
    const revoked = (await ctx.env.AUTH_KV.get(revokedSessionKey(sessionId))) !== null;
    if (!revoked) notRevokedAnswers.add(sessionId, now + REVOCATION_RECHECK_MS, now);
    return revoked;
  } catch (error) {
    ctx.logger.error("could not read session revocation from AUTH_KV", {
      session_id: sessionId,
      error: serializeError(error),
    });
    return false;
  }
}

/**
 * Called after sessions are revoked, with the revoked sessions grouped by user (e.g. the
 * notifications module closes their WebSockets). Registered one line each from a module's
 * *.index.ts. A failing hook is logged and never undoes or fails the revocation.
 */
export type SessionRevocationHook = (
  ctx: ServiceContext,
  revoked: { userId: string; sessionIds: string[]; reason: RevocationReason },
) => Promise<void>;
export const sessionRevocationHooks: SessionRevocationHook[] = [];

async function runRevocationHooks(
  ctx: ServiceContext,
  revoked: Array<{ id: string; userId: string }>,
  reason: RevocationReason,
): Promise<void> {
  if (revoked.length === 0 || sessionRevocationHooks.length === 0) return;
  const byUser = new Map<string, string[]>();
  for (const session of revoked)
    byUser.set(session.userId, [...(byUser.get(session.userId) ?? []), session.id]);
  for (const hook of sessionRevocationHooks) {
    for (const [userId, sessionIds] of byUser) {
      try {
        await hook(ctx, { userId, sessionIds, reason });
      } catch (error) {
        ctx.logger.error("session revocation hook failed", { user_id: userId, error: serializeError(error) });
      }
    }
  }
}

async function revokeWhere(
  ctx: ServiceContext,
  where: SQL | undefined,
  reason: RevocationReason,
  now: number,
  alsoInBatch: BatchItem<"sqlite">[] = [],
  onBatch?: (results: unknown[]) => void,
): Promise<Array<{ id: string }>> {
  const update = ctx.db
    .update(sessions)
    .set({ revokedAt: new Date(now), revokedReason: reason })
    .where(and(where, isNull(sessions.revokedAt)))
    .returning({ id: sessions.id, userId: sessions.userId, accessExpiresAt: sessions.accessExpiresAt });
  const results = await ctx.db.batch([update, ...alsoInBatch]);
  onBatch?.(results);
  const [revoked] = results;
  await publishRevocations(ctx, revoked, reason, now);
  await runRevocationHooks(ctx, revoked, reason);
  return revoked;
}

/** Revokes one of `userId`'s live sessions; false when there is no such session (or it is someone else's). */
export async function revokeSession(
  ctx: ServiceContext,
  input: { userId: string; sessionId: string; reason: RevocationReason },
  now = Date.now(),
): Promise<boolean> {
  const revoked = await revokeWhere(
    ctx,
    and(
      eq(sessions.id, input.sessionId),
      eq(sessions.userId, input.userId),
      gt(sessions.expiresAt, new Date(now)),
    ),
    input.reason,
    now,
  );
  return revoked.length > 0;
}

/**
 * Revokes every live session of a user, except `exceptSessionId` when given. Returns how many.
 * `alsoInBatch` is written in the same D1 batch as the revocation (e.g. its audit row), and
 * `onBatch` receives that batch's results. `onlyIf` guards the revocation with a condition
 * read inside the batch (the account claim revokes only while the account is unverified).
 */
export async function revokeUserSessions(
  ctx: ServiceContext,
  input: {
    userId: string;
    reason: RevocationReason;
    exceptSessionId?: string;
    onlyIf?: SQL;
    alsoInBatch?: BatchItem<"sqlite">[];
    onBatch?: (results: unknown[]) => void;
  },
  now = Date.now(),
): Promise<number> {
  const revoked = await revokeWhere(
    ctx,
    and(
      eq(sessions.userId, input.userId),
      input.exceptSessionId ? ne(sessions.id, input.exceptSessionId) : undefined,
      input.onlyIf,
    ),
    input.reason,
    now,
    input.alsoInBatch,
    input.onBatch,
  );
  return revoked.length;
}

/** Statements that delete every session of a user and their spent refresh tokens (account erasure). */
export function deleteUserSessionsStatements(
  ctx: ServiceContext,
  userId: string,
): [BatchItem<"sqlite">, BatchItem<"sqlite">] {
  return [
    ctx.db
      .delete(spentRefreshTokens)
      .where(
        sql`${spentRefreshTokens.sessionId} IN (SELECT ${sessions.id} FROM ${sessions} WHERE ${sessions.userId} = ${userId})`,
      ),
    ctx.db.delete(sessions).where(eq(sessions.userId, userId)),
  ];
}

// ---------------------------------------------------------------------------
// Opening sessions and issuing tokens

export type TokenPair = {
  access: SignedAccessToken;
  refreshToken: string;
  /** Seconds the access token lives. */
  expiresIn: number;
  sessionId: string;
};

function newRefreshToken(): string {
  return `${REFRESH_TOKEN_PREFIX}${randomToken(32)}`;
}

export function hashRefreshToken(token: string): Promise<string> {
  return sha256Hex(token);
}

/** How a session was opened: the tokens' `auth_time` (ms) and `amr`, kept across refreshes. */
export type Authentication = { authTime: number; amr: readonly string[] };

/** When a session opened at `createdAt` must end, however often it is refreshed (SESSION_MAX_AGE). */
export function sessionHardExpiry(ctx: ServiceContext, createdAt: number): number {
  return createdAt + ctx.config.SESSION_MAX_AGE * 1000;
}

/** Seconds an access token signed at `now` lives: ACCESS_TOKEN_TTL, but never past the session's hard expiry. */
function accessTtlSeconds(ctx: ServiceContext, now: number, hardExpiry: number): number {
  const remaining = Math.floor(hardExpiry / 1000) - Math.floor(now / 1000);
  return Math.max(1, Math.min(ctx.config.ACCESS_TOKEN_TTL, remaining));
}

/** `exp` of an access token signed at `now`, in ms (JWT times are whole seconds). */
function accessExpiry(ctx: ServiceContext, now: number, hardExpiry: number): number {
  return (Math.floor(now / 1000) + accessTtlSeconds(ctx, now, hardExpiry)) * 1000;
}

/**
 * A new session row for `userId` (device facts from the context) and its
 * refresh token. The caller inserts the row, in the same batch as whatever else
 * the sign-in writes, then calls `issueTokens`.
 */
export async function prepareSession(
  ctx: ServiceContext,
  userId: string,
  now: number,
  authentication: Authentication,
): Promise<{ row: NewSession & { id: string }; refreshToken: string }> {
  const refreshToken = newRefreshToken();
  const at = new Date(now);
  const hardExpiry = sessionHardExpiry(ctx, now);
  return {
    refreshToken,
    row: {
      id: uuidv7(now),
      userId,
      refreshTokenHash: await hashRefreshToken(refreshToken),
      userAgent: ctx.client.userAgent ?? null,
      ip: ctx.client.ip ?? null,
      country: ctx.client.country ?? null,
      city: ctx.client.city ?? null,
      authTime: new Date(authentication.authTime),
      amr: [...authentication.amr],
      createdAt: at,
      lastUsedAt: at,
      refreshedAt: at,
      expiresAt: new Date(Math.min(now + ctx.config.REFRESH_TOKEN_TTL * 1000, hardExpiry)),
      accessExpiresAt: new Date(accessExpiry(ctx, now, hardExpiry)),
    },
  };
}

/** Signs the access token of a session and pairs it with its refresh token. */
export async function issueTokens(
  ctx: ServiceContext,
  input: {
    user: Pick<User, "id" | "isStaff">;
    session: Pick<Session, "id" | "createdAt" | "authTime" | "amr">;
    refreshToken: string;
  },
  now: number,
): Promise<TokenPair> {
  const { session } = input;
  const ttlSeconds = accessTtlSeconds(ctx, now, sessionHardExpiry(ctx, session.createdAt.getTime()));
  const ring = await getKeyRing(ctx.config.JWT_PRIVATE_KEYS);
  const access = await signAccessToken(
    ring,
    { issuer: ctx.config.JWT_ISSUER, audience: ctx.config.JWT_AUDIENCE, ttlSeconds },
    {
      userId: input.user.id,
      sessionId: session.id,
      isStaff: input.user.isStaff,
      // Sessions opened before auth_time was recorded authenticated when they were opened.
      authTime: (session.authTime ?? session.createdAt).getTime(),
      amr: session.amr ?? [],
    },
    now,
  );
  return { access, refreshToken: input.refreshToken, expiresIn: ttlSeconds, sessionId: session.id };
}

// ---------------------------------------------------------------------------
// Refresh: rotation with reuse detection

const invalidRefreshToken = () =>
  problems.unauthorized("The refresh token is not valid, expired or revoked.", "invalid_refresh_token");

/**
 * Exchanges a refresh token for a new pair. Rules, in order:
 * - the session's current token → rotated by a conditional UPDATE (only one of
 *   two concurrent requests can win), the spent hash recorded in the same batch;
 * - a spent token of a live session, presented within REFRESH_GRACE_MS of the
 *   rotation that spent it, when it is the token that rotation spent and the
 *   request comes from the session's user agent → 409 `refresh_token_superseded`:
 *   nothing is issued and nothing is revoked (the concurrent request got the pair);
 * - any other spent token → the whole session is revoked, 401 `refresh_token_reused`;
 * - anything else (unknown, expired, revoked, disabled account) → 401 `invalid_refresh_token`.
 */
export async function refreshSession(
  ctx: ServiceContext,
  presented: string,
  now = Date.now(),
): Promise<{ user: User; tokens: TokenPair }> {
  const hash = await hashRefreshToken(presented);
  const current = await ctx.db
    .select({ session: sessions, user: users })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(sessions.refreshTokenHash, hash))
    .get();

  if (current) {
    const { session, user } = current;
    if (session.revokedAt !== null || session.expiresAt.getTime() <= now) throw invalidRefreshToken();
    const hardExpiry = sessionHardExpiry(ctx, session.createdAt.getTime());
    if (hardExpiry <= now) throw invalidRefreshToken();
    if (!user.isActive) {
      await revokeSession(ctx, { userId: user.id, sessionId: session.id, reason: "account_disabled" }, now);
      throw invalidRefreshToken();
    }
    const refreshToken = newRefreshToken();
    const nextHash = await hashRefreshToken(refreshToken);
    const at = new Date(now);
    const [rotated] = await ctx.db.batch([
      ctx.db
        .update(sessions)
        .set({
          refreshTokenHash: nextHash,
          refreshedAt: at,
          lastUsedAt: at,
          // Rotation slides the session, but never past SESSION_MAX_AGE from its sign-in.
          expiresAt: new Date(Math.min(now + ctx.config.REFRESH_TOKEN_TTL * 1000, hardExpiry)),
          accessExpiresAt: new Date(accessExpiry(ctx, now, hardExpiry)),
          ip: ctx.client.ip ?? session.ip,
          country: ctx.client.country ?? session.country,
          city: ctx.client.city ?? session.city,
        })
        .where(
          and(eq(sessions.id, session.id), eq(sessions.refreshTokenHash, hash), isNull(sessions.revokedAt)),
        )
        .returning({ id: sessions.id }),
      // Recorded only if the UPDATE above won (the row now holds nextHash, which nobody else knows).
      // Columns in table order: token_hash, session_id, spent_at.
      ctx.db.insert(spentRefreshTokens).select(
        sql`SELECT ${hash}, ${sessions.id}, ${now} FROM ${sessions}
              WHERE ${sessions.id} = ${session.id} AND ${sessions.refreshTokenHash} = ${nextHash}`,
      ),
    ]);
    if (rotated.length > 0) {
      return { user, tokens: await issueTokens(ctx, { user, session, refreshToken }, now) };
    }
    // Lost the race to a concurrent refresh of the same token: the token is spent now.
  }

  const spent = await ctx.db
    .select({ spentAt: spentRefreshTokens.spentAt, session: sessions })
    .from(spentRefreshTokens)
    .innerJoin(sessions, eq(sessions.id, spentRefreshTokens.sessionId))
    .where(eq(spentRefreshTokens.tokenHash, hash))
    .get();
  if (!spent || spent.session.revokedAt !== null || spent.session.expiresAt.getTime() <= now) {
    throw invalidRefreshToken();
  }
  const { session, spentAt } = spent;
  const spentByLatestRotation = spentAt.getTime() === session.refreshedAt.getTime();
  const sameClient = session.userAgent === (ctx.client.userAgent ?? null);
  if (spentByLatestRotation && sameClient && now - spentAt.getTime() <= REFRESH_GRACE_MS) {
    throw new ProblemError({
      status: 409,
      code: "refresh_token_superseded",
      detail:
        "This refresh token was just rotated by a concurrent request; use the tokens that request received.",
    });
  }
  const revoked = await revokeSession(
    ctx,
    { userId: session.userId, sessionId: session.id, reason: "refresh_token_reused" },
    now,
  );
  ctx.logger.warn("spent refresh token presented again; session revoked", {
    session_id: session.id,
    user_id: session.userId,
  });
  // Only the request that actually revoked it tells the user (a replayed attack is told once).
  if (revoked) await reportRefreshTokenReuse(ctx, session, now);
  throw problems.unauthorized(
    "This refresh token was already used. The session has been revoked; sign in again.",
    "refresh_token_reused",
  );
}

/** The live session a refresh token currently belongs to (for logout by refresh token), or null. */
export async function findSessionByRefreshToken(
  ctx: ServiceContext,
  presented: string,
  now = Date.now(),
): Promise<Session | null> {
  const session = await ctx.db
    .select()
    .from(sessions)
    .where(eq(sessions.refreshTokenHash, await hashRefreshToken(presented)))
    .get();
  if (!session || session.revokedAt !== null || session.expiresAt.getTime() <= now) return null;
  return session;
}

// ---------------------------------------------------------------------------
// Devices

/** A session as its owner sees it: the devices list (GET /users/me/sessions) and the data export. */
export function describeSession(session: Session) {
  return {
    id: session.id,
    user_agent: session.userAgent,
    ip: session.ip,
    country: session.country,
    city: session.city,
    created_at: session.createdAt.toISOString(),
    last_used_at: session.lastUsedAt.toISOString(),
  };
}

export const SESSION_SORT_FIELDS = ["created_at", "last_used_at"] as const;

export async function listSessions(
  ctx: ServiceContext,
  input: { userId: string; limit: number; cursor?: string; sort: SortTerm[] },
  now = Date.now(),
): Promise<Page<Session>> {
  const page = keysetPage<Session>({
    sort: input.sort,
    columns: {
      created_at: { column: sessions.createdAt, read: (row) => row.createdAt.getTime() },
      last_used_at: { column: sessions.lastUsedAt, read: (row) => row.lastUsedAt.getTime() },
    },
    tiebreaker: { column: sessions.id, read: (row) => row.id },
    limit: input.limit,
    cursor: input.cursor,
  });
  const live = and(
    eq(sessions.userId, input.userId),
    isNull(sessions.revokedAt),
    gt(sessions.expiresAt, new Date(now)),
  );
  return listPage(ctx.db, page, {
    rows: ctx.db.select().from(sessions).$dynamic(),
    countFrom: sessions,
    where: live,
  });
}
