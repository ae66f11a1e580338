/**
 * What happens when a task run ends: the run is counted for /metrics and, for SUCCESS
 * and FAILURE, its owner is told in the app. Called from one
 * place, the runner's `finish()`, right after the status write, so the notification
 * never announces a state GET /tasks/{id} does not show yet.
 */
import type { Task } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { serializeError } from "../../lib/logger";
import { countTaskRun } from "../metrics/metrics.recorder";
import { notify } from "../notifications/notifications.service";
import { taskPath } from "./tasks.urls";

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
