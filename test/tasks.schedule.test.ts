/**
 * Scheduled tasks (`run_at`): the delayed queue send within the queue's 12 h delay
 * limit, the per-minute cron sweep beyond it, and "not early, on time". Time is moved
 * explicitly on the tasks module's clock and passed to the cron handler as its
 * scheduled time; nothing waits for real time.
 */

import { env } from "cloudflare:workers";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { MAX_QUEUE_DELAY_SECONDS } from "../src/modules/tasks/task-scheduler";
import { wiring } from "../src/modules/wiring";
import { runCron } from "./support/background";
import { createUser, signIn } from "./support/factories";
import { deliver, holdJobsQueue, pinClock, taskClient, taskRow, taskRunBody } from "./support/tasks";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

let client: ReturnType<typeof taskClient>;
beforeAll(async () => {
  client = taskClient((await signIn((await createUser()).user)).accessToken);
});

let queue: ReturnType<typeof holdJobsQueue>;
let clock: ReturnType<typeof pinClock>;
beforeEach(() => {
  queue = holdJobsQueue();
  // A whole minute, as cron fires: the sweep's scheduled time and the clock agree.
  clock = pinClock(Math.floor(Date.now() / MINUTE) * MINUTE);
});
afterEach(() => vi.restoreAllMocks());

const sweep = async () => {
  const outcomes = await runCron(clock.now);
  const outcome = outcomes.find((entry) => entry.job === "tasks.enqueue_scheduled");
  expect(outcome?.ok).toBe(true);
  return outcome?.result as { enqueued: number; failed: number };
};

describe("run_at within the queue's delay limit", () => {
  it("a task 2 minutes ahead does not run early, and runs when due", async () => {
    const runAt = clock.now + 2 * MINUTE;
    const task = await client.create({
      type: "add",
      payload: { x: 40, y: 2 },
      run_at: new Date(runAt).toISOString(),
    });
    expect(task).toMatchObject({ status: "PENDING", run_at: new Date(runAt).toISOString() });
    // Sent at once, held by the queue until run_at.
    expect(queue.forTask(task.id)).toEqual([{ body: taskRunBody(task.id), delaySeconds: 120 }]);

    // One minute in: the cron sweep sends nothing more (the task already has its message) ...
    clock.advance(MINUTE);
    expect(await sweep()).toEqual({ enqueued: 0, failed: 0 });
    // ... and a delivery arriving early does not run it: a fresh message is sent for the time left.
    expect(await deliver(task.id)).toMatchObject({ acked: true, retried: false });
    expect(await client.read(task.id)).toMatchObject({ status: "PENDING", attempts: 0, started_at: null });
    expect(queue.forTask(task.id).at(-1)).toEqual({
      body: taskRunBody(task.id),
      delaySeconds: 60,
    });

    // Due: the delivery runs it.
    clock.advance(MINUTE);
    expect(await sweep()).toEqual({ enqueued: 0, failed: 0 });
    expect(await deliver(task.id)).toMatchObject({ acked: true });
    const done = await client.read(task.id);
    expect(done).toMatchObject({ status: "SUCCESS", result: { sum: 42 }, attempts: 1 });
    expect(Date.parse(done.started_at ?? "")).toBe(runAt);
  });

  it("a task due exactly at the delay limit is still sent at once, with the longest delay", async () => {
    const task = await client.create({
      type: "add",
      payload: { x: 1, y: 1 },
      run_at: new Date(clock.now + MAX_QUEUE_DELAY_SECONDS * 1000).toISOString(),
    });
    expect(queue.forTask(task.id)).toEqual([
      { body: taskRunBody(task.id), delaySeconds: MAX_QUEUE_DELAY_SECONDS },
    ]);
  });
});

