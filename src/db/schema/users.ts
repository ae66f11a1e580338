import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { createdAt, id, timestamp, updatedAt } from "./columns";

/**
 * Per notification type: deliver in the app, by email and/or by push. `push` is absent from
 * preferences stored before the push channel existed; its default applies to them.
 */
export type NotificationPreferences = Record<string, { in_app: boolean; email: boolean; push?: boolean }>;

export const users = sqliteTable(
  "users",
  {
    id: id(),
    /** Stored lower-cased and trimmed: one account per address whatever the letter case. */
    email: text("email").notNull(),
    /** Displayed as typed; unique regardless of case (index on lower(username)). */
    username: text("username"),
    firstName: text("first_name").notNull().default(""),
    lastName: text("last_name").notNull().default(""),
    /** E.164, e.g. +14155550123. */
    phoneNumber: text("phone_number"),
    /** ISO date, YYYY-MM-DD. */
    birthDate: text("birth_date"),
    /** R2 key of the current avatar (avatars/{user_id}/{uuid}.{ext}). */
    avatarKey: text("avatar_key"),
    /** scrypt$N=…,r=…,p=…$salt$hash; null for accounts created by magic code only. */
    passwordHash: text("password_hash"),
    emailVerifiedAt: timestamp("email_verified_at"),
    isActive: integer("is_active", { mode: "boolean" }).notNull().default(true),
    isStaff: integer("is_staff", { mode: "boolean" }).notNull().default(false),
    notificationPreferences: text("notification_preferences", { mode: "json" })
      .$type<NotificationPreferences>()
      .notNull()
      .default(sql`'{}'`),
    lastLoginAt: timestamp("last_login_at"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (table) => [
    uniqueIndex("users_email_unique").on(table.email),
    uniqueIndex("users_username_unique").on(sql`lower(${table.username})`),
    index("users_created_at_idx").on(table.createdAt, table.id),
  ],
);

export type User = typeof users.$inferSelect;
export type NewUser = typeof users.$inferInsert;
