/**
 * What new-device alerts compare a sign-in with: every (device, country) pair an
 * account has signed in from, and the sessions whose sign-in was new.
 */
import { index, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { createdAt, timestamp } from "./columns";
import { sessions } from "./sessions";
import { users } from "./users";

export const signInDevices = sqliteTable(
  "sign_in_devices",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** Browser family and OS, e.g. "Firefox on Windows" (src/lib/user-agent.ts): no versions, so updates are not new devices. */
    device: text("device").notNull(),
    /** ISO 3166-1 alpha-2 from Cloudflare, or "" when unknown ("" rather than NULL, so the key stays unique). */
    country: text("country").notNull(),
    firstSeenAt: timestamp("first_seen_at").notNull(),
    lastSeenAt: timestamp("last_seen_at").notNull(),
  },
  (table) => [primaryKey({ columns: [table.userId, table.device, table.country] })],
);

/** Sessions opened from a device or country the account had not used before (an alert was sent). */
export const newDeviceSessions = sqliteTable(
  "new_device_sessions",
  {
    sessionId: text("session_id")
      .primaryKey()
      .references(() => sessions.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    device: text("device").notNull(),
    country: text("country").notNull(),
    createdAt: createdAt(),
  },
  (table) => [index("new_device_sessions_user_id_idx").on(table.userId)],
);

export type SignInDevice = typeof signInDevices.$inferSelect;
