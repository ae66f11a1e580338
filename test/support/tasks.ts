/**
 * Driving background tasks from tests. JOBS_QUEUE sends are held (recorded, not
 * delivered), so the real local queue's consumer never races a test; each test then
 * delivers the recorded `task.run` message to the Worker's queue handler itself
 * (createMessageBatch), as delivery number `attempts`, and reads the ack or retry.
 * Time is the tasks module's clock (`taskRuntime`), moved explicitly.
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { expect, vi } from "vitest";
import { getDb } from "../../src/db/client";
import { type Task, tasks } from "../../src/db/schema";
import { taskRuntime } from "../../src/modules/tasks/task-runtime";
import type { TaskDto } from "../../src/modules/tasks/tasks.schemas";
import { runQueueBatch } from "./background";
import { as, jsonOf } from "./http";

export const JOBS_QUEUE = "edge-api-jobs";

export type HeldMessage = { body: unknown; delaySeconds?: number };

/**
 * The body a request or the cron sends to run `taskId`: the id, and the D1 bookmark of the
 * work that wrote the row (the envelope of src/jobs/messages.ts), so the consumer reads it.
 */
export const taskRunBody = (taskId: string) => ({
  type: "task.run",
  task_id: taskId,
  d1_bookmark: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/),
});

/** Records every JOBS_QUEUE send instead of delivering it. Restored by vi.restoreAllMocks(). */
export function holdJobsQueue() {
  const held: HeldMessage[] = [];
  vi.spyOn(env.JOBS_QUEUE, "send").mockImplementation(async (body, options) => {
    held.push({ body, delaySeconds: options?.delaySeconds });
    return { metadata: { metrics: { backlogCount: held.length, backlogBytes: 0 } } };
  });
  return {
    held,
    /** The `task.run` messages sent for one task, in order. */
    forTask: (taskId: string) =>
      held.filter((message) => (message.body as { task_id?: string }).task_id === taskId),
  };
}

/** The task module's clock, pinned to `ms` (and movable with the returned setter). */
export function pinClock(ms: number) {
  let now = ms;
  vi.spyOn(taskRuntime, "now").mockImplementation(() => now);
  return {
    get now() {
      return now;
    },
    set: (value: number) => {
      now = value;
    },
    advance: (by: number) => {
      now += by;
    },
  };
}

let sequence = 0;

/**
 * Delivers `task.run` for `taskId` to the Worker's queue handler, as the queue's delivery
 * number `attempts` (on JOBS_QUEUE unless `queue` names another, e.g. its dead-letter queue).
 */
export async function deliver(taskId: string, options: { attempts?: number; queue?: string } = {}) {
  const id = `task-msg-${++sequence}`;
  const { result, retryOptions } = await runQueueBatch(options.queue ?? JOBS_QUEUE, [
    { id, attempts: options.attempts, body: { type: "task.run", task_id: taskId } },
  ]);
  return {
    acked: result.explicitAcks.includes(id),
    retried: result.retryMessages.some((retried) => retried.msgId === id),
    retryDelaySeconds: retryOptions[0]?.[0]?.delaySeconds,
  };
}

export function taskRow(id: string): Promise<Task | undefined> {
  return getDb(env).select().from(tasks).where(eq(tasks.id, id)).get();
}

/** A client bound to `token` with task helpers that assert the status they expect. */
export function taskClient(token: string) {
  const client = as(token);
  return {
    ...client,
    async create(body: Record<string, unknown>): Promise<TaskDto> {
      const res = await client.post("/api/v1/tasks", { body });
      const task = await jsonOf<TaskDto>(res, 202);
      expect(res.headers.get("location")).toBe(`/api/v1/tasks/${task.id}`);
      return task;
    },
    async read(id: string): Promise<TaskDto> {
      return jsonOf<TaskDto>(await client.get(`/api/v1/tasks/${id}`), 200);
    },
  };
}
