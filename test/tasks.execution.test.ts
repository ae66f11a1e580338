/**
 * Running tasks: the JOBS_QUEUE consumer's `task.run` handler, every status transition
 * and the races at-least-once delivery brings. Tasks are created through the API; their
 * messages are held (test/support/tasks.ts) and delivered by each test to the Worker's
 * queue handler, as the queue's delivery number N, so retries and dead-lettering are
 * driven without the queue's timers and long runs without real time.
 */
import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { notifications, tasks, type User } from "../src/db/schema";
import { maxRetriesFor } from "../src/jobs/consumer";
import { taskAccounting } from "../src/modules/tasks/task-accounting";
import { TaskError } from "../src/modules/tasks/task-errors";
import { LEASE_GRACE_SECONDS } from "../src/modules/tasks/task-run.job";
import { taskRuntime } from "../src/modules/tasks/task-runtime";
import { taskTypes } from "../src/modules/tasks/task-types";
import { MAX_TASK_RETRIES, type TaskDto } from "../src/modules/tasks/tasks.schemas";
import { createUser, signIn } from "./support/factories";
import { jsonOf, problemOf } from "./support/http";
import { deliver, holdJobsQueue, JOBS_QUEUE, taskClient, taskRow, taskRunBody } from "./support/tasks";

vi.setConfig({ testTimeout: 20_000 });
const db = getDb(env);

let owner: User;
let client: ReturnType<typeof taskClient>;

beforeAll(async () => {
  owner = (await createUser()).user;
  client = taskClient((await signIn(owner)).accessToken);
});

let queue: ReturnType<typeof holdJobsQueue>;
beforeEach(() => {
  queue = holdJobsQueue();
});
afterEach(() => vi.restoreAllMocks());

/** A promise the test resolves when it chooses: stands in for a step of a long-running handler. */
function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** Waits (polling D1, no fixed sleep) until the task's row satisfies `check`. */
async function untilRow(
  id: string,
  check: (row: NonNullable<Awaited<ReturnType<typeof taskRow>>>) => boolean,
) {
  await vi.waitFor(
    async () => {
      const row = await taskRow(id);
      expect(row && check(row)).toBe(true);
    },
    { timeout: 5_000, interval: 10 },
  );
}

const notificationsFor = (taskId: string) =>
  db
    .select()
    .from(notifications)
    .where(and(eq(notifications.userId, owner.id)))
    .then((rows) => rows.filter((row) => (row.data as { task_id?: string }).task_id === taskId));

/** Replaces a type's handler for one test (restored by vi.restoreAllMocks). */
const handlerOf = (name: keyof typeof taskTypes) => vi.spyOn(taskTypes[name], "run");

describe("the happy path", () => {
  it("PENDING → STARTED → SUCCESS, visible at once in GET /tasks/{id}, and the owner is notified", async () => {
    const charge = vi.spyOn(taskAccounting, "chargeForTask");
    const created = await client.create({ type: "add", payload: { x: 2, y: 40 } });
    expect(created).toMatchObject({ status: "PENDING", attempts: 0, progress: 0, result: null, error: null });
    // The id, and the bookmark of the request that wrote the row (src/jobs/messages.ts envelope).
    expect(queue.forTask(created.id)).toEqual([{ body: taskRunBody(created.id) }]);

    const delivery = await deliver(created.id);
    expect(delivery).toEqual({ acked: true, retried: false, retryDelaySeconds: undefined });

    const done = await client.read(created.id);
    expect(done).toMatchObject({
      status: "SUCCESS",
      result: { sum: 42 },
      error: null,
      progress: 100,
      attempts: 1,
      cancel_requested_at: null,
    });
    expect(Date.parse(done.started_at ?? "")).toBeLessThanOrEqual(Date.parse(done.completed_at ?? ""));

    const [notice, ...others] = await notificationsFor(created.id);
    expect(others).toEqual([]);
    expect(notice).toMatchObject({
      type: "task_completed",
      title: "Task add completed",
      targetUrl: `/api/v1/tasks/${created.id}`,
      data: { task_id: created.id, type: "add", status: "SUCCESS" },
    });
    expect(charge).toHaveBeenCalledTimes(1);
    expect(charge.mock.calls[0]?.[1]).toMatchObject({ task: { id: created.id, type: "add" }, credits: 0 });
  });

  it("passes the stored payload to the handler and records what it returns", async () => {
    const created = await client.create({ type: "process_data", payload: { items: [1, 2, 3.5] } });
    await deliver(created.id);
    expect((await client.read(created.id)).result).toEqual({
      count: 3,
      sum: 6.5,
      mean: 6.5 / 3,
      min: 1,
      max: 3.5,
    });
  });
});

