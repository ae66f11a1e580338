/**
 * Background tasks as the API sees them: create, list, read, cancel, delete, and
 * the download of what a task produced. Running them is task-run.job.ts; getting
 * them onto the queue at the right time is task-scheduler.ts.
 */
import { z } from "@hono/zod-openapi";
import { and, eq, inArray, isNull } from "drizzle-orm";
import { finishedTaskStatuses, type Task, type TaskStatus, tasks } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { uuidv7 } from "../../lib/ids";
import type { SortTerm } from "../../lib/list-query";
import type { Page } from "../../lib/pagination";
import { ProblemError, problems } from "../../lib/problem";
import { toFieldErrors } from "../../lib/validation";
import { AFTER_CHANGE, type AuditEntry, auditStatement } from "../audit/audit.service";
import type { AccountErasureStep } from "../auth/accounts";
import { peopleOnly } from "../orgs/org-context";
import { taskAccounting } from "./task-accounting";
import { taskRuntime } from "./task-runtime";
import { dispatchNewTask, withinQueueDelay } from "./task-scheduler";
import { findTaskType, type TaskArtifact, taskTypeNames, taskTypes } from "./task-types";
import type { TaskType } from "./task-types/define";
import { findTask, listTasksWhere, type TaskScope, taskScope } from "./tasks.queries";
import {
  type CreateTaskInput,
  DEFAULT_TASK_RETRIES,
  MAX_SCHEDULE_AHEAD_DAYS,
  type TaskTypeInfoSchema,
  type UpdateTaskInput,
} from "./tasks.schemas";

const DAY_MS = 24 * 60 * 60 * 1000;

const isFinished = (status: TaskStatus) => (finishedTaskStatuses as readonly TaskStatus[]).includes(status);

export const unknownTaskType = (type: string) =>
  new ProblemError({
    status: 400,
    code: "unknown_task_type",
    detail: `There is no task type "${type}". Known types: ${taskTypeNames.join(", ")}.`,
    errors: [{ pointer: "/type", detail: `Must be one of: ${taskTypeNames.join(", ")}.` }],
    extensions: { task_types: taskTypeNames },
  });

export const taskFinished = (status: TaskStatus) =>
  new ProblemError({
    status: 409,
    code: "task_finished",
    detail: `The task has already finished (${status}); there is nothing to cancel.`,
    extensions: { task_status: status },
  });

export const taskNotFinished = (status: TaskStatus) =>
  new ProblemError({
    status: 409,
    code: "task_not_finished",
    detail: `The task is ${status}; only finished tasks (SUCCESS, FAILURE, REVOKED) can be deleted or downloaded. Cancel it first, or wait.`,
    extensions: { task_status: status },
  });

function checkRunAt(runAt: Date, now: number): void {
  const detail =
    runAt.getTime() < now
      ? "Must not be in the past; omit run_at to run the task now."
      : runAt.getTime() > now + MAX_SCHEDULE_AHEAD_DAYS * DAY_MS
        ? `Must be at most ${MAX_SCHEDULE_AHEAD_DAYS} days ahead.`
        : null;
  if (detail) throw problems.validation([{ pointer: "/run_at", detail }], `Invalid run_at: ${detail}`);
}

/**
 * Creates a PENDING task owned by the caller (or the caller's organization, for an API
 * key) and puts its message on the queue, delayed until `run_at` (see task-scheduler.ts).
 */
export async function createTask(ctx: ServiceContext, input: CreateTaskInput): Promise<Task> {
  const scope = await taskScope(ctx);
  const type = findTaskType(input.type);
  if (!type) throw unknownTaskType(input.type);
  if (type.requiresUser && ctx.principal.kind !== "user") throw peopleOnly();
  checkPayload(type, input.type, input.payload);
  const now = taskRuntime.now();
  const runAt = input.run_at === undefined ? new Date(now) : new Date(input.run_at);
  checkRunAt(runAt, now);

  // Paid before it exists: short of credits is a 402 and no task (src/modules/tasks/task-accounting.ts).
  const charged = { id: uuidv7(now), type: input.type, ...scope.owner };
  await taskAccounting.chargeForNewTask(ctx, { task: charged, credits: type.creditCost });
  let task: Task | undefined;
  try {
    [task] = await ctx.db
      .insert(tasks)
      .values({
        ...charged,
        payload: input.payload,
        maxRetries: input.max_retries ?? DEFAULT_TASK_RETRIES,
        runAt,
        // The same clock as run_at, so a task without run_at has run_at = created_at exactly.
        createdAt: new Date(now),
        // Claimed here when the queue can hold the message until run_at; otherwise the cron sweep claims it.
        enqueuedAt: withinQueueDelay(runAt, now) ? new Date(now) : null,
      })
      .returning();
  } catch (error) {
    await taskAccounting.refundUnstartedTask(ctx, charged);
    throw error;
  }
  if (!task) throw new Error("createTask: INSERT returned no row");
  await dispatchNewTask(ctx, task, now);
  ctx.logger.info("task created", { task_id: task.id, type: task.type, run_at: runAt.toISOString() });
  return task;
}

