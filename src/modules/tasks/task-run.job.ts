/**
 * The `task.run` queue handler: one delivery of a task's message → at most one run.
 *
 * Delivery is at-least-once, so nothing here trusts the message: the task row is
 * read, and every status change is a conditional UPDATE on (id, status, attempts).
 * A duplicate delivery finds the task STARTED or finished and does nothing; a
 * delivery of a REVOKED task is skipped; two deliveries racing for one PENDING task
 * both try the claim and only one UPDATE matches.
 *
 * Outcomes, as the consumer in src/jobs/consumer.ts sees them: returning = ack;
 * throwing = `message.retry()` with exponential backoff. So a run that fails with
 * retries left records RETRY and throws `TaskRetryScheduled`; a run that used its last
 * retry records FAILURE and throws `TaskDeadLettered`, which the consumer keeps
 * retrying until the queue's own max_retries moves the message to the dead-letter
 * queue (a task with fewer retries than the queue bounces there, its row unchanged).
 */
import { and, eq, sql } from "drizzle-orm";
import { compiledRowById } from "../../db/compiled-query";
import { type Task, type TaskErrorInfo, tasks } from "../../db/schema";
import type { QueueHandlerDeps } from "../../jobs/queue-handler";
import type { ServiceContext } from "../../lib/context";
import { serializeError } from "../../lib/logger";
import { dispatchWebhookEvents } from "../webhooks/outbox";
import { taskAccounting } from "./task-accounting";
import {
  describeTaskError,
  PermanentTaskError,
  TaskCancelledError,
  TaskError,
  TaskLostError,
  TaskTimeLimitError,
} from "./task-errors";
import { onTaskFinished, taskWebhookEvent } from "./task-events";
import type { TaskRunMessage } from "./task-message";
import { taskRuntime } from "./task-runtime";
import { deferTask } from "./task-scheduler";
import { findTaskType, type TaskRun, type TaskType } from "./task-types";
import { DEFAULT_TIME_LIMIT_SECONDS } from "./task-types/define";

/** Beyond the time limit, how long a STARTED task is left alone before a redelivery may take it over. */
export const LEASE_GRACE_SECONDS = 30;
/** A message may arrive this much before `run_at` (clocks disagree slightly) and still run. */
const EARLY_TOLERANCE_MS = 1_000;

/** Thrown after a failed run was recorded as RETRY: the consumer retries the message with backoff. */
export class TaskRetryScheduled extends Error {
  constructor(task: Task) {
    super(
      `Task ${task.id} failed on attempt ${task.attempts} of ${task.maxRetries + 1}; it will be retried.`,
    );
    this.name = "TaskRetryScheduled";
  }
}

/** Thrown for a task that failed after its retries: the message goes on to the dead-letter queue. */
export class TaskDeadLettered extends Error {
  constructor(task: Task) {
    super(
      `Task ${task.id} failed after ${task.attempts} attempts; its message goes to the dead-letter queue.`,
    );
    this.name = "TaskDeadLettered";
  }
}

type Outcome =
  /** This run no longer owns the task (see TaskLostError): nothing to record. */
  | { status: "LOST" }
  | { status: "SUCCESS"; result: unknown }
  | { status: "REVOKED" }
  | { status: "RETRY"; error: TaskErrorInfo }
  | { status: "FAILURE"; error: TaskErrorInfo; deadLettered: boolean };

// Every delivery starts by reading its task: built into SQL once per isolate (src/db/compiled-query.ts).
const taskById = compiledRowById(tasks);

