/**
 * The usage-accounting seam: where a task's credit cost meets billing.
 *
 * - `chargeForNewTask`: POST /tasks calls it before storing the task. The type's
 *   `creditCost` is debited from the paying organization (the API key's organization,
 *   or the person's personal organization; see src/modules/billing/task-charges.ts).
 *   Short of credits: 402 `insufficient_credits`, and no task is created.
 * - `chargeForTask`: the runner calls it once per task, when its first run starts
 *   (retries and redeliveries are not charged again). The charge is keyed by the task
 *   id, so a task already charged at creation is not charged twice; one that was not
 *   (created before billing, say) is charged now, and short of credits fails at once
 *   with `insufficient_credits` (a PermanentTaskError: no retry can help).
 * - `refundUnstartedTask`: a task that never ran (cancelled while PENDING, or its
 *   creation failed after the charge) gets its credits back, once.
 *
 * Free types (cost 0) touch nothing.
 */
import type { Task } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { ProblemError } from "../../lib/problem";
import { chargeTask, refundTask } from "../billing/task-charges";
import { PermanentTaskError } from "./task-errors";

export type TaskCharge = {
  task: Pick<Task, "id" | "type" | "ownerUserId" | "organizationId">;
  /** The type's declared cost (0 for free types; the seam is called for them too). */
  credits: number;
};

export const taskAccounting = {
  async chargeForNewTask(ctx: ServiceContext, charge: TaskCharge): Promise<void> {
    await chargeTask(ctx, charge.task, charge.credits);
  },

  async chargeForTask(ctx: ServiceContext, charge: TaskCharge): Promise<void> {
    try {
      await chargeTask(ctx, charge.task, charge.credits);
    } catch (error) {
      if (error instanceof ProblemError && error.code === "insufficient_credits") {
        throw new PermanentTaskError("insufficient_credits", error.message);
      }
      throw error;
    }
  },

  async refundUnstartedTask(ctx: ServiceContext, task: TaskCharge["task"]): Promise<void> {
    await refundTask(ctx, task);
  },
};
