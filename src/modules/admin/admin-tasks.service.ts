/**
 * Staff view of every task, whoever owns it, and the two staff actions: retry a
 * FAILURE and cancel. Both are conditional UPDATEs on the status read (so of two
 * staff acting at once only one changes the task), each with its audit row in the
 * same batch, written only when the UPDATE matched (AFTER_CHANGE).
 */

import { and, count, eq, isNull, type SQL } from "drizzle-orm";
import { type Task, type TaskStatus, taskStatuses, tasks } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import type { SortTerm } from "../../lib/list-query";
import { keysetPage, listPage, type Page } from "../../lib/pagination";
import { ProblemError, problems } from "../../lib/problem";
import { AFTER_CHANGE, auditStatement } from "../audit/audit.service";
import { taskAccounting } from "../tasks/task-accounting";
import { taskRuntime } from "../tasks/task-runtime";
import { dispatchNewTask } from "../tasks/task-scheduler";
import { toTaskDto } from "../tasks/tasks.queries";
import { taskFinished } from "../tasks/tasks.service";
import type { AdminTaskDto, TaskStatsDto } from "./admin-tasks.schemas";

export function toAdminTaskDto(task: Task): AdminTaskDto {
  return {
    ...toTaskDto(task),
    owner_user_id: task.ownerUserId,
    organization_id: task.organizationId,
    dead_lettered: task.deadLettered,
  };
}

export const taskNotFailed = (status: TaskStatus) =>
  new ProblemError({
    status: 409,
    code: "task_not_failed",
    detail: `Only FAILURE tasks can be retried; this one is ${status}.`,
    extensions: { task_status: status },
  });

async function findTask(ctx: ServiceContext, id: string): Promise<Task> {
  const task = await ctx.db.select().from(tasks).where(eq(tasks.id, id)).get();
  if (!task) throw problems.notFound("task");
  return task;
}

export async function getAnyTask(ctx: ServiceContext, id: string): Promise<Task> {
  return findTask(ctx, id);
}

export async function listAllTasks(
  ctx: ServiceContext,
  input: {
    limit: number;
    cursor?: string;
    sort: SortTerm[];
    status?: TaskStatus;
    type?: string;
    ownerUserId?: string;
    organizationId?: string;
  },
): Promise<Page<Task>> {
  const page = keysetPage<Task>({
    sort: input.sort,
    columns: {
      created_at: { column: tasks.createdAt, read: (row) => row.createdAt.getTime() },
      run_at: { column: tasks.runAt, read: (row) => row.runAt.getTime() },
    },
    tiebreaker: { column: tasks.id, read: (row) => row.id },
    limit: input.limit,
    cursor: input.cursor,
  });
  const filters: Array<SQL | undefined> = [
    input.status ? eq(tasks.status, input.status) : undefined,
    input.type ? eq(tasks.type, input.type) : undefined,
    input.ownerUserId ? eq(tasks.ownerUserId, input.ownerUserId) : undefined,
    input.organizationId ? eq(tasks.organizationId, input.organizationId) : undefined,
  ];
  const where = and(...filters);
  return listPage(ctx.db, page, {
    rows: ctx.db.select().from(tasks).$dynamic(),
    countFrom: tasks,
    where,
  });
}

const zeroCounts = () =>
  Object.fromEntries(taskStatuses.map((status) => [status, 0])) as Record<TaskStatus, number>;

/** Tasks by status, and by type then status: one GROUP BY. */
export async function taskStats(ctx: ServiceContext): Promise<TaskStatsDto> {
  const rows = await ctx.db
    .select({ type: tasks.type, status: tasks.status, value: count() })
    .from(tasks)
    .groupBy(tasks.type, tasks.status);
  const stats: TaskStatsDto = { total: 0, by_status: zeroCounts(), by_type: {} };
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
  const task = await findTask(ctx, id);
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
  if (!retried) throw taskNotFailed((await findTask(ctx, id)).status);
  await dispatchNewTask(ctx, retried, now);
  ctx.logger.info("task retried by staff", { task_id: id });
  return retried;
}

/**
 * Cancels any task as its owner could: PENDING/RETRY → REVOKED (`requested: false`);
 * STARTED → cancellation requested, it stops at its next checkpoint (`requested: true`);
 * finished → 409 `task_finished`. A task already asked to stop is answered as is,
 * with nothing written or audited again.
 */
export async function cancelAnyTask(
  ctx: ServiceContext,
  id: string,
): Promise<{ task: Task; requested: boolean }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const task = await findTask(ctx, id);
    const now = new Date(taskRuntime.now());
    if (task.status === "SUCCESS" || task.status === "FAILURE" || task.status === "REVOKED") {
      throw taskFinished(task.status);
    }
    if (task.status === "STARTED") {
      if (task.cancelRequestedAt) return { task, requested: true };
      const [[requested]] = await ctx.db.batch([
        ctx.db
          .update(tasks)
          .set({ cancelRequestedAt: now })
          .where(and(eq(tasks.id, id), eq(tasks.status, "STARTED"), isNull(tasks.cancelRequestedAt)))
          .returning(),
        auditStatement(
          ctx,
          {
            action: "task.cancel",
            target: { type: "task", id },
            before: { status: "STARTED", cancel_requested_at: null },
            after: { status: "STARTED", cancel_requested_at: now.toISOString() },
          },
          { when: AFTER_CHANGE },
        ),
      ]);
      if (requested) return { task: requested, requested: true };
      continue;
    }
    const [[revoked]] = await ctx.db.batch([
      ctx.db
        .update(tasks)
        .set({ status: "REVOKED", completedAt: now, leaseExpiresAt: null })
        .where(and(eq(tasks.id, id), eq(tasks.status, task.status)))
        .returning(),
      auditStatement(
        ctx,
        {
          action: "task.cancel",
          target: { type: "task", id },
          before: { status: task.status },
          after: { status: "REVOKED" },
        },
        { when: AFTER_CHANGE },
      ),
    ]);
    if (revoked) {
      // Same rule as the owner's cancel: credits charged for a task that never ran come back.
      if (revoked.attempts === 0) await taskAccounting.refundUnstartedTask(ctx, revoked);
      return { task: revoked, requested: false };
    }
  }
  throw problems.conflict("conflict", "The task changed state while it was being cancelled; try again.");
}