export async function runTaskMessage(message: TaskRunMessage, deps: QueueHandlerDeps): Promise<void> {
  const logger = deps.logger.child({ task_id: message.task_id });
  const ctx: ServiceContext = { ...deps.ctx, logger };
  const now = taskRuntime.now();
  const task = await taskById.get(ctx.dbSession, { id: message.task_id });
  if (!task) {
    logger.info("task no longer exists; message dropped");
    return;
  }

  switch (task.status) {
    case "SUCCESS":
    case "REVOKED":
      logger.info("task already finished; delivery ignored", { status: task.status });
      return;
    case "FAILURE":
      if (task.deadLettered) throw new TaskDeadLettered(task);
      logger.info("task already failed; delivery ignored");
      return;
    case "STARTED":
      if (task.leaseExpiresAt && task.leaseExpiresAt.getTime() > now) {
        logger.info("task is running; duplicate delivery ignored");
        return;
      }
      // The run holding the task outlived its time limit and grace: its Worker died. Take it over.
      logger.warn("task run abandoned; taking it over", { attempts: task.attempts });
      if (task.cancelRequestedAt) {
        await finish(ctx, task, { status: "REVOKED" });
        return;
      }
      break;
    case "PENDING":
      if (task.runAt.getTime() > now + EARLY_TOLERANCE_MS) {
        logger.info("task is not due yet; deferred", { run_at: task.runAt.toISOString() });
        await deferTask(ctx, task, now);
        return;
      }
      break;
    case "RETRY":
      break;
  }

  const type = findTaskType(task.type);
  const claimed = await claim(ctx, task, type?.timeLimitSeconds ?? DEFAULT_TIME_LIMIT_SECONDS, now);
  if (!claimed) {
    logger.info("task was claimed or cancelled by someone else; delivery ignored");
    return;
  }
  const outcome = await execute(ctx, claimed, type, deps);
  if (outcome.status === "LOST") {
    logger.warn("task changed while it ran (erased, or taken over); run abandoned");
    return;
  }
  const finished = await finish(ctx, claimed, outcome);
  if (finished?.status === "RETRY") throw new TaskRetryScheduled(finished);
  if (finished?.status === "FAILURE" && finished.deadLettered) throw new TaskDeadLettered(finished);
}

/** PENDING / RETRY / abandoned STARTED → STARTED, only if nobody changed the row since it was read. */
async function claim(ctx: ServiceContext, task: Task, limitSeconds: number, now: number) {
  return (
    ctx.db
      .update(tasks)
      .set({
        status: "STARTED",
        attempts: task.attempts + 1,
        progress: 0,
        startedAt: new Date(now),
        completedAt: null,
        leaseExpiresAt: new Date(now + (limitSeconds + LEASE_GRACE_SECONDS) * 1000),
      })
      // run_at too: a PATCH that moved the task between the read and here wins, and sent its own message.
      .where(
        and(
          eq(tasks.id, task.id),
          eq(tasks.status, task.status),
          eq(tasks.attempts, task.attempts),
          eq(tasks.runAt, task.runAt),
        ),
      )
      .returning()
      .get()
  );
}

async function execute(
  ctx: ServiceContext,
  task: Task,
  type: TaskType | undefined,
  deps: QueueHandlerDeps,
): Promise<Outcome> {
  try {
    if (!type)
      throw new PermanentTaskError("unknown_task_type", `No task type "${task.type}" is registered.`);
    const payload = type.payload.safeParse(task.payload);
    if (!payload.success) {
      const issue = payload.error.issues[0];
      throw new PermanentTaskError(
        "invalid_payload",
        `The payload does not fit the ${task.type} schema${issue ? ` (/${issue.path.join("/")}: ${issue.message})` : ""}.`,
      );
    }
    // Charged once per task: retries and takeovers of a crashed run are not charged again.
    if (task.attempts === 1) {
      await taskAccounting.chargeForTask(ctx, { task, credits: type.creditCost });
    }
    const value = await withTimeLimit(type.timeLimitSeconds, (signal) =>
      type.run(payload.data, runContext(ctx, task, signal)),
    );
    const result = type.result.safeParse(value);
    if (!result.success) {
      ctx.logger.error("task handler returned a result outside its schema", { issues: result.error.issues });
      throw new PermanentTaskError("invalid_result", "The task produced a result of the wrong shape.");
    }
    ctx.logger.info("task succeeded", { type: task.type, attempts: task.attempts });
    return { status: "SUCCESS", result: result.data };
  } catch (error) {
    return failureOutcome(ctx, task, error, deps);
  }
}

function failureOutcome(ctx: ServiceContext, task: Task, error: unknown, deps: QueueHandlerDeps): Outcome {
  if (error instanceof TaskLostError) return { status: "LOST" };
  if (error instanceof TaskCancelledError) {
    ctx.logger.info("task cancelled at a checkpoint");
    return { status: "REVOKED" };
  }
  const info = describeTaskError(error);
  const fields = { type: task.type, attempts: task.attempts, error: serializeError(error) };
  if (error instanceof TaskError && error.permanent) {
    ctx.logger.warn("task failed permanently; not retried", fields);
    return { status: "FAILURE", error: info, deadLettered: false };
  }
  // The queue's own budget bounds ours: never leave a task RETRY whose message is about to be dead-lettered.
  if (task.attempts <= task.maxRetries && !deps.lastAttempt) {
    ctx.logger.warn("task failed; will retry", fields);
    return { status: "RETRY", error: info };
  }
  ctx.logger.error("task failed after its retries", fields);
  return { status: "FAILURE", error: info, deadLettered: true };
}

