import { sql } from "drizzle-orm";
import { check, index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { createdAt, id, timestamp, updatedAt } from "./columns";
import { organizations } from "./orgs";
import { users } from "./users";

/** Celery's vocabulary, which most clients of task APIs already know. */
export const taskStatuses = ["PENDING", "STARTED", "SUCCESS", "FAILURE", "RETRY", "REVOKED"] as const;
export type TaskStatus = (typeof taskStatuses)[number];

/** Statuses a task never leaves: it may be deleted, not cancelled. */
export const finishedTaskStatuses = ["SUCCESS", "FAILURE", "REVOKED"] as const satisfies TaskStatus[];

/** What went wrong, as shown to the task's owner: a stable code and a message safe to display. */
export type TaskErrorInfo = { code: string; message: string };

/**
 * One row per background task: the truth about it. The JOBS_QUEUE message only
 * carries the id, and every status change is a conditional UPDATE on this row, so
 * a message delivered twice (or late) can never move a task twice.
 *
 * A task belongs either to a user (created with an access token) or to an
 * organization (created with one of its API keys): exactly one of the two owner
 * columns is set, and every query filters by the caller's one.
 */
export const tasks = sqliteTable(
  "tasks",
  {
    id: id(),
    ownerUserId: text("owner_user_id").references(() => users.id, { onDelete: "cascade" }),
    organizationId: text("organization_id").references(() => organizations.id, { onDelete: "cascade" }),
    /** A name in the task-type registry (src/modules/tasks/task-types). */
    type: text("type").notNull(),
    status: text("status", { enum: taskStatuses }).notNull().default("PENDING"),
    payload: text("payload", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    result: text("result", { mode: "json" }).$type<unknown>(),
    error: text("error", { mode: "json" }).$type<TaskErrorInfo>(),
    /** 0–100, reported by the handler at its checkpoints; 100 on success. */
    progress: integer("progress").notNull().default(0),
    /** Runs started (so 1 after the first run, whatever its outcome). */
    attempts: integer("attempts").notNull().default(0),
    maxRetries: integer("max_retries").notNull().default(3),
    /** When the task may start: the time asked for, or the creation time. */
    runAt: timestamp("run_at").notNull(),
    /** Set when a queue message was sent for the task: the claim that keeps the cron sweep from sending twice. */
    enqueuedAt: timestamp("enqueued_at"),
    /** While STARTED: when the run is presumed dead (time limit + grace), so a redelivery may take it over. */
    leaseExpiresAt: timestamp("lease_expires_at"),
    /** Cancellation asked for while STARTED: the handler stops at its next checkpoint. */
    cancelRequestedAt: timestamp("cancel_requested_at"),
    /** FAILURE after its retries: every delivery of its message is sent on to the dead-letter queue. */
    deadLettered: integer("dead_lettered", { mode: "boolean" }).notNull().default(false),
    createdAt: createdAt(),
    startedAt: timestamp("started_at"),
    completedAt: timestamp("completed_at"),
    updatedAt: updatedAt(),
  },
  (table) => [
    check("tasks_one_owner", sql`(${table.ownerUserId} is null) <> (${table.organizationId} is null)`),
    index("tasks_owner_user_created_idx").on(table.ownerUserId, table.createdAt, table.id),
    index("tasks_owner_user_run_at_idx").on(table.ownerUserId, table.runAt, table.id),
    index("tasks_organization_created_idx").on(table.organizationId, table.createdAt, table.id),
    index("tasks_organization_run_at_idx").on(table.organizationId, table.runAt, table.id),
    // The cron sweep reads only the scheduled tasks that have no message yet.
    index("tasks_awaiting_enqueue_idx")
      .on(table.runAt)
      .where(sql`${table.status} = 'PENDING' and ${table.enqueuedAt} is null`),
  ],
);

export type Task = typeof tasks.$inferSelect;
export type NewTask = typeof tasks.$inferInsert;
