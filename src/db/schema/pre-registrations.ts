import { index, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { createdAt, id } from "./columns";

/** The waitlist: one row per address (lower-cased), whatever how often it signs up. */
export const preRegistrations = sqliteTable(
  "pre_registrations",
  {
    id: id(),
    email: text("email").notNull(),
    createdAt: createdAt(),
  },
  (table) => [
    uniqueIndex("pre_registrations_email_unique").on(table.email),
    index("pre_registrations_created_at_idx").on(table.createdAt, table.id),
  ],
);

export type PreRegistration = typeof preRegistrations.$inferSelect;