/** A payload that does not fit its type is a 400 whose pointers start at `/payload`. */
function checkPayload(type: TaskType, typeName: string, payload: unknown): void {
  const parsed = type.payload.safeParse(payload);
  if (parsed.success) return;
  const errors = toFieldErrors(parsed.error.issues, "json").map((error) => ({
    ...error,
    pointer: `/payload${error.pointer ?? ""}`,
  }));
  throw problems.validation(errors, `The payload does not fit the ${typeName} task type.`);
}

export const taskNotEditable = (status: TaskStatus) =>
  new ProblemError({
    status: 409,
    code: "task_not_editable",
    detail: `The task is ${status}: only a task still waiting to start (PENDING) can be changed.`,
    extensions: { task_status: status },
  });

/**
 * Changes a task that has not started yet, as Celery users change an ETA: its `run_at`,
 * `payload` (checked against the type again) or `max_retries`. The UPDATE is
 * conditional on PENDING and on the row being the one read, so a run that starts in
 * between wins (409 `task_not_editable`), and the runner's claim is conditional on
 * `run_at` too, so a run cannot start on a time that was just moved. A new `run_at`
 * gets its own message (the one already queued arrives at the old time and is
 * deferred or ignored by the runner).
 */
export async function editTask(ctx: ServiceContext, id: string, input: UpdateTaskInput): Promise<Task> {
  const scope = await taskScope(ctx);
  const task = await findTask(ctx, id, scope.where);
  if (task.status !== "PENDING") throw taskNotEditable(task.status);
  const type = findTaskType(task.type);
  if (input.payload !== undefined && type) checkPayload(type, task.type, input.payload);
  const now = taskRuntime.now();
  const changes: Partial<typeof tasks.$inferInsert> = {};
  if (input.payload !== undefined) changes.payload = input.payload;
  if (input.max_retries !== undefined) changes.maxRetries = input.max_retries;
  if (input.run_at !== undefined) {
    const runAt = new Date(input.run_at);
    checkRunAt(runAt, now);
    changes.runAt = runAt;
    // Claimed now when the queue can hold a message until then; otherwise the cron sweep sends it.
    changes.enqueuedAt = withinQueueDelay(runAt, now) ? new Date(now) : null;
  }
  if (Object.keys(changes).length === 0) return task;
  const [edited] = await ctx.db
    .update(tasks)
    .set({ ...changes, updatedAt: new Date(now) })
    .where(
      and(
        eq(tasks.id, id),
        scope.where,
        eq(tasks.status, "PENDING"),
        eq(tasks.attempts, task.attempts),
        eq(tasks.runAt, task.runAt),
      ),
    )
    .returning();
  if (!edited) {
    const current = await findTask(ctx, id, scope.where);
    throw current.status === "PENDING"
      ? problems.conflict("conflict", "The task changed while it was being edited; read it and try again.")
      : taskNotEditable(current.status);
  }
  if (changes.runAt) await dispatchNewTask(ctx, edited, now);
  ctx.logger.info("task edited", { task_id: id, fields: Object.keys(input) });
  return edited;
}

export type ListTasksInput = {
  limit: number;
  cursor?: string;
  sort: SortTerm[];
  statuses?: TaskStatus[];
  types?: string[];
};

export async function listTasks(ctx: ServiceContext, input: ListTasksInput): Promise<Page<Task>> {
  const scope = await taskScope(ctx);
  const where = and(
    scope.where,
    input.statuses ? inArray(tasks.status, input.statuses) : undefined,
    input.types ? inArray(tasks.type, input.types) : undefined,
  );
  return listTasksWhere(ctx, input, where);
}

export async function getTask(ctx: ServiceContext, id: string): Promise<Task> {
  return findTask(ctx, id, (await taskScope(ctx)).where);
}

/**
 * Who cancels: the task's owner, within their scope, or staff, on any task. A staff
 * cancellation acts on someone else's task, so it is audited as `task.cancel` (the
 * row in the UPDATE's batch, written only when the UPDATE matched); an owner's is not.
 */
export type Canceller = "owner" | "staff";

/**
 * PENDING or RETRY → REVOKED at once (a message still queued for it is skipped).
 * STARTED → cancellation requested: the run stops at its next checkpoint and ends
 * REVOKED; a handler that finishes without reaching one ends SUCCESS. A task already
 * asked to stop is answered as is, with nothing written or audited again. Finished → 409.
 * Each UPDATE is conditional on the status just read, so of two cancellations at once
 * only one writes; the loop covers a task that moves between the read and the UPDATE
 * (a run failing from STARTED to RETRY, say): each try reads the state anew.
 */