describe("through the real local queue", () => {
  it("a task created over HTTP is delivered by JOBS_QUEUE and run by the consumer (end to end)", async () => {
    vi.restoreAllMocks(); // let the send reach the real queue this time
    const created = await client.create({ type: "add", payload: { x: 19, y: 23 } });
    // The queue flushes after max_batch_timeout (1 s): poll the task instead of sleeping a fixed time.
    await vi.waitFor(async () => expect((await client.read(created.id)).status).toBe("SUCCESS"), {
      timeout: 10_000,
      interval: 100,
    });
    expect(await client.read(created.id)).toMatchObject({ result: { sum: 42 }, attempts: 1 });
  });
});

describe("duplicate deliveries (at-least-once)", () => {
  it("the same message delivered twice runs the task once: the second delivery is a no-op", async () => {
    const run = handlerOf("add");
    const charge = vi.spyOn(taskAccounting, "chargeForTask");
    const created = await client.create({ type: "add", payload: { x: 1, y: 1 } });
    await deliver(created.id);
    const before = await taskRow(created.id);

    expect(await deliver(created.id)).toMatchObject({ acked: true, retried: false });
    expect(await taskRow(created.id)).toEqual(before);
    expect(run).toHaveBeenCalledTimes(1);
    expect(charge).toHaveBeenCalledTimes(1);
    expect(await notificationsFor(created.id)).toHaveLength(1);
  });

  it("two deliveries racing for one PENDING task: only one claim wins", async () => {
    const run = handlerOf("add");
    const created = await client.create({ type: "add", payload: { x: 3, y: 4 } });
    const outcomes = await Promise.all([deliver(created.id), deliver(created.id), deliver(created.id)]);
    expect(outcomes.every((outcome) => outcome.acked && !outcome.retried)).toBe(true);
    expect(run).toHaveBeenCalledTimes(1);
    expect(await client.read(created.id)).toMatchObject({
      status: "SUCCESS",
      attempts: 1,
      result: { sum: 7 },
    });
  });

  it("a delivery while the task is running is a no-op", async () => {
    const step = gate();
    vi.spyOn(taskRuntime, "sleep").mockImplementation(() => step.opened);
    const run = handlerOf("sleep");
    const created = await client.create({ type: "sleep", payload: { seconds: 2 } });
    const first = deliver(created.id);
    await untilRow(created.id, (row) => row.status === "STARTED");

    expect(await deliver(created.id)).toMatchObject({ acked: true, retried: false });
    expect((await taskRow(created.id))?.attempts).toBe(1);

    step.open();
    expect(await first).toMatchObject({ acked: true });
    expect(run).toHaveBeenCalledTimes(1);
    expect(await client.read(created.id)).toMatchObject({ status: "SUCCESS", attempts: 1 });
  });

  it("a run whose Worker died (lease expired) is taken over by the next delivery", async () => {
    const created = await client.create({ type: "add", payload: { x: 5, y: 5 } });
    // What a run leaves behind when its isolate is evicted mid-run: STARTED, with its lease long gone.
    const started = Date.now() - (60 + LEASE_GRACE_SECONDS + 5) * 1000;
    await db
      .update(tasks)
      .set({
        status: "STARTED",
        attempts: 1,
        startedAt: new Date(started),
        leaseExpiresAt: new Date(Date.now() - 5_000),
      })
      .where(eq(tasks.id, created.id));

    expect(await deliver(created.id, { attempts: 2 })).toMatchObject({ acked: true });
    expect(await client.read(created.id)).toMatchObject({
      status: "SUCCESS",
      attempts: 2,
      result: { sum: 10 },
    });
  });

  it("an abandoned run whose owner asked to cancel it ends REVOKED instead of running again", async () => {
    const run = handlerOf("add");
    const created = await client.create({ type: "add", payload: { x: 5, y: 5 } });
    await db
      .update(tasks)
      .set({
        status: "STARTED",
        attempts: 1,
        startedAt: new Date(Date.now() - 120_000),
        leaseExpiresAt: new Date(Date.now() - 5_000),
        cancelRequestedAt: new Date(Date.now() - 60_000),
      })
      .where(eq(tasks.id, created.id));

    expect(await deliver(created.id, { attempts: 2 })).toMatchObject({ acked: true, retried: false });
    expect(run).not.toHaveBeenCalled();
    expect(await client.read(created.id)).toMatchObject({ status: "REVOKED", attempts: 1 });
  });

  it("a message for a task that no longer exists is acknowledged and dropped", async () => {
    expect(await deliver(crypto.randomUUID())).toEqual({
      acked: true,
      retried: false,
      retryDelaySeconds: undefined,
    });
  });
});