describe("run_at beyond the queue's delay limit: the cron sweep", () => {
  it("waits in D1, is enqueued exactly once by the sweep when within 12 h, and runs when due", async () => {
    const runAt = clock.now + 13 * HOUR;
    const task = await client.create({
      type: "add",
      payload: { x: 1, y: 2 },
      run_at: new Date(runAt).toISOString(),
    });
    expect(queue.forTask(task.id)).toEqual([]);
    expect(await sweep()).toEqual({ enqueued: 0, failed: 0 });

    // 59 minutes later it is still more than 12 h away.
    clock.advance(59 * MINUTE);
    await sweep();
    expect(queue.forTask(task.id)).toEqual([]);

    // At 13 h − 12 h it enters the window: two sweeps racing (two cron invocations) send it once.
    clock.advance(MINUTE);
    const [first, second] = await Promise.all([sweep(), sweep()]);
    expect(first.enqueued + second.enqueued).toBe(1);
    expect(queue.forTask(task.id)).toEqual([
      { body: taskRunBody(task.id), delaySeconds: MAX_QUEUE_DELAY_SECONDS },
    ]);
    expect((await taskRow(task.id))?.enqueuedAt?.getTime()).toBe(clock.now);
    await sweep();
    expect(queue.forTask(task.id)).toHaveLength(1);

    // The delayed message arrives at run_at and runs the task.
    clock.set(runAt);
    expect(await deliver(task.id)).toMatchObject({ acked: true });
    expect(await client.read(task.id)).toMatchObject({ status: "SUCCESS", result: { sum: 3 } });
  });

  it("a task cancelled while it waits is never sent", async () => {
    const task = await client.create({
      type: "add",
      payload: { x: 1, y: 2 },
      run_at: new Date(clock.now + 30 * 24 * HOUR).toISOString(),
    });
    expect((await client.post(`/api/v1/tasks/${task.id}/cancel`)).status).toBe(200);
    clock.advance(30 * 24 * HOUR);
    await sweep();
    expect(queue.forTask(task.id)).toEqual([]);
    expect((await client.read(task.id)).status).toBe("REVOKED");
  });

  it("an early delivery of a far task gives it back to the sweep instead of holding a message", async () => {
    const task = await client.create({
      type: "add",
      payload: { x: 1, y: 2 },
      run_at: new Date(clock.now + 2 * 24 * HOUR).toISOString(),
    });
    expect(await deliver(task.id)).toMatchObject({ acked: true });
    expect(queue.forTask(task.id)).toEqual([]);
    expect(await client.read(task.id)).toMatchObject({ status: "PENDING", attempts: 0 });
    expect((await taskRow(task.id))?.enqueuedAt).toBeNull();
  });
});

describe("when the queue refuses a send", () => {
  it("the task is still accepted, and the next sweep sends it", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    vi.mocked(env.JOBS_QUEUE.send).mockRejectedValueOnce(new Error("Queue send failed: 503"));
    const task = await client.create({ type: "add", payload: { x: 2, y: 2 } });
    expect(queue.forTask(task.id)).toEqual([]);
    expect((await taskRow(task.id))?.enqueuedAt).toBeNull();

    clock.advance(MINUTE);
    expect(await sweep()).toMatchObject({ enqueued: 1 });
    expect(queue.forTask(task.id)).toEqual([{ body: taskRunBody(task.id) }]);
    await deliver(task.id);
    expect((await client.read(task.id)).status).toBe("SUCCESS");
  });

  it("a send the sweep could not make is released for the next sweep", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const task = await client.create({
      type: "add",
      payload: { x: 2, y: 2 },
      run_at: new Date(clock.now + 12 * HOUR + 30 * MINUTE).toISOString(),
    });
    clock.advance(30 * MINUTE);
    vi.mocked(env.JOBS_QUEUE.send).mockRejectedValueOnce(new Error("Queue send failed: 503"));
    expect(await sweep()).toMatchObject({ enqueued: 0, failed: 1 });
    expect((await taskRow(task.id))?.enqueuedAt).toBeNull();
    clock.advance(MINUTE);
    expect(await sweep()).toMatchObject({ enqueued: 1, failed: 0 });
    expect(queue.forTask(task.id)).toHaveLength(1);
  });
});

describe("the maintenance registry", () => {
  it("runs the task sweep every minute", () => {
    expect(wiring.maintenanceJobs).toContainEqual(
      expect.objectContaining({ name: "tasks.enqueue_scheduled", everyMinutes: 1 }),
    );
  });
});