/**
 * Records the run's outcome, if this run still owns the task. A cancellation asked
 * for during a failed run wins over RETRY/FAILURE (the owner wanted it stopped); a
 * run that completes despite a cancellation request stays SUCCESS (it never reached
 * a checkpoint to stop at). SUCCESS and FAILURE then tell the owner.
 */
async function finish(
  ctx: ServiceContext,
  task: Task,
  outcome: Exclude<Outcome, { status: "LOST" }>,
): Promise<Task | undefined> {
  const now = taskRuntime.now();
  const cancelled = sql`${tasks.cancelRequestedAt} is not null`;
  const changes = (() => {
    switch (outcome.status) {
      case "SUCCESS":
        return {
          status: "SUCCESS" as const,
          result: outcome.result,
          error: null,
          progress: 100,
          completedAt: new Date(now),
        };
      case "REVOKED":
        return { status: "REVOKED" as const, completedAt: new Date(now) };
      case "RETRY":
        return {
          status: sql<Task["status"]>`case when ${cancelled} then 'REVOKED' else 'RETRY' end`,
          completedAt: sql<Date | null>`case when ${cancelled} then ${now} else null end`,
          error: outcome.error,
        };
      case "FAILURE":
        return {
          status: sql<Task["status"]>`case when ${cancelled} then 'REVOKED' else 'FAILURE' end`,
          completedAt: new Date(now),
          error: outcome.error,
          deadLettered: outcome.deadLettered,
        };
    }
  })();
  const write = ctx.db
    .update(tasks)
    .set({ ...changes, leaseExpiresAt: null })
    .where(and(eq(tasks.id, task.id), eq(tasks.status, "STARTED"), eq(tasks.attempts, task.attempts)))
    .returning();
  // An organization's task.completed / task.failed, in the same batch as the status it announces.
  const event = taskWebhookEvent(ctx, task, outcome, now);
  const [[updated]] = event ? await ctx.db.batch([write, event.statement]) : await ctx.db.batch([write]);
  if (event) await dispatchWebhookEvents(ctx, [event]);
  if (!updated) {
    ctx.logger.warn("task changed while it ran (erased, or taken over); outcome dropped", {
      outcome: outcome.status,
    });
    if (outcome.status === "SUCCESS") await removeArtifact(ctx, task);
    return undefined;
  }
  await onTaskFinished(ctx, updated);
  return updated;
}

/** An artifact written by a run whose task has vanished belongs to nobody: remove it. */
async function removeArtifact(ctx: ServiceContext, task: Task): Promise<void> {
  const artifact = findTaskType(task.type)?.artifact;
  if (artifact) await ctx.env.FILES.delete(artifact.key(task));
}

function runContext(ctx: ServiceContext, task: Task, signal: AbortSignal): TaskRun {
  return {
    ctx,
    task,
    signal,
    now: () => taskRuntime.now(),
    sleep: (ms) => taskRuntime.sleep(ms, signal),
    async checkpoint(progress) {
      if (signal.aborted) throw signal.reason;
      const row = await ctx.db
        .update(tasks)
        .set({
          progress:
            progress === undefined
              ? sql`${tasks.progress}`
              : Math.min(100, Math.max(0, Math.round(progress))),
        })
        .where(and(eq(tasks.id, task.id), eq(tasks.status, "STARTED"), eq(tasks.attempts, task.attempts)))
        .returning({ cancelRequestedAt: tasks.cancelRequestedAt })
        .get();
      if (!row) throw new TaskLostError();
      if (row.cancelRequestedAt) throw new TaskCancelledError();
    },
  };
}

/**
 * Runs `body`, giving up after `limitSeconds`: the signal aborts (so cooperative
 * handlers stop at their next sleep or checkpoint) and the run fails as timed out.
 */
async function withTimeLimit<T>(limitSeconds: number, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new TaskTimeLimitError(limitSeconds);
      controller.abort(error);
      reject(error);
    }, limitSeconds * 1000);
  });
  try {
    return await Promise.race([body(controller.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}