describe("cancellation races", () => {
  it("cancel while PENDING → REVOKED at once; the queued message is then skipped", async () => {
    const run = handlerOf("add");
    const charge = vi.spyOn(taskAccounting, "chargeForTask");
    const created = await client.create({ type: "add", payload: { x: 1, y: 2 } });

    const res = await client.post(`/api/v1/tasks/${created.id}/cancel`);
    const cancelled = await jsonOf<TaskDto>(res, 200);
    expect(cancelled.status).toBe("REVOKED");
    expect(cancelled.completed_at).not.toBeNull();

    expect(await deliver(created.id)).toMatchObject({ acked: true, retried: false });
    expect(run).not.toHaveBeenCalled();
    expect(charge).not.toHaveBeenCalled();
    expect(await client.read(created.id)).toMatchObject({ status: "REVOKED", attempts: 0, result: null });
    expect(await notificationsFor(created.id)).toEqual([]);
  });

  it("cancel while RETRY → REVOKED; the retried message is skipped", async () => {
    handlerOf("add").mockRejectedValueOnce(new Error("upstream timeout"));
    const created = await client.create({ type: "add", payload: { x: 1, y: 2 } });
    expect(await deliver(created.id)).toMatchObject({ retried: true });
    expect((await client.read(created.id)).status).toBe("RETRY");

    expect((await jsonOf<TaskDto>(await client.post(`/api/v1/tasks/${created.id}/cancel`), 200)).status).toBe(
      "REVOKED",
    );
    expect(await deliver(created.id, { attempts: 2 })).toMatchObject({ acked: true, retried: false });
    expect(await client.read(created.id)).toMatchObject({ status: "REVOKED", attempts: 1 });
  });

  it("cancel while STARTED → 202, and the run ends REVOKED at its next checkpoint", async () => {
    const steps: Array<() => void> = [];
    vi.spyOn(taskRuntime, "sleep").mockImplementation(
      () => new Promise<void>((resolve) => steps.push(resolve)),
    );
    const created = await client.create({ type: "sleep", payload: { seconds: 4 } });
    const running = deliver(created.id);
    // Two steps of four done: progress 50.
    await vi.waitFor(() => expect(steps).toHaveLength(1));
    steps[0]?.();
    await vi.waitFor(() => expect(steps).toHaveLength(2));
    steps[1]?.();
    await vi.waitFor(() => expect(steps).toHaveLength(3));
    expect(await client.read(created.id)).toMatchObject({ status: "STARTED", progress: 50 });

    const res = await client.post(`/api/v1/tasks/${created.id}/cancel`);
    const requested = await jsonOf<TaskDto>(res, 202);
    expect(requested.status).toBe("STARTED");
    expect(requested.cancel_requested_at).not.toBeNull();
    // Asking again while the run has not reached a checkpoint is the same answer.
    expect((await client.post(`/api/v1/tasks/${created.id}/cancel`)).status).toBe(202);

    steps[2]?.();
    expect(await running).toMatchObject({ acked: true, retried: false });
    expect(steps).toHaveLength(3); // the fourth step never started
    // The third step finished (its checkpoint recorded 75%) and saw the request there.
    expect(await client.read(created.id)).toMatchObject({ status: "REVOKED", progress: 75, result: null });
    expect(await notificationsFor(created.id)).toEqual([]);
    expect(await problemOf(await client.post(`/api/v1/tasks/${created.id}/cancel`), 409)).toMatchObject({
      code: "task_finished",
      task_status: "REVOKED",
    });
  });

  it("cancel while STARTED for a handler with no checkpoint left: it completes SUCCESS (as documented)", async () => {
    const release = gate();
    const original = taskTypes.add.run;
    handlerOf("add").mockImplementation(async (payload, run) => {
      await release.opened;
      return original(payload, run);
    });
    const created = await client.create({ type: "add", payload: { x: 20, y: 22 } });
    const running = deliver(created.id);
    await untilRow(created.id, (row) => row.status === "STARTED");

    expect((await client.post(`/api/v1/tasks/${created.id}/cancel`)).status).toBe(202);
    release.open();
    await running;
    const task = await client.read(created.id);
    expect(task).toMatchObject({ status: "SUCCESS", result: { sum: 42 } });
    expect(task.cancel_requested_at).not.toBeNull();
  });

  it("a cancellation asked for during a run that then fails wins over the retry", async () => {
    const release = gate();
    handlerOf("add").mockImplementation(async () => {
      await release.opened;
      throw new Error("flaky dependency");
    });
    const created = await client.create({ type: "add", payload: { x: 1, y: 1 } });
    const running = deliver(created.id);
    await untilRow(created.id, (row) => row.status === "STARTED");
    expect((await client.post(`/api/v1/tasks/${created.id}/cancel`)).status).toBe(202);
    release.open();
    expect(await running).toMatchObject({ acked: true, retried: false });
    expect(await client.read(created.id)).toMatchObject({ status: "REVOKED" });
  });

  it("cancelling a finished task is 409 task_finished", async () => {
    const created = await client.create({ type: "add", payload: { x: 0, y: 0 } });
    await deliver(created.id);
    const problem = await problemOf(await client.post(`/api/v1/tasks/${created.id}/cancel`), 409);
    expect(problem).toMatchObject({ code: "task_finished", task_status: "SUCCESS" });
  });
});

