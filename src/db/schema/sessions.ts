import { sql } from "drizzle-orm";
import { index, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { createdAt, id, timestamp } from "./columns";
import { users } from "./users";

/**
 * One row per logged-in device. The refresh token itself is never stored: only
 * the SHA-256 of the current one, which rotation swaps with a conditional UPDATE.
 */
export const sessions = sqliteTable(
  "sessions",
  {
    id: id(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** SHA-256 (hex) of the current refresh token. */
    refreshTokenHash: text("refresh_token_hash").notNull(),
    userAgent: text("user_agent"),
    ip: text("ip"),
    country: text("country"),
    city: text("city"),
    createdAt: createdAt(),
    lastUsedAt: timestamp("last_used_at").notNull(),
    /** When the current refresh token was issued (the previous one spent). */
    refreshedAt: timestamp("refreshed_at").notNull(),
    /** Refresh tokens expire REFRESH_TOKEN_TTL after they are issued: the session slides with use. */
    expiresAt: timestamp("expires_at").notNull(),
    /**
     * When the person last proved who they are on this session (the sign-in): the access tokens'
     * `auth_time`. Refresh keeps it, so a refreshed token is not a fresh authentication. Null only on
     * sessions opened before the column existed (read as their created_at).
     */
    authTime: timestamp("auth_time"),
    /** RFC 8176 methods of that sign-in (`pwd`, `email`, `otp`, `mfa`, `fed`, `hwk`, `swk`): the tokens' `amr`. */
    amr: text("amr", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    /** Expiry of the newest access token issued for this session: how long a revocation must be remembered. */
    accessExpiresAt: timestamp("access_expires_at").notNull(),
    revokedAt: timestamp("revoked_at"),
    /** A RevocationReason (src/modules/auth/sessions.service.ts): logout, account_claimed, account_disabled ... */
    revokedReason: text("revoked_reason"),
  },
  (table) => [
    uniqueIndex("sessions_refresh_token_hash_unique").on(table.refreshTokenHash),
    index("sessions_user_id_idx").on(table.userId, table.createdAt),
    index("sessions_expires_at_idx").on(table.expiresAt),
  ],
);

/**
 * Refresh tokens already rotated away, kept while their session lives so that a
 * spent token presented again is recognised (reuse detection) rather than unknown.
 */
export const spentRefreshTokens = sqliteTable(
  "spent_refresh_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    sessionId: text("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    spentAt: timestamp("spent_at").notNull(),
  },
  (table) => [index("spent_refresh_tokens_session_id_idx").on(table.sessionId)],
);

export type Session = typeof sessions.$inferSelect;
export type NewSession = typeof sessions.$inferInsert;
