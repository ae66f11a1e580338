import { z } from "zod";

/**
 * "Run this task": the whole message. Everything else (payload, status, attempts)
 * is read from the task row when the message is consumed, so a stale or duplicated
 * message can never carry stale data into a run. Unknown fields are dropped rather than
 * refused, so a message from a newer deployment still runs during a rollout.
 */
export const taskRunMessage = z.object({
  type: z.literal("task.run"),
  task_id: z.uuid(),
});

export type TaskRunMessage = z.infer<typeof taskRunMessage>;
