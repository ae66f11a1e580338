/**
 * Who owns which task, and the task as the API shows it. Every query of the module
 * filters with the caller's `TaskScope`, so another tenant's task is simply not found;
 * only the staff verbs (tasks.staff.ts) read without one, as staff see every task.
 */
import { and, eq, type SQL } from "drizzle-orm";
import { type Task, tasks } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import type { SortTerm } from "../../lib/list-query";
import { keysetPage, listPage, type Page } from "../../lib/pagination";
import { problems } from "../../lib/problem";
import { apiKeyOrgContext, ownedBy } from "../orgs/org-context";
import type { TaskDto } from "./tasks.schemas";

export type TaskOwner =
  | { ownerUserId: string; organizationId: null }
  | { ownerUserId: null; organizationId: string };

export type TaskScope = {
  /** `WHERE` filter selecting the caller's tasks. */
  where: SQL;
  /** The owner columns of a task the caller creates. */
  owner: TaskOwner;
};

/**
 * A signed-in person's tasks are their own; an API key's are its organization's
 * (resolved and checked by the orgs module). Route guards have already refused
 * anonymous callers and keys without the `tasks:*` scope.
 */
export async function taskScope(ctx: ServiceContext): Promise<TaskScope> {
  const principal = ctx.principal;
  if (principal.kind === "user") {
    return {
      where: eq(tasks.ownerUserId, principal.userId),
      owner: { ownerUserId: principal.userId, organizationId: null },
    };
  }
  const octx = await apiKeyOrgContext(ctx);
  if (!octx) throw problems.unauthorized();
  return {
    where: ownedBy(octx, tasks.organizationId),
    owner: { ownerUserId: null, organizationId: octx.organization.id },
  };
}

export const taskNotFound = () => problems.notFound("task");

/**
 * The task `id` if the caller may see it, else 404. `visible` is the caller's
 * `TaskScope.where`; staff pass none.
 */
export async function findTask(ctx: ServiceContext, id: string, visible: SQL | undefined): Promise<Task> {
  const task = await ctx.db
    .select()
    .from(tasks)
    .where(and(eq(tasks.id, id), visible))
    .get();
  if (!task) throw taskNotFound();
  return task;
}

/** One page of the tasks `where` selects, sorted by `created_at` or `run_at` (the id breaks ties). */
export function listTasksWhere(
  ctx: ServiceContext,
  input: { limit: number; cursor?: string; sort: SortTerm[] },
  where: SQL | undefined,
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
  return listPage(ctx.db, page, {
    rows: ctx.db.select().from(tasks).$dynamic(),
    countFrom: tasks,
    where,
  });
}

const iso = (date: Date | null) => date?.toISOString() ?? null;

export function toTaskDto(task: Task): TaskDto {
  return {
    id: task.id,
    type: task.type,
    status: task.status,
    payload: task.payload,
    result: task.result ?? null,
    error: task.error ?? null,
    progress: task.progress,
    attempts: task.attempts,
    max_retries: task.maxRetries,
    run_at: task.runAt.toISOString(),
    created_at: task.createdAt.toISOString(),
    started_at: iso(task.startedAt),
    completed_at: iso(task.completedAt),
    cancel_requested_at: iso(task.cancelRequestedAt),
  };
}
