/**
 * Who owns which task, and the task as the API shows it. Every query of the module
 * filters with the caller's `TaskScope`, so another tenant's task is simply not found.
 */
import { and, eq, type SQL } from "drizzle-orm";
import { type Task, tasks } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
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

export async function findScopedTask(ctx: ServiceContext, scope: TaskScope, id: string): Promise<Task> {
  const task = await ctx.db
    .select()
    .from(tasks)
    .where(and(eq(tasks.id, id), scope.where))
    .get();
  if (!task) throw taskNotFound();
  return task;
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
