import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { createdAt, id, timestamp, updatedAt } from "./columns";
import { users } from "./users";

/** Roles a member holds in an organization; what each may do is in src/modules/orgs/permissions.ts. */
export const orgRoles = ["owner", "admin", "member", "billing"] as const;
export type OrgRole = (typeof orgRoles)[number];

/**
 * The tenant. Everything an organization owns (memberships, invitations, API keys,
 * and other modules' rows) references `organizations.id` with ON DELETE CASCADE, so
 * deleting the organization deletes its data in the same statement.
 */
export const organizations = sqliteTable(
  "organizations",
  {
    id: id(),
    name: text("name").notNull(),
    /** Lower-case, unique; used in URLs of the app. */
    slug: text("slug").notNull(),
    /** The organization every account gets at sign-up; it cannot be deleted on its own. */
    isPersonal: integer("is_personal", { mode: "boolean" }).notNull().default(false),
    /** Members must have signed in with a second factor to use the organization (API keys are not people). */
    requireMfa: integer("require_mfa", { mode: "boolean" }).notNull().default(false),
    createdBy: text("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (table) => [
    uniqueIndex("organizations_slug_unique").on(table.slug),
    index("organizations_created_at_idx").on(table.createdAt, table.id),
  ],
);

/** Who belongs to which organization, with one role each. */
export const memberships = sqliteTable(
  "memberships",
  {
    organizationId: text("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: text("role", { enum: orgRoles }).notNull(),
    /** When the user joined. */
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (table) => [
    // One membership per (organization, user): accepting an invitation twice cannot duplicate it.
    primaryKey({ columns: [table.organizationId, table.userId] }),
    index("memberships_user_id_idx").on(table.userId, table.organizationId),
    index("memberships_org_created_at_idx").on(table.organizationId, table.createdAt, table.userId),
  ],
);

/**
 * An emailed invitation. Only the SHA-256 of its token is stored; it is spent by a
 * conditional UPDATE (accepted_at IS NULL), so it works once however many times it
 * is presented at the same moment.
 */
export const invitations = sqliteTable(
  "invitations",
  {
    id: id(),
    organizationId: text("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    /** Lower-cased and trimmed, like users.email. */
    email: text("email").notNull(),
    role: text("role", { enum: orgRoles }).notNull(),
    tokenHash: text("token_hash").notNull(),
    invitedBy: text("invited_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: createdAt(),
    expiresAt: timestamp("expires_at").notNull(),
    acceptedAt: timestamp("accepted_at"),
    acceptedBy: text("accepted_by").references(() => users.id, { onDelete: "set null" }),
    revokedAt: timestamp("revoked_at"),
  },
  (table) => [
    uniqueIndex("invitations_token_hash_unique").on(table.tokenHash),
    index("invitations_org_created_at_idx").on(table.organizationId, table.createdAt, table.id),
    // At most one open invitation per address and organization: inviting again replaces it.
    uniqueIndex("invitations_open_email_unique")
      .on(table.organizationId, table.email)
      .where(sql`${table.acceptedAt} is null and ${table.revokedAt} is null`),
    index("invitations_expires_at_idx").on(table.expiresAt),
  ],
);

export type Organization = typeof organizations.$inferSelect;
export type Membership = typeof memberships.$inferSelect;
export type Invitation = typeof invitations.$inferSelect;
