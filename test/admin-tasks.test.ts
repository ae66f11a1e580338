/**
 * /admin/v1/tasks: every task whoever owns it, counts by status and type, retry of a
 * FAILURE (exactly once, then really run by the queue consumer) and cancel. Queue sends
 * are held (test/support/tasks.ts) so each test sees exactly what was enqueued.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { type NewTask, type Task, tasks, type User } from "../src/db/schema";
import type { AdminTaskDto, TaskStatsDto } from "../src/modules/admin/admin-tasks.schemas";
import { staffCall } from "./support/audit";
import { createStaff, createUser, signIn } from "./support/factories";
import { as, jsonOf, type Page, problemOf } from "./support/http";
import { createOrg } from "./support/orgs";
import { deliver, holdJobsQueue, taskRow } from "./support/tasks";

const db = getDb(env);

let staffToken: string;
let owner: User;
beforeAll(async () => {
  staffToken = (await signIn((await createStaff()).user)).accessToken;
  owner = (await createUser()).user;
});

let queue: ReturnType<typeof holdJobsQueue>;
beforeEach(() => {
  queue = holdJobsQueue();
});
afterEach(() => vi.restoreAllMocks());

async function insertTask(fields: Partial<NewTask> = {}): Promise<Task> {
  const [task] = await db
    .insert(tasks)
    .values({
      ownerUserId: owner.id,
      type: "add",
      payload: { x: 1, y: 2 },
      runAt: new Date(),
      ...fields,
    })
    .returning();
  if (!task) throw new Error("no task");
  return task;
}

const failedTask = () =>
  insertTask({
    status: "FAILURE",
    attempts: 4,
    maxRetries: 3,
    error: { code: "boom", message: "It broke." },
    completedAt: new Date(),
    deadLettered: true,
  });

describe("listing and stats", () => {
  it("lists every task with its owner, filtered by status, type and owner", async () => {
    const org = await createOrg(owner);
    const mine = await insertTask({ type: "process_data", payload: { items: [1] } });
    const orgTask = await insertTask({ ownerUserId: null, organizationId: org.id, status: "SUCCESS" });
    const staff = as(staffToken);
    const byOwner = await jsonOf<Page<AdminTaskDto>>(
      await staff.get(`/admin/v1/tasks?filter[owner_user_id]=${owner.id}&filter[type]=process_data`),
      200,
    );
    expect(byOwner.data.map((t) => t.id)).toEqual([mine.id]);
    expect(byOwner.data[0]).toMatchObject({
      owner_user_id: owner.id,
      organization_id: null,
      dead_lettered: false,
    });
    const byOrg = await jsonOf<Page<AdminTaskDto>>(
      await staff.get(`/admin/v1/tasks?filter[organization_id]=${org.id}&filter[status]=SUCCESS`),
      200,
    );
    expect(byOrg.data.map((t) => t.id)).toEqual([orgTask.id]);
    const problem = await problemOf(await staff.get("/admin/v1/tasks?filter[status]=DONE"), 400);
    expect(problem.errors?.[0]?.parameter).toBe("filter[status]");
  });

  it("counts tasks by status and by type, every status present", async () => {
    const staff = as(staffToken);
    const before = await jsonOf<TaskStatsDto>(await staff.get("/admin/v1/tasks/stats"), 200);
    await insertTask({ type: "sleep", payload: { seconds: 1 }, status: "RETRY" });
    await insertTask({ type: "sleep", payload: { seconds: 1 }, status: "REVOKED" });
    await insertTask({ type: "add", status: "RETRY" });
    const after = await jsonOf<TaskStatsDto>(await staff.get("/admin/v1/tasks/stats"), 200);
    expect(after.total - before.total).toBe(3);
    expect(after.by_status.RETRY - before.by_status.RETRY).toBe(2);
    expect(after.by_status.REVOKED - before.by_status.REVOKED).toBe(1);
    expect(Object.keys(after.by_status).sort()).toEqual(
      ["FAILURE", "PENDING", "RETRY", "REVOKED", "STARTED", "SUCCESS"].sort(),
    );
    expect((after.by_type.sleep?.RETRY ?? 0) - (before.by_type.sleep?.RETRY ?? 0)).toBe(1);
    expect(after.by_type.sleep?.PENDING).toBeTypeOf("number");
  });
});

describe("POST /admin/v1/tasks/{id}/retry", () => {
  it("sends a FAILURE task back to the queue exactly once, even when two staff retry at once", async () => {
    const task = await failedTask();
    const [first, second] = await Promise.all([
      staffCall(staffToken, "POST", `/admin/v1/tasks/${task.id}/retry`),
      staffCall(staffToken, "POST", `/admin/v1/tasks/${task.id}/retry`),
    ]);
    const statuses = [first.res.status, second.res.status].sort();
    expect(statuses).toEqual([202, 409]);
    const winner = first.res.status === 202 ? first : second;
    const loser = winner === first ? second : first;
    expect(await jsonOf<AdminTaskDto>(winner.res, 202)).toMatchObject({
      id: task.id,
      status: "PENDING",
      error: null,
      attempts: 4,
      dead_lettered: false,
      completed_at: null,
    });
    expect((await problemOf(loser.res, 409)).code).toBe("task_not_failed");
    expect(queue.forTask(task.id)).toHaveLength(1);

    const rows = await winner.audit();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      action: "task.retry",
      targetType: "task",
      targetId: task.id,
      before: { status: "FAILURE", attempts: 4, error: { code: "boom", message: "It broke." } },
    });
    expect(rows[0]?.after).toMatchObject({ status: "PENDING", attempts: 4 });
    expect(await loser.audit()).toHaveLength(0);

    // The consumer runs it for real: one more attempt, SUCCESS.
    const outcome = await deliver(task.id);
    expect(outcome.acked).toBe(true);
    expect(await taskRow(task.id)).toMatchObject({ status: "SUCCESS", attempts: 5, result: { sum: 3 } });
  });

  it("answers 409 for tasks that are not FAILURE and 404 for unknown ids, writing nothing", async () => {
    for (const status of ["PENDING", "SUCCESS", "REVOKED"] as const) {
      const task = await insertTask({ status });
      const { res, audit } = await staffCall(staffToken, "POST", `/admin/v1/tasks/${task.id}/retry`);
      const problem = await problemOf(res, 409);
      expect(problem).toMatchObject({ code: "task_not_failed", task_status: status });
      expect(await audit()).toHaveLength(0);
    }
    await problemOf(
      (await staffCall(staffToken, "POST", `/admin/v1/tasks/${crypto.randomUUID()}/retry`)).res,
      404,
    );
    expect(queue.held).toHaveLength(0);
  });
});

describe("POST /admin/v1/tasks/{id}/cancel", () => {
  it("revokes a PENDING task of anyone, with one audit row", async () => {
    const task = await insertTask();
    const { res, audit } = await staffCall(staffToken, "POST", `/admin/v1/tasks/${task.id}/cancel`);
    expect(await jsonOf<AdminTaskDto>(res, 200)).toMatchObject({ status: "REVOKED" });
    const rows = await audit();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      action: "task.cancel",
      targetId: task.id,
      before: { status: "PENDING" },
      after: { status: "REVOKED" },
    });
  });

  it("asks a running task to stop (202), once", async () => {
    const task = await insertTask({ status: "STARTED", attempts: 1, startedAt: new Date() });
    const first = await staffCall(staffToken, "POST", `/admin/v1/tasks/${task.id}/cancel`);
    const body = await jsonOf<AdminTaskDto>(first.res, 202);
    expect(body.status).toBe("STARTED");
    expect(body.cancel_requested_at).not.toBeNull();
    expect(await first.audit()).toHaveLength(1);
    const again = await staffCall(staffToken, "POST", `/admin/v1/tasks/${task.id}/cancel`);
    expect((await jsonOf<AdminTaskDto>(again.res, 202)).cancel_requested_at).toBe(body.cancel_requested_at);
    expect(await again.audit()).toHaveLength(0);
  });

  it("answers 409 task_finished for finished tasks", async () => {
    const task = await insertTask({ status: "SUCCESS" });
    const { res, audit } = await staffCall(staffToken, "POST", `/admin/v1/tasks/${task.id}/cancel`);
    expect((await problemOf(res, 409)).code).toBe("task_finished");
    expect(await audit()).toHaveLength(0);
  });
});
