import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { createdAt, id, timestamp } from "./columns";
import { users } from "./users";

export const fileStatuses = ["pending", "ready"] as const;
export type FileStatus = (typeof fileStatuses)[number];

/**
 * An organization's file in R2 (src/modules/files). `pending` from its creation until
 * `complete` has checked the bytes the client uploaded, then `ready`. The object lives
 * at `r2_key` = `files/{organization_id}/{id}`: never a name the client chose.
 * `size` and `content_type` are what the client declared; complete holds the object to
 * both, so for a ready file they are what is stored. A pending file's `size` counts
 * against the organization's quota from the moment it is created.
 *
 * Tenant data (docs/SCALING.md): an organization's rows live in the database
 * `orgDatabase()` (src/db/tenant-databases.ts) routes it to, which may not be the one
 * that holds `organizations` and `users`. So no foreign keys to them: organization
 * deletion deletes the rows (`purgeFilesOfDeletedOrganization`) and account erasure
 * clears `created_by` (`forgetFileCreator`), in every tenant database, where the
 * cascades used to.
 */
export const files = sqliteTable(
  "files",
  {
    id: id(),
    organizationId: text("organization_id").notNull(),
    /** Display and download name, already sanitised (no path, no control or reserved characters). */
    name: text("name").notNull(),
    contentType: text("content_type").notNull(),
    size: integer("size").notNull(),
    status: text("status", { enum: fileStatuses }).notNull(),
    r2Key: text("r2_key").notNull().unique(),
    /** The member who created it; null for an API key's upload, or once that account is erased. */
    createdBy: text("created_by"),
    createdAt: createdAt(),
    /** When the upload URL handed out at creation stops being accepted. */
    uploadExpiresAt: timestamp("upload_expires_at").notNull(),
    completedAt: timestamp("completed_at"),
  },
  (table) => [
    index("files_org_status_created_at_idx").on(
      table.organizationId,
      table.status,
      table.createdAt,
      table.id,
    ),
    index("files_org_status_name_idx").on(table.organizationId, table.status, table.name, table.id),
    // Also covers the quota's sum(size) per organization without reading the rows.
    index("files_org_status_size_idx").on(table.organizationId, table.status, table.size, table.id),
    index("files_status_upload_expires_at_idx").on(table.status, table.uploadExpiresAt),
    // Account erasure clears created_by by it (the foreign key's SET NULL did the same by a scan).
    index("files_created_by_idx").on(table.createdBy),
  ],
);

export type FileRow = typeof files.$inferSelect;

/**
 * A large avatar upload in progress (POST /users/me/avatar/upload): the object is
 * written at `r2_key` (`avatars/{user_id}/{id}.{ext}`, under the user's avatar prefix,
 * so account erasure sweeps it), then checked and switched in by complete, which
 * deletes this row. Rows nobody completed are swept by the cron.
 */
export const avatarUploads = sqliteTable(
  "avatar_uploads",
  {
    id: id(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    r2Key: text("r2_key").notNull().unique(),
    contentType: text("content_type").notNull(),
    size: integer("size").notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp("expires_at").notNull(),
  },
  (table) => [
    index("avatar_uploads_user_id_idx").on(table.userId),
    index("avatar_uploads_expires_at_idx").on(table.expiresAt),
  ],
);

export type AvatarUpload = typeof avatarUploads.$inferSelect;

/**
 * R2 objects to delete once `not_before` has passed (src/lib/storage/object-purges.ts):
 * an outbox for R2, written in the same D1 batch as the row that stops pointing at the
 * object, so a deletion that commits always reaches R2 (the cron retries) and one that
 * does not commit deletes nothing. `not_before` in the future keeps a key swept after
 * an upload URL that could still write it has expired.
 */
export const objectPurges = sqliteTable(
  "object_purges",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    r2Key: text("r2_key").notNull(),
    notBefore: timestamp("not_before").notNull(),
    createdAt: createdAt(),
  },
  (table) => [index("object_purges_not_before_idx").on(table.notBefore)],
);
