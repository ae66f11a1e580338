import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { createdAt, id, timestamp, updatedAt } from "./columns";
import { organizations } from "./orgs";
import { users } from "./users";

export const apiKeyModes = ["live", "test"] as const;
export type ApiKeyMode = (typeof apiKeyModes)[number];

/**
 * An organization's API key. The secret is never stored: its SHA-256 lives in
 * api_key_secrets (one row per secret, so a rotated key can keep its old secret
 * working for a grace period), and only a display prefix is kept here.
 */
export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: id(),
    organizationId: text("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** `live` keys are `sk_live_…`, `test` keys `sk_test_…` (refused in production). */
    mode: text("mode", { enum: apiKeyModes }).notNull(),
    /** The first characters of the current secret, e.g. `sk_live_4fK9aQ2z`, to recognise it in a list. */
    prefix: text("prefix").notNull(),
    scopes: text("scopes", { mode: "json" }).$type<string[]>().notNull(),
    /** The person who created it; the key belongs to the organization and outlives their membership. */
    createdBy: text("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    expiresAt: timestamp("expires_at"),
    revokedAt: timestamp("revoked_at"),
    lastUsedAt: timestamp("last_used_at"),
    lastUsedIp: text("last_used_ip"),
    /** Own rate limit (requests per window) instead of the `api_key` policy; both null = the policy. */
    rateLimit: integer("rate_limit"),
    rateLimitWindowSeconds: integer("rate_limit_window_seconds"),
  },
  (table) => [index("api_keys_org_created_at_idx").on(table.organizationId, table.createdAt, table.id)],
);

/** The SHA-256 of each secret of a key: the current one (no expiry) and rotated ones in their grace period. */
export const apiKeySecrets = sqliteTable(
  "api_key_secrets",
  {
    /** SHA-256 (hex) of the whole secret; lookups are by this, never by the prefix. */
    secretHash: text("secret_hash").primaryKey(),
    keyId: text("key_id")
      .notNull()
      .references(() => apiKeys.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
    /** Null while it is the current secret; set by rotation (now, or the end of the grace period). */
    expiresAt: timestamp("expires_at"),
  },
  (table) => [
    index("api_key_secrets_key_id_idx").on(table.keyId),
    index("api_key_secrets_expires_at_idx").on(table.expiresAt),
  ],
);

export type ApiKey = typeof apiKeys.$inferSelect;
export type ApiKeySecret = typeof apiKeySecrets.$inferSelect;
