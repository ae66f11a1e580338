/**
 * What happens when a task run ends: the run is counted for /metrics and, for SUCCESS
 * and FAILURE, its owner is told in the app. Called from one
 * place, the runner's `finish()`, right after the status write, so the notification
 * never announces a state GET /tasks/{id} does not show yet.
 */
import { sql } from "drizzle-orm";
import { type Task, type TaskErrorInfo, tasks } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { serializeError } from "../../lib/logger";
import { countTaskRun } from "../metrics/metrics.recorder";
import { notify } from "../notifications/notifications.service";
import { type OutboxEvent, webhookEventStatement } from "../webhooks/outbox";
import { taskPath } from "./tasks.urls";

type FinishedRun =
  | { status: "SUCCESS"; result: unknown }
  | { status: "FAILURE"; error: TaskErrorInfo }
  | { status: "REVOKED" | "RETRY" };

/**
 * The webhook event of a run that ends an organization's task SUCCESS or FAILURE, for
 * the batch of the status write (task-run.job.ts → finish). Written only if that write
 * matched and left the status announced: a FAILURE that a pending cancellation turns
 * into REVOKED announces nothing. Tasks of a person (created with an access token) have
 * no organization, so no endpoint to tell.
 */
export function taskWebhookEvent(
  ctx: ServiceContext,
  task: Task,
  run: FinishedRun,
  now: number,
): OutboxEvent | null {
  if (!task.organizationId || (run.status !== "SUCCESS" && run.status !== "FAILURE")) return null;
  const succeeded = run.status === "SUCCESS";
  const common = {
    organization_id: task.organizationId,
    id: task.id,
    type: task.type,
    attempts: task.attempts,
    created_at: task.createdAt.toISOString(),
    started_at: task.startedAt?.toISOString() ?? null,
    completed_at: new Date(now).toISOString(),
  };
  const when = sql`changes() = 1 and exists (select 1 from ${tasks} where ${tasks.id} = ${task.id} and ${tasks.status} = ${run.status})`;
  return succeeded
    ? webhookEventStatement(
        ctx,
        task.organizationId,
        "task.completed",
        { ...common, status: "SUCCESS", result: run.result ?? null, error: null },
        { when },
      )
    : webhookEventStatement(
        ctx,
        task.organizationId,
        "task.failed",
        { ...common, status: "FAILURE", result: null, error: run.status === "FAILURE" ? run.error : null },
        { when },
      );
}

export async function onTaskFinished(ctx: ServiceContext, task: Task): Promise<void> {
  countTaskRun(task.type, task.status);
  // Tasks of an organization (created with an API key) have no person to tell; integrators poll or list.
  if (!task.ownerUserId) return;
  if (task.status !== "SUCCESS" && task.status !== "FAILURE") return;
  const succeeded = task.status === "SUCCESS";
  try {
    await notify(ctx, task.ownerUserId, {
      type: succeeded ? "task_completed" : "task_failed",
      title: succeeded ? `Task ${task.type} completed` : `Task ${task.type} failed`,
      message: succeeded
        ? `Your ${task.type} task finished successfully.`
        : `Your ${task.type} task failed after ${task.attempts} attempt${task.attempts === 1 ? "" : "s"}: ${task.error?.message ?? "unknown error"}`,
      target_url: taskPath(task.id),
      data: { task_id: task.id, type: task.type, status: task.status },
    });
  } catch (error) {
    // The task's outcome is already recorded; a lost notification must not turn into a retry of the task.
    ctx.logger.error("task notification failed", { task_id: task.id, error: serializeError(error) });
  }
}
