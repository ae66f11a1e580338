import { index, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { createdAt, id } from "./columns";

/** Who acted: a person, an integrator's key, the platform itself, or nobody signed in. */
export const auditActorTypes = ["user", "api_key", "system", "anonymous"] as const;
export type AuditActorType = (typeof auditActorTypes)[number];

/**
 * The audit log: one row per admin write and per security event. Append-only in the
 * database itself: triggers (custom migration `audit_log_append_only`) abort every
 * UPDATE and DELETE of this table, so not even a bug or a stolen D1 token with the
 * Worker's rights can rewrite history through SQL.
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
