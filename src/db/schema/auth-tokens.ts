/**
 * Single-use secrets sent by email: email verification (and disown) links, password
 * reset links, address-change links and passwordless sign-in codes. Only SHA-256 hashes are stored; a row is
 * spent by a conditional UPDATE of `used_at`, so of two requests presenting the
 * same secret only one wins. The hourly cron deletes expired rows.
 */
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { createdAt, id, timestamp } from "./columns";
import { users } from "./users";

/** A link that confirms an account's address (24 h). */
export const emailVerificationTokens = sqliteTable(
  "email_verification_tokens",
  {
    id: id(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** The address the link was sent to: it verifies nothing once the account has another address. */
    email: text("email").notNull(),
    /** SHA-256 (hex) of the token in the link. */
    tokenHash: text("token_hash").notNull(),
    /**
     * SHA-256 (hex) of the "this was not me" token mailed beside it: it erases the account while the
     * account has never been verified (POST /auth/email/disown). Null on tokens issued before it existed.
     */
    disownTokenHash: text("disown_token_hash"),
    expiresAt: timestamp("expires_at").notNull(),
    usedAt: timestamp("used_at"),
    createdAt: createdAt(),
  },
  (table) => [
    uniqueIndex("email_verification_tokens_token_hash_unique").on(table.tokenHash),
    uniqueIndex("email_verification_tokens_disown_token_hash_unique").on(table.disownTokenHash),
    // The resend cooldown reads the newest token of a user.
    index("email_verification_tokens_user_id_idx").on(table.userId, table.createdAt),
    index("email_verification_tokens_expires_at_idx").on(table.expiresAt),
  ],
);

/** A link that sets a new password (1 h). */
export const passwordResetTokens = sqliteTable(
  "password_reset_tokens",
  {
    id: id(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    tokenHash: text("token_hash").notNull(),
    expiresAt: timestamp("expires_at").notNull(),
    usedAt: timestamp("used_at"),
    createdAt: createdAt(),
  },
  (table) => [
    uniqueIndex("password_reset_tokens_token_hash_unique").on(table.tokenHash),
    index("password_reset_tokens_user_id_idx").on(table.userId),
    index("password_reset_tokens_expires_at_idx").on(table.expiresAt),
  ],
);

/**
 * A request to change an account's address (24 h): the link goes to the new address, and the
 * address changes only when it is used (POST /auth/email/change/confirm).
 */
export const emailChangeTokens = sqliteTable(
  "email_change_tokens",
  {
    id: id(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** The address asked for, lower-cased: where the link was sent. */
    newEmail: text("new_email").notNull(),
    /** The address the account had when the change was asked: the link confirms nothing once it differs. */
    oldEmail: text("old_email").notNull(),
    tokenHash: text("token_hash").notNull(),
    expiresAt: timestamp("expires_at").notNull(),
    usedAt: timestamp("used_at"),
    createdAt: createdAt(),
  },
  (table) => [
    uniqueIndex("email_change_tokens_token_hash_unique").on(table.tokenHash),
    index("email_change_tokens_user_id_idx").on(table.userId, table.createdAt),
    index("email_change_tokens_expires_at_idx").on(table.expiresAt),
  ],
);

/**
 * A passwordless sign-in (15 min): an 8-digit code to type and a link token to
 * click, for an address that may not have an account yet (the first use signs up).
 */
export const magicCodes = sqliteTable(
  "magic_codes",
  {
    id: id(),
    /** Lower-cased, like users.email. */
    email: text("email").notNull(),
    /** SHA-256 (hex) of `<id>:<code>`: salted by the row id, so equal codes never share a hash. */
    codeHash: text("code_hash").notNull(),
    /** SHA-256 (hex) of the link token. */
    tokenHash: text("token_hash").notNull(),
    /** Code checks made so far (each reserved before comparing); the code dies at MAGIC_CODE_MAX_ATTEMPTS. */
    attempts: integer("attempts").notNull().default(0),
    expiresAt: timestamp("expires_at").notNull(),
    /** Set when the code or the link is used, or when a newer code for the address replaces it. */
    usedAt: timestamp("used_at"),
    createdAt: createdAt(),
  },
  (table) => [
    uniqueIndex("magic_codes_token_hash_unique").on(table.tokenHash),
    index("magic_codes_email_idx").on(table.email, table.createdAt),
    index("magic_codes_expires_at_idx").on(table.expiresAt),
  ],
);

export type EmailVerificationToken = typeof emailVerificationTokens.$inferSelect;
export type PasswordResetToken = typeof passwordResetTokens.$inferSelect;
export type EmailChangeToken = typeof emailChangeTokens.$inferSelect;
export type MagicCode = typeof magicCodes.$inferSelect;