describe("retries, backoff and the dead-letter queue", () => {
  it("a handler that throws twice then succeeds: RETRY, RETRY (with backoff), SUCCESS", async () => {
    const charge = vi.spyOn(taskAccounting, "chargeForTask");
    handlerOf("add")
      .mockRejectedValueOnce(new Error("connection reset"))
      .mockRejectedValueOnce(new TaskError("upstream_unavailable", "The upstream service is unavailable."));
    const created = await client.create({ type: "add", payload: { x: 1, y: 2 } });

    expect(await deliver(created.id, { attempts: 1 })).toEqual({
      acked: false,
      retried: true,
      retryDelaySeconds: 2,
    });
    expect(await client.read(created.id)).toMatchObject({
      status: "RETRY",
      attempts: 1,
      // An unexpected error is shown without its message, which could carry internals.
      error: { code: "internal_error", message: "The task failed with an unexpected error." },
      completed_at: null,
    });

    expect(await deliver(created.id, { attempts: 2 })).toEqual({
      acked: false,
      retried: true,
      retryDelaySeconds: 4,
    });
    expect(await client.read(created.id)).toMatchObject({
      status: "RETRY",
      attempts: 2,
      error: { code: "upstream_unavailable", message: "The upstream service is unavailable." },
    });

    expect(await deliver(created.id, { attempts: 3 })).toMatchObject({ acked: true, retried: false });
    expect(await client.read(created.id)).toMatchObject({
      status: "SUCCESS",
      attempts: 3,
      error: null,
      result: { sum: 3 },
    });
    // Charged once per task, not once per run.
    expect(charge).toHaveBeenCalledTimes(1);
    expect((await notificationsFor(created.id)).map((row) => row.type)).toEqual(["task_completed"]);
  });

  it("a handler that always throws: FAILURE after max_retries, and the message is dead-lettered", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    vi.spyOn(console, "warn").mockImplementation(() => {});
    handlerOf("add").mockRejectedValue(
      new TaskError("upstream_unavailable", "The upstream service is down."),
    );
    const created = await client.create({ type: "add", payload: { x: 1, y: 2 } });
    expect(created.max_retries).toBe(3);

    for (const attempt of [1, 2, 3]) {
      expect(await deliver(created.id, { attempts: attempt })).toMatchObject({ retried: true });
      expect(await client.read(created.id)).toMatchObject({ status: "RETRY", attempts: attempt });
    }
    // Delivery 4 = the queue's last (max_retries 3): the task fails and the message is retried once more
    // without an ack, which is what makes the queue move it to the dead-letter queue.
    expect(await deliver(created.id, { attempts: 4 })).toMatchObject({ acked: false, retried: true });
    const failed = await client.read(created.id);
    expect(failed).toMatchObject({
      status: "FAILURE",
      attempts: 4,
      error: { code: "upstream_unavailable", message: "The upstream service is down." },
    });
    expect(failed.completed_at).not.toBeNull();
    const lines = logged.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);
    expect(lines).toContainEqual(
      expect.objectContaining({
        msg: "queue message failed on its last attempt; dead-lettering",
        type: "task.run",
      }),
    );
    const [notice] = await notificationsFor(created.id);
    expect(notice).toMatchObject({ type: "task_failed", title: "Task add failed" });
    expect(notice?.message).toContain("after 4 attempts: The upstream service is down.");

    // The dead-letter queue's consumer logs the message and acknowledges it.
    logged.mockClear();
    expect(await deliver(created.id, { queue: `${JOBS_QUEUE}-dlq` })).toMatchObject({ acked: true });
    expect(JSON.parse(String(logged.mock.calls[0]?.[0]))).toMatchObject({
      msg: "dead letter",
      body: { type: "task.run", task_id: created.id },
    });
  });

  it("a task with fewer retries than the queue still ends in the dead-letter queue, its row unchanged", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const run = handlerOf("add").mockRejectedValue(new Error("boom"));
    const created = await client.create({ type: "add", payload: { x: 1, y: 2 }, max_retries: 0 });

    expect(await deliver(created.id, { attempts: 1 })).toMatchObject({ retried: true });
    const failed = await taskRow(created.id);
    expect(failed).toMatchObject({ status: "FAILURE", attempts: 1, deadLettered: true });
    // Later deliveries of the same message only carry it on towards the dead-letter queue.
    for (const attempt of [2, 3, 4]) {
      expect(await deliver(created.id, { attempts: attempt })).toMatchObject({ acked: false, retried: true });
    }
    expect(run).toHaveBeenCalledTimes(1);
    expect(await taskRow(created.id)).toEqual(failed);
    expect(await notificationsFor(created.id)).toHaveLength(1);
  });

  it("never leaves a task RETRY when the queue is about to dead-letter its message", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    handlerOf("add").mockRejectedValue(new Error("boom"));
    const created = await client.create({ type: "add", payload: { x: 1, y: 2 } });
    // Earlier deliveries were spent before the task ever ran (say, a Worker crash before the claim).
    expect(await deliver(created.id, { attempts: maxRetriesFor(JOBS_QUEUE) + 1 })).toMatchObject({
      retried: true,
    });
    expect(await client.read(created.id)).toMatchObject({ status: "FAILURE", attempts: 1 });
  });

  it("a permanent error (bad payload) fails at once, without retrying", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const run = handlerOf("add");
    const created = await client.create({ type: "add", payload: { x: 1, y: 2 } });
    // A payload that no longer fits its schema (stored by an older version, say).
    await db
      .update(tasks)
      .set({ payload: { x: "one", y: 2 } })
      .where(eq(tasks.id, created.id));

    expect(await deliver(created.id)).toMatchObject({ acked: true, retried: false });
    expect(run).not.toHaveBeenCalled();
    const failed = await client.read(created.id);
    expect(failed).toMatchObject({ status: "FAILURE", attempts: 1, error: { code: "invalid_payload" } });
    expect(failed.error?.message).toContain("/x");
    expect(await taskRow(created.id)).toMatchObject({ deadLettered: false });
    expect(await deliver(created.id, { attempts: 2 })).toMatchObject({ acked: true, retried: false });
  });

  it("a handler's own permanent error, and a type no longer registered, fail without retrying", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const overflow = await client.create({ type: "add", payload: { x: 1e308, y: 1e308 } });
    expect(await deliver(overflow.id)).toMatchObject({ acked: true });
    expect(await client.read(overflow.id)).toMatchObject({
      status: "FAILURE",
      error: { code: "result_out_of_range", message: "The sum is too large." },
    });

    const retired = await client.create({ type: "add", payload: { x: 1, y: 1 } });
    await db.update(tasks).set({ type: "resize_image" }).where(eq(tasks.id, retired.id));
    expect(await deliver(retired.id)).toMatchObject({ acked: true });
    expect(await client.read(retired.id)).toMatchObject({
      status: "FAILURE",
      error: { code: "unknown_task_type" },
    });
  });

  it("a run past its type's time limit fails as time_limit_exceeded and is retried", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const type = taskTypes.sleep;
    const limit = type.timeLimitSeconds;
    // The handler's step never ends by itself; only the time limit's abort stops it.
    vi.spyOn(taskRuntime, "sleep").mockImplementation(
      (_ms, signal) =>
        new Promise((_, reject) => signal?.addEventListener("abort", () => reject(signal.reason))),
    );
    type.timeLimitSeconds = 0.05;
    try {
      const created = await client.create({ type: "sleep", payload: { seconds: 600 } });
      expect(await deliver(created.id)).toMatchObject({ retried: true });
      expect(await client.read(created.id)).toMatchObject({
        status: "RETRY",
        error: {
          code: "time_limit_exceeded",
          message: "The task did not finish within its 0.05 s time limit.",
        },
      });
    } finally {
      type.timeLimitSeconds = limit;
    }
  });

  it("max_retries is at most the queue consumer's max_retries (each retry is a redelivery)", () => {
    expect(MAX_TASK_RETRIES).toBe(maxRetriesFor(JOBS_QUEUE));
  });
});

describe("a task erased while it runs", () => {
  it("drops the run's outcome and acknowledges the message", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const release = gate();
    handlerOf("add").mockImplementation(async () => {
      await release.opened;
      return { sum: 1 };
    });
    const created = await client.create({ type: "add", payload: { x: 0, y: 1 } });
    const running = deliver(created.id);
    await untilRow(created.id, (row) => row.status === "STARTED");
    await db.delete(tasks).where(eq(tasks.id, created.id));
    release.open();
    expect(await running).toMatchObject({ acked: true, retried: false });
    expect(await taskRow(created.id)).toBeUndefined();
    expect(await notificationsFor(created.id)).toEqual([]);
  });
});
