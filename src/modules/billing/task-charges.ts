/**
 * What a background task costs, charged to an organization's credits.
 *
 * Who pays: a task created with an API key belongs to the key's organization, which
 * pays. A task created by a person belongs to that person, and is paid by their
 * **personal organization** (the one every account gets at sign-up and owns): a
 * person's own work draws on their own credits, never on a team's they happen to
 * belong to. Team work is done with the team's API key.
 *
 * When: at creation (POST /tasks), so a caller short of credits gets 402
 * `insufficient_credits` and no task. The charge's ledger reference is `task:<id>`,
 * so the runner's call at the first run finds it and charges nothing more; a task
 * that was not charged at creation (created before billing, or a type whose cost
 * changed) is charged then. A task cancelled before it ever ran gets its credits back
 * (`task-refund:<id>`).
 */
import { and, asc, eq } from "drizzle-orm";
import { memberships, organizations, type Task } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { ProblemError } from "../../lib/problem";
import { systemOrgContext } from "../orgs/org-context";
import { insufficientCredits } from "./billing.problems";
import { addCredits, findCreditEntry, spendCredits } from "./credits.service";

export type ChargedTask = Pick<Task, "id" | "type" | "ownerUserId" | "organizationId">;

/** The organization that pays for `task` (see the top of this file); null when there is none. */
export async function payingOrganizationId(ctx: ServiceContext, task: ChargedTask): Promise<string | null> {
  if (task.organizationId) return task.organizationId;
  if (!task.ownerUserId) return null;
  const personal = await ctx.db
    .select({ id: organizations.id })
    .from(memberships)
    .innerJoin(organizations, eq(organizations.id, memberships.organizationId))
    .where(
      and(
        eq(memberships.userId, task.ownerUserId),
        eq(memberships.role, "owner"),
        eq(organizations.isPersonal, true),
      ),
    )
    .orderBy(asc(organizations.createdAt))
    .limit(1)
    .get();
  return personal?.id ?? null;
}

export const taskChargeReference = (taskId: string) => `task:${taskId}`;
const taskRefundReference = (taskId: string) => `task-refund:${taskId}`;

/**
 * Charges `credits` for `task` once: a repeated call (the runner's, after the
 * creation's) spends nothing. 402 `insufficient_credits` when the paying organization
 * cannot cover it, or when there is no organization to pay.
 */
export async function chargeTask(ctx: ServiceContext, task: ChargedTask, credits: number): Promise<void> {
  if (credits <= 0) return;
  const payer = await payingOrganizationId(ctx, task);
  if (!payer) {
    ctx.logger.warn("no organization pays for this task", {
      task_id: task.id,
      owner_user_id: task.ownerUserId,
    });
    throw insufficientCredits({ organizationId: null, balance: 0, required: credits });
  }
  const octx = await systemOrgContext(ctx, payer, "task_charge");
  const result = await spendCredits(octx, {
    amount: credits,
    reference: taskChargeReference(task.id),
    description: `Task ${task.type}`,
  });
  if (result.status === "applied") {
    ctx.logger.info("task charged", {
      task_id: task.id,
      organization_id: payer,
      credits,
      balance: result.balance,
    });
  }
}

/** Gives back what `task` was charged, once; nothing when it was never charged. */
export async function refundTask(ctx: ServiceContext, task: ChargedTask): Promise<void> {
  const payer = await payingOrganizationId(ctx, task);
  if (!payer) return;
  let octx: Awaited<ReturnType<typeof systemOrgContext>>;
  try {
    octx = await systemOrgContext(ctx, payer, "task_refund");
  } catch (error) {
    if (error instanceof ProblemError && error.status === 404) return;
    throw error;
  }
  const charge = await findCreditEntry(octx, taskChargeReference(task.id));
  if (!charge || charge.amount >= 0) return;
  const result = await addCredits(octx, {
    kind: "refund",
    amount: -charge.amount,
    reference: taskRefundReference(task.id),
    description: `Task ${task.type} cancelled before it ran`,
  });
  if (result.status === "applied") {
    ctx.logger.info("task refunded", { task_id: task.id, organization_id: payer, credits: -charge.amount });
  }
}