export async function cancelTask(ctx: ServiceContext, id: string, by: Canceller = "owner"): Promise<Task> {
  const visible = by === "owner" ? (await taskScope(ctx)).where : undefined;
  const audited = (change: Pick<AuditEntry, "before" | "after">) =>
    by === "staff"
      ? [
          auditStatement(
            ctx,
            { action: "task.cancel", target: { type: "task", id }, ...change },
            { when: AFTER_CHANGE },
          ),
        ]
      : [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const task = await findTask(ctx, id, visible);
    const now = new Date(taskRuntime.now());
    if (isFinished(task.status)) throw taskFinished(task.status);
    if (task.status === "STARTED") {
      if (task.cancelRequestedAt) return task;
      const [[requested]] = await ctx.db.batch([
        ctx.db
          .update(tasks)
          .set({ cancelRequestedAt: now })
          .where(and(eq(tasks.id, id), visible, eq(tasks.status, "STARTED"), isNull(tasks.cancelRequestedAt)))
          .returning(),
        ...audited({
          before: { status: "STARTED", cancel_requested_at: null },
          after: { status: "STARTED", cancel_requested_at: now.toISOString() },
        }),
      ]);
      if (requested) {
        ctx.logger.info("task cancellation requested", { task_id: id, by });
        return requested;
      }
      continue;
    }
    const [[revoked]] = await ctx.db.batch([
      ctx.db
        .update(tasks)
        .set({ status: "REVOKED", completedAt: now, leaseExpiresAt: null })
        .where(and(eq(tasks.id, id), visible, eq(tasks.status, task.status)))
        .returning(),
      ...audited({ before: { status: task.status }, after: { status: "REVOKED" } }),
    ]);
    if (revoked) {
      ctx.logger.info("task cancelled", { task_id: id, by });
      // Never started: whatever it was charged at creation goes back.
      if (revoked.attempts === 0) await taskAccounting.refundUnstartedTask(ctx, revoked);
      return revoked;
    }
  }
  throw problems.conflict("conflict", "The task changed state while it was being cancelled; try again.");
}

/** Finished tasks only; the task's artifact (an export file) goes with it. */
export async function deleteTask(ctx: ServiceContext, id: string): Promise<void> {
  const scope = await taskScope(ctx);
  const deleted = await ctx.db
    .delete(tasks)
    .where(and(eq(tasks.id, id), scope.where, inArray(tasks.status, [...finishedTaskStatuses])))
    .returning()
    .get();
  if (!deleted) throw taskNotFinished((await findTask(ctx, id, scope.where)).status);
  const artifact = findTaskType(deleted.type)?.artifact;
  if (artifact) await ctx.env.FILES.delete(artifact.key(deleted));
  ctx.logger.info("task deleted", { task_id: id });
}

/**
 * What a SUCCESS task produced (its type's artifact), for its owner only. With the
 * request's conditional headers (If-None-Match …), R2 answers an object without a
 * body when the client's copy is current.
 */
export async function openTaskArtifact(
  ctx: ServiceContext,
  id: string,
  conditions?: Headers,
): Promise<{ task: Task; artifact: TaskArtifact; object: R2Object | R2ObjectBody }> {
  const scope: TaskScope = await taskScope(ctx);
  const task = await findTask(ctx, id, scope.where);
  const artifact = findTaskType(task.type)?.artifact;
  if (!artifact) throw problems.notFound("download (this task type produces no file)");
  if (!isFinished(task.status)) throw taskNotFinished(task.status);
  const object =
    task.status === "SUCCESS" ? await ctx.env.FILES.get(artifact.key(task), { onlyIf: conditions }) : null;
  if (!object) throw problems.notFound("download");
  return { task, artifact, object };
}

type TaskTypeInfo = z.infer<typeof TaskTypeInfoSchema>;
let typeCatalog: TaskTypeInfo[] | undefined;

/** The registered types with their JSON Schemas, built once per isolate. */
export function describeTaskTypes(): TaskTypeInfo[] {
  typeCatalog ??= Object.entries(taskTypes).map(([name, type]) => ({
    type: name,
    description: type.description,
    credit_cost: type.creditCost,
    time_limit_seconds: type.timeLimitSeconds,
    requires_user: type.requiresUser,
    payload_schema: z.toJSONSchema(type.payload, { io: "input", unrepresentable: "any" }),
    result_schema: z.toJSONSchema(type.result, { io: "output", unrepresentable: "any" }),
    example_payload: type.example,
  }));
  return typeCatalog;
}

/** Account erasure: the user's tasks, and every file their tasks wrote to R2. */
export const eraseUserTasks: AccountErasureStep = async (ctx, userId) => {
  const prefixes = new Set(
    Object.values(taskTypes).flatMap((type) => (type.artifact ? [type.artifact.userPrefix(userId)] : [])),
  );
  for (const prefix of prefixes) {
    let cursor: string | undefined;
    do {
      const listing = await ctx.env.FILES.list({ prefix, cursor, limit: 1000 });
      if (listing.objects.length > 0) await ctx.env.FILES.delete(listing.objects.map((object) => object.key));
      cursor = listing.truncated ? listing.cursor : undefined;
    } while (cursor);
  }
  return [ctx.db.delete(tasks).where(eq(tasks.ownerUserId, userId))];
};
