import { sql } from "drizzle-orm";
import { check, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { createdAt, updatedAt } from "./columns";

/**
 * Feature flags, keyed by a stable name code asks for (`flag(c, "new_checkout")`).
 * Read through a short per-isolate cache (src/modules/feature-flags/flag-cache.ts),
 * so a change reaches other isolates within that cache's TTL.
 */
export const featureFlags = sqliteTable(
  "feature_flags",
  {
    key: text("key").primaryKey(),
    description: text("description").notNull().default(""),
    /** Off is off for everyone, allow lists included: the kill switch. */
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(false),
    /** 0–100: the share of principals (by a stable hash of flag and id) that get the flag. */
    rolloutPercentage: integer("rollout_percentage").notNull().default(0),
    /** Users who get the flag whatever the rollout (JSON array of user ids). */
    allowUserIds: text("allow_user_ids", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    /** Organizations whose members and keys get the flag whatever the rollout. */
    allowOrgIds: text("allow_org_ids", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    /** The staff user who last changed it (no foreign key: the audit log keeps the history). */
    updatedBy: text("updated_by"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (table) => [
    check(
      "feature_flags_rollout_range",
      sql`${table.rolloutPercentage} >= 0 and ${table.rolloutPercentage} <= 100`,
    ),
  ],
);

export type FeatureFlag = typeof featureFlags.$inferSelect;
export type NewFeatureFlag = typeof featureFlags.$inferInsert;
