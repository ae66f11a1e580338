/**
 * PATCH /api/v1/tasks/{id}: changing a task before it runs, as Celery users change an
 * ETA. The scheduler honours a moved `run_at` (earlier or later, within or beyond the
 * queue's delay limit), the payload is checked against its type again, and a run that
 * starts at the same moment as an edit wins. Time is the tasks module's clock.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { TaskDto } from "../src/modules/tasks/tasks.schemas";
import { runCron } from "./support/background";
import { createUser, person, signIn } from "./support/factories";
import { as, fieldsOf, jsonOf, problemOf } from "./support/http";
import { createApiKey, createOrg } from "./support/orgs";
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
  clock = pinClock(Math.floor(Date.now() / MINUTE) * MINUTE);
});
afterEach(() => vi.restoreAllMocks());

const at = (ms: number) => new Date(ms).toISOString();
const edit = (id: string, body: unknown, api = client) => api.patch(`/api/v1/tasks/${id}`, { body });

describe("moving run_at", () => {
  it("later: the message already queued arrives early and is deferred; the task runs at the new time", async () => {
    const task = await client.create({
      type: "add",
      payload: { x: 1, y: 2 },
      run_at: at(clock.now + 2 * MINUTE),
    });
    const moved = await jsonOf<TaskDto>(await edit(task.id, { run_at: at(clock.now + 10 * MINUTE) }), 200);
    expect(moved).toMatchObject({ status: "PENDING", run_at: at(clock.now + 10 * MINUTE) });
    expect(queue.forTask(task.id).at(-1)).toEqual({
      body: taskRunBody(task.id),
      delaySeconds: 600,
    });

    clock.advance(2 * MINUTE);
    expect(await deliver(task.id)).toMatchObject({ acked: true });
    expect(await client.read(task.id)).toMatchObject({ status: "PENDING", attempts: 0 });

    clock.advance(8 * MINUTE);
    expect(await deliver(task.id)).toMatchObject({ acked: true });
    const done = await client.read(task.id);
    expect(done).toMatchObject({ status: "SUCCESS", result: { sum: 3 } });
    expect(Date.parse(done.started_at ?? "")).toBe(clock.now);
  });

  it("earlier: a new message is sent for the new time, and the old one is ignored once the task ran", async () => {
    const task = await client.create({
      type: "add",
      payload: { x: 2, y: 2 },
      run_at: at(clock.now + 3 * HOUR),
    });
    await jsonOf<TaskDto>(await edit(task.id, { run_at: at(clock.now + MINUTE) }), 200);
    expect(queue.forTask(task.id).map((message) => message.delaySeconds)).toEqual([3 * 3600, 60]);

    clock.advance(MINUTE);
    await deliver(task.id);
    expect(await client.read(task.id)).toMatchObject({ status: "SUCCESS", result: { sum: 4 }, attempts: 1 });
    clock.advance(3 * HOUR);
    expect(await deliver(task.id)).toMatchObject({ acked: true });
    expect(await client.read(task.id)).toMatchObject({ status: "SUCCESS", attempts: 1 });
  });

  it("beyond the queue's delay limit: no message now, the cron sweep sends it when it enters the window", async () => {
    const task = await client.create({
      type: "add",
      payload: { x: 1, y: 1 },
      run_at: at(clock.now + MINUTE),
    });
    await jsonOf<TaskDto>(await edit(task.id, { run_at: at(clock.now + 20 * HOUR) }), 200);
    expect(queue.forTask(task.id)).toHaveLength(1);
    expect((await taskRow(task.id))?.enqueuedAt).toBeNull();

    clock.advance(8 * HOUR);
    await runCron(clock.now);
    expect(queue.forTask(task.id).at(-1)).toEqual({
      body: taskRunBody(task.id),
      delaySeconds: 12 * 3600,
    });
  });

  it("refuses a run_at in the past or too far ahead, naming the field", async () => {
    const task = await client.create({ type: "add", payload: { x: 1, y: 1 }, run_at: at(clock.now + HOUR) });
    for (const runAt of [at(clock.now - MINUTE), at(clock.now + 400 * 24 * HOUR), "tomorrow"]) {
      expect(fieldsOf(await problemOf(await edit(task.id, { run_at: runAt }), 400))).toContain("/run_at");
    }
    expect((await client.read(task.id)).run_at).toBe(at(clock.now + HOUR));
  });
});

describe("payload and max_retries", () => {
  it("checks a new payload against the task type, then runs with it", async () => {
    const task = await client.create({ type: "add", payload: { x: 1, y: 1 }, run_at: at(clock.now + HOUR) });
    const bad = await problemOf(await edit(task.id, { payload: { x: "one", y: 1 } }), 400);
    expect(fieldsOf(bad)).toContain("/payload/x");
    const edited = await jsonOf<TaskDto>(
      await edit(task.id, { payload: { x: 20, y: 22 }, max_retries: 0 }),
      200,
    );
    expect(edited).toMatchObject({ payload: { x: 20, y: 22 }, max_retries: 0 });
    expect(fieldsOf(await problemOf(await edit(task.id, { max_retries: 9 }), 400))).toContain("/max_retries");
    expect(fieldsOf(await problemOf(await edit(task.id, { status: "SUCCESS" }), 400))).toContain("/status");

    clock.advance(HOUR);
    await deliver(task.id);
    expect(await client.read(task.id)).toMatchObject({ status: "SUCCESS", result: { sum: 42 } });
  });

  it("an empty body changes nothing", async () => {
    const task = await client.create({ type: "add", payload: { x: 1, y: 1 }, run_at: at(clock.now + HOUR) });
    expect(await jsonOf<TaskDto>(await edit(task.id, {}), 200)).toEqual(await client.read(task.id));
  });
});

describe("only a task that has not started", () => {
  it("409 task_not_editable once it started, finished or was cancelled", async () => {
    const ran = await client.create({ type: "add", payload: { x: 1, y: 1 } });
    await deliver(ran.id);
    const finished = await problemOf(await edit(ran.id, { run_at: at(clock.now + HOUR) }), 409);
    expect(finished).toMatchObject({ code: "task_not_editable", task_status: "SUCCESS" });

    const cancelled = await client.create({
      type: "add",
      payload: { x: 1, y: 1 },
      run_at: at(clock.now + HOUR),
    });
    await client.post(`/api/v1/tasks/${cancelled.id}/cancel`);
    expect((await problemOf(await edit(cancelled.id, { max_retries: 1 }), 409)).task_status).toBe("REVOKED");
  });

  it("an edit and a run starting at the same moment: one wins, never both", async () => {
    for (let round = 0; round < 4; round++) {
      const task = await client.create({ type: "add", payload: { x: round, y: 1 } });
      const later = at(clock.now + HOUR);
      const [delivery, res] = await Promise.all([deliver(task.id), edit(task.id, { run_at: later })]);
      expect(delivery.acked).toBe(true);
      const row = await client.read(task.id);
      if (res.status === 200) {
        // The edit won: the run did not start on the time that was just moved.
        expect(row).toMatchObject({ status: "PENDING", attempts: 0, run_at: later });
      } else {
        expect((await problemOf(res, 409)).code).toBe("task_not_editable");
        expect(row.status).toBe("SUCCESS");
      }
    }
  });
});

describe("who can edit", () => {
  it("another person's task is a 404; an organization's key needs tasks:write", async () => {
    const task = await client.create({ type: "add", payload: { x: 1, y: 1 }, run_at: at(clock.now + HOUR) });
    const stranger = await person();
    expect((await stranger.api.patch(`/api/v1/tasks/${task.id}`, { body: { max_retries: 1 } })).status).toBe(
      404,
    );

    const owner = await createUser();
    const org = await createOrg(owner.user);
    const writer = as((await createApiKey(org, { scopes: ["tasks:read", "tasks:write"] })).secret);
    const reader = as((await createApiKey(org, { scopes: ["tasks:read"] })).secret);
    const orgTask = await jsonOf<TaskDto>(
      await writer.post("/api/v1/tasks", {
        body: { type: "add", payload: { x: 1, y: 1 }, run_at: at(clock.now + HOUR) },
      }),
      202,
    );
    expect(
      (await problemOf(await reader.patch(`/api/v1/tasks/${orgTask.id}`, { body: { max_retries: 1 } }), 403))
        .code,
    ).toBe("insufficient_scope");
    expect((await writer.patch(`/api/v1/tasks/${orgTask.id}`, { body: { max_retries: 1 } })).status).toBe(
      200,
    );
    // The person's task is not the organization's.
    expect((await writer.patch(`/api/v1/tasks/${task.id}`, { body: { max_retries: 1 } })).status).toBe(404);
  });
});
