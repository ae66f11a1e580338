/**
 * Staff verbs on tasks: every task, whoever owns it, and the two staff actions, retry
 * a FAILURE and cancel. No TaskScope here: the admin routes that call these are
 * guarded by `requireStaff`, and staff see every tenant. Both actions are conditional
 * UPDATEs on the status read (so of two staff acting at once only one changes the
 * task), each with its audit row in the same batch, written only when the UPDATE
 * matched (AFTER_CHANGE).
 */
import { and, count, eq, type SQL } from "drizzle-orm";
import { type Task, type TaskStatus, taskStatuses, tasks } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import type { SortTerm } from "../../lib/list-query";
import type { Page } from "../../lib/pagination";
import { ProblemError } from "../../lib/problem";
import { AFTER_CHANGE, auditStatement } from "../audit/audit.service";
import { taskRuntime } from "./task-runtime";
import { dispatchNewTask } from "./task-scheduler";
import { findTask, listTasksWhere } from "./tasks.queries";
import { cancelTask } from "./tasks.service";

export const taskNotFailed = (status: TaskStatus) =>
  new ProblemError({
    status: 409,
    code: "task_not_failed",
    detail: `Only FAILURE tasks can be retried; this one is ${status}.`,
    extensions: { task_status: status },
  });

export function getAnyTask(ctx: ServiceContext, id: string): Promise<Task> {
  return findTask(ctx, id, undefined);
}

export type ListAllTasksInput = {
  limit: number;
  cursor?: string;
  sort: SortTerm[];
  status?: TaskStatus;
  type?: string;
  ownerUserId?: string;
  organizationId?: string;
};

export async function listAllTasks(ctx: ServiceContext, input: ListAllTasksInput): Promise<Page<Task>> {
  const filters: Array<SQL | undefined> = [
    input.status ? eq(tasks.status, input.status) : undefined,
    input.type ? eq(tasks.type, input.type) : undefined,
    input.ownerUserId ? eq(tasks.ownerUserId, input.ownerUserId) : undefined,
    input.organizationId ? eq(tasks.organizationId, input.organizationId) : undefined,
  ];
  return listTasksWhere(ctx, input, and(...filters));
}

type StatusCounts = Record<TaskStatus, number>;

/** How many tasks there are in each status, in all and per type (GET /admin/v1/tasks/stats answers it as is). */
export type TaskStats = { total: number; by_status: StatusCounts; by_type: Record<string, StatusCounts> };

const zeroCounts = () => Object.fromEntries(taskStatuses.map((status) => [status, 0])) as StatusCounts;

/** Tasks by status, and by type then status: one GROUP BY. */
export async function taskStats(ctx: ServiceContext): Promise<TaskStats> {
  const rows = await ctx.db
    .select({ type: tasks.type, status: tasks.status, value: count() })
    .from(tasks)
    .groupBy(tasks.type, tasks.status);
  const stats: TaskStats = { total: 0, by_status: zeroCounts(), by_type: {} };
  for (const row of rows) {
    stats.total += row.value;
    stats.by_status[row.status] += row.value;
    const ofType = stats.by_type[row.type] ?? zeroCounts();
    ofType[row.status] += row.value;
    stats.by_type[row.type] = ofType;
  }
  return stats;
}

/**
 * FAILURE → PENDING, due now, and its message sent: exactly once, because the UPDATE
 * only matches a FAILURE row (a second retry, concurrent or later, answers 409) and
 * `enqueued_at` is claimed in it (the cron sweep never sends it again). `attempts` is
 * kept, so the retry is one more run that is not charged again; a task that fails
 * once more is FAILURE again.
 */
export async function retryTask(ctx: ServiceContext, id: string): Promise<Task> {
  const task = await getAnyTask(ctx, id);
  if (task.status !== "FAILURE") throw taskNotFailed(task.status);
  const now = taskRuntime.now();
  const [[retried]] = await ctx.db.batch([
    ctx.db
      .update(tasks)
      .set({
        status: "PENDING",
        error: null,
        result: null,
        progress: 0,
        completedAt: null,
        leaseExpiresAt: null,
        cancelRequestedAt: null,
        deadLettered: false,
        runAt: new Date(now),
        enqueuedAt: new Date(now),
      })
      .where(and(eq(tasks.id, id), eq(tasks.status, "FAILURE")))
      .returning(),
    auditStatement(
      ctx,
      {
        action: "task.retry",
        target: { type: "task", id },
        before: { status: task.status, attempts: task.attempts, error: task.error },
        after: { status: "PENDING", attempts: task.attempts, run_at: new Date(now).toISOString() },
      },
      { when: AFTER_CHANGE },
    ),
  ]);
  if (!retried) throw taskNotFailed((await getAnyTask(ctx, id)).status);
  await dispatchNewTask(ctx, retried, now);
  ctx.logger.info("task retried by staff", { task_id: id });
  return retried;
}

/**
 * Cancels any task as its owner could (the same verb, audited as `task.cancel`):
 * PENDING/RETRY → REVOKED, its unspent credits refunded; STARTED → cancellation
 * requested, it stops at its next checkpoint; finished → 409 `task_finished`.
 */
export function cancelAnyTask(ctx: ServiceContext, id: string): Promise<Task> {
  return cancelTask(ctx, id, "staff");
}
