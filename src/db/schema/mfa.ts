/**
 * Second factors: an authenticator app (TOTP, RFC 6238) with its recovery codes, and
 * the short-lived challenges that sit between a first factor and a session for an
 * account that has one. Passkeys have their own table (they are a first factor too).
 */
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { createdAt, id, timestamp } from "./columns";
import { users } from "./users";

/**
 * An account's authenticator app: at most one. Pending (`confirmed_at` null) from
 * enrolment until a first code proves the app holds the secret; only then does it
 * guard sign-in.
 */
export const totpFactors = sqliteTable("totp_factors", {
  userId: text("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  /** The shared secret, AES-256-GCM under MFA_ENCRYPTION_KEY and bound to the user id (lib/secret-box.ts). */
  secretCiphertext: text("secret_ciphertext").notNull(),
  confirmedAt: timestamp("confirmed_at"),
  /**
   * The 30-second time step of the last code accepted: a code is accepted only for a later
   * step, so a code seen over a shoulder or replayed from a log is refused within its window.
   */
  lastUsedStep: integer("last_used_step").notNull().default(0),
  createdAt: createdAt(),
});

/** Ten single-use codes per set, for when the authenticator app is lost; SHA-256 only. */
export const recoveryCodes = sqliteTable(
  "recovery_codes",
  {
    id: id(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    codeHash: text("code_hash").notNull(),
    usedAt: timestamp("used_at"),
    createdAt: createdAt(),
  },
  (table) => [
    uniqueIndex("recovery_codes_user_code_unique").on(table.userId, table.codeHash),
    index("recovery_codes_user_id_idx").on(table.userId),
  ],
);

/**
 * A first factor passed for an account with a second factor: the `mfa_token` the client
 * finishes with POST /auth/mfa/verify. Five minutes, five tries, single use.
 */
export const mfaChallenges = sqliteTable(
  "mfa_challenges",
  {
    id: id(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** SHA-256 (hex) of the mfa_token. */
    tokenHash: text("token_hash").notNull(),
    /** How the first factor was proven (the sign-in method and its `amr`), carried into the session. */
    firstFactor: text("first_factor", { mode: "json" }).$type<{ method: string; amr: string[] }>().notNull(),
    attempts: integer("attempts").notNull().default(0),
    expiresAt: timestamp("expires_at").notNull(),
    usedAt: timestamp("used_at"),
    createdAt: createdAt(),
  },
  (table) => [
    uniqueIndex("mfa_challenges_token_hash_unique").on(table.tokenHash),
    index("mfa_challenges_user_id_idx").on(table.userId),
    index("mfa_challenges_expires_at_idx").on(table.expiresAt),
  ],
);

export type TotpFactor = typeof totpFactors.$inferSelect;
export type MfaChallenge = typeof mfaChallenges.$inferSelect;
