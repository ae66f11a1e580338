import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { createdAt, id, timestamp } from "./columns";

/** Who acted: a person, an integrator's key, the platform itself, or nobody signed in. */
export const auditActorTypes = ["user", "api_key", "system", "anonymous"] as const;
export type AuditActorType = (typeof auditActorTypes)[number];

/**
 * The audit log: one row per admin write and per security event. Append-only in the
 * database itself: triggers abort every UPDATE, and every DELETE except of a row that
 * an `audit_archives` record covers and that is older than 30 days (custom migrations
 * `audit_log_append_only` and `audit_archive_deletes`), so not even a bug or a stolen
 * D1 token with the Worker's rights can rewrite recent history through SQL. The
 * retention cron (src/modules/audit/audit-retention.cron.ts) is the one caller that
 * deletes, after it wrote the rows to R2.
 *
 * No foreign keys on purpose: the actor or the target may be deleted later (an erased
 * account), and a cascade or SET NULL would be an UPDATE/DELETE the triggers refuse.
 */
export const auditLogs = sqliteTable(
  "audit_logs",
  {
    id: id(),
    actorType: text("actor_type", { enum: auditActorTypes }).notNull(),
    /** User id, API key id, or the system job's name; null for anonymous actors. */
    actorId: text("actor_id"),
    /** A name from AUDIT_ACTIONS (src/modules/audit/audit.actions.ts), e.g. `user.update`. */
    action: text("action").notNull(),
    targetType: text("target_type").notNull(),
    targetId: text("target_id"),
    ip: text("ip"),
    userAgent: text("user_agent"),
    requestId: text("request_id"),
    /** The target before and after, as the API shows it, with secrets redacted; null when there was none. */
    before: text("before", { mode: "json" }).$type<unknown>(),
    after: text("after", { mode: "json" }).$type<unknown>(),
    createdAt: createdAt(),
  },
  (table) => [
    index("audit_logs_created_at_idx").on(table.createdAt, table.id),
    index("audit_logs_actor_idx").on(table.actorId, table.createdAt, table.id),
    index("audit_logs_target_idx").on(table.targetType, table.targetId, table.createdAt, table.id),
    index("audit_logs_action_idx").on(table.action, table.createdAt, table.id),
  ],
);

export type AuditLog = typeof auditLogs.$inferSelect;
export type NewAuditLog = typeof auditLogs.$inferInsert;

/**
 * One R2 object of archived audit rows (gzip NDJSON, src/modules/audit/audit-archive.ts): the
 * rows from (first_created_at, first_id) to (last_created_at, last_id) in keyset order, all
 * of one UTC day. The DELETE trigger of audit_logs reads this table: a row may only go once
 * a record here covers it. Append-only as well (triggers refuse UPDATE and DELETE, and an
 * INSERT covering rows younger than 30 days), so a forged record cannot open fresh rows
 * to deletion.
 */
export const auditArchives = sqliteTable(
  "audit_archives",
  {
    id: id(),
    /** `audit-archive/YYYY/MM/DD/<first_id>--<last_id>.ndjson.gz` in the FILES bucket. */
    r2Key: text("r2_key").notNull(),
    firstCreatedAt: timestamp("first_created_at").notNull(),
    firstId: text("first_id").notNull(),
    lastCreatedAt: timestamp("last_created_at").notNull(),
    lastId: text("last_id").notNull(),
    rowCount: integer("row_count").notNull(),
    /** Compressed size of the object. */
    bytes: integer("bytes").notNull(),
    createdAt: createdAt(),
  },
  (table) => [
    uniqueIndex("audit_archives_r2_key_unique").on(table.r2Key),
    index("audit_archives_range_idx").on(table.firstCreatedAt, table.lastCreatedAt),
  ],
);

export type AuditArchive = typeof auditArchives.$inferSelect;
