/**
 * Cron, every minute: tasks due within the queue's delay limit get their message
 * (task-scheduler.ts → enqueueScheduledTasks). Listed in src/modules/wiring.ts.
 */
import type { MaintenanceJob } from "../../jobs/maintenance-job";
import { enqueueScheduledTasks } from "./task-scheduler";

export const enqueueScheduledTasksJob: MaintenanceJob = {
  name: "tasks.enqueue_scheduled",
  everyMinutes: 1,
  run: (ctx, now) => enqueueScheduledTasks(ctx, now.getTime()),
};
