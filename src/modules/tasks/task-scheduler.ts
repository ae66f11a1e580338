/**
 * Getting a task's message onto JOBS_QUEUE at the right time, exactly once.
 *
 * A task due within the queue's delay limit (12 h) gets its message at once, sent
 * with `delaySeconds` until `run_at`. A task further ahead waits in D1 until the
 * per-minute cron sweep (`enqueueScheduledTasks`, run by task-scheduler.cron.ts) finds
 * it inside that window. Either way `enqueued_at` is the claim: it is set by a
 * conditional UPDATE before the send, so two sweeps (or a sweep and the creating
 * request) never send the same task twice. A send the queue refuses releases the
 * claim, and the next sweep tries again.
 */
import { and, asc, eq, inArray, isNull, lte } from "drizzle-orm";
import { tasks } from "../../db/schema";
import { delaySecondsUntil, enqueueAt, MAX_QUEUE_DELAY_SECONDS } from "../../jobs/enqueue";
import type { ServiceContext } from "../../lib/context";
import { serializeError } from "../../lib/logger";

export { delaySecondsUntil, MAX_QUEUE_DELAY_SECONDS };

const SWEEP_BATCH = 100;
const SWEEP_MAX_ROUNDS = 10;

/** Whether a message sent now can be delayed until `runAt`. */
export function withinQueueDelay(runAt: Date, now: number): boolean {
  return delaySecondsUntil(runAt, now) <= MAX_QUEUE_DELAY_SECONDS;
}

/** Sends `task.run`, delayed until `runAt`; false (logged) when the queue refused it. */
async function sendRunMessage(
  ctx: ServiceContext,
  taskId: string,
  runAt: Date,
  now: number,
): Promise<boolean> {
  try {
    await enqueueAt(ctx.env.JOBS_QUEUE, { type: "task.run", task_id: taskId }, runAt, now, {
      d1Session: ctx.dbSession,
    });
    return true;
  } catch (error) {
    ctx.logger.error("task message not sent; the cron sweep will retry", {
      task_id: taskId,
      error: serializeError(error),
    });
    return false;
  }
}

/** Gives a claim back so the sweep sends the task; only while the task still waits. */
async function releaseClaim(ctx: ServiceContext, taskIds: string[]): Promise<void> {
  if (taskIds.length === 0) return;
  await ctx.db
    .update(tasks)
    .set({ enqueuedAt: null })
    .where(and(inArray(tasks.id, taskIds), eq(tasks.status, "PENDING")));
}

/**
 * Sends the message of a task just created. `task.enqueuedAt` was set in the INSERT
 * when `run_at` is within the queue's delay limit; otherwise the sweep sends it.
 */
export async function dispatchNewTask(
  ctx: ServiceContext,
  task: { id: string; runAt: Date; enqueuedAt: Date | null },
  now: number,
): Promise<void> {
  if (!task.enqueuedAt) return;
  if (!(await sendRunMessage(ctx, task.id, task.runAt, now))) await releaseClaim(ctx, [task.id]);
}

/**
 * A message that arrived before its task's `run_at` (a clock disagreement, or a
 * duplicate from another path): send a fresh one for the remaining time, or leave the
 * task to the sweep when that is beyond the delay limit.
 */
export async function deferTask(ctx: ServiceContext, task: { id: string; runAt: Date }, now: number) {
  if (withinQueueDelay(task.runAt, now) && (await sendRunMessage(ctx, task.id, task.runAt, now))) return;
  await releaseClaim(ctx, [task.id]);
}

/**
 * The cron sweep: claims PENDING tasks with no message whose `run_at` is within the
 * queue's delay limit of `now`, and sends each with the remaining delay, so they start
 * on time to the second rather than to the minute.
 */
export async function enqueueScheduledTasks(
  ctx: ServiceContext,
  now: number,
): Promise<{ enqueued: number; failed: number }> {
  const horizon = new Date(now + MAX_QUEUE_DELAY_SECONDS * 1000);
  const awaiting = and(eq(tasks.status, "PENDING"), isNull(tasks.enqueuedAt), lte(tasks.runAt, horizon));
  let enqueued = 0;
  const failed: string[] = [];
  for (let round = 0; round < SWEEP_MAX_ROUNDS; round++) {
    // One statement: concurrent sweeps each claim a row at most once (D1 runs writes one at a time).
    const claimed = await ctx.db
      .update(tasks)
      .set({ enqueuedAt: new Date(now) })
      .where(
        and(
          inArray(
            tasks.id,
            ctx.db
              .select({ id: tasks.id })
              .from(tasks)
              .where(awaiting)
              .orderBy(asc(tasks.runAt))
              .limit(SWEEP_BATCH),
          ),
          awaiting,
        ),
      )
      .returning({ id: tasks.id, runAt: tasks.runAt });
    const sent = await Promise.all(claimed.map((task) => sendRunMessage(ctx, task.id, task.runAt, now)));
    claimed.forEach((task, i) => {
      if (sent[i]) enqueued += 1;
      else failed.push(task.id);
    });
    if (claimed.length < SWEEP_BATCH) break;
  }
  // Released after the loop, so a failing queue is not retried within this same sweep.
  await releaseClaim(ctx, failed);
  return { enqueued, failed: failed.length };
}
