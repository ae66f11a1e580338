/**
 * The task types themselves: `sleep` (progress, steps), `process_data` (numbers and
 * records), `add`, and `export_user_data` (a JSON file in R2, its owner-only download,
 * and its removal with the task or the account).
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { getConfig } from "../src/env";
import { taskRuntime } from "../src/modules/tasks/task-runtime";
import { summarize } from "../src/modules/tasks/task-types/process-data";
import type { TaskDto } from "../src/modules/tasks/tasks.schemas";
import { createUser, signIn } from "./support/factories";
import { api, jsonOf, type Page, problemOf } from "./support/http";
import { deliver, holdJobsQueue, taskClient, taskRow } from "./support/tasks";

vi.setConfig({ testTimeout: 20_000 });

beforeEach(() => {
  holdJobsQueue();
});
afterEach(() => vi.restoreAllMocks());

async function newClient() {
  const { user } = await createUser();
  const { accessToken } = await signIn(user);
  return { user, token: accessToken, client: taskClient(accessToken) };
}

describe("sleep", () => {
  it("sleeps in at most 20 steps, recording progress 0–100 at each checkpoint", async () => {
    const { client } = await newClient();
    const task = await client.create({ type: "sleep", payload: { seconds: 600 } });
    const seen: Array<{ ms: number; progress: number | undefined }> = [];
    vi.spyOn(taskRuntime, "sleep").mockImplementation(async (ms) => {
      seen.push({ ms, progress: (await taskRow(task.id))?.progress });
    });
    await deliver(task.id);
    expect(seen.map((step) => step.ms)).toEqual(Array(20).fill(30_000));
    expect(seen.map((step) => step.progress)).toEqual(Array.from({ length: 20 }, (_, i) => i * 5));
    expect(await client.read(task.id)).toMatchObject({
      status: "SUCCESS",
      progress: 100,
      result: { slept_seconds: 600 },
    });
  });

  it("a short sleep is one step (fractions of a second allowed)", async () => {
    const { client } = await newClient();
    const task = await client.create({ type: "sleep", payload: { seconds: 0.25 } });
    const steps: number[] = [];
    vi.spyOn(taskRuntime, "sleep").mockImplementation(async (ms) => {
      steps.push(ms);
    });
    await deliver(task.id);
    expect(steps).toEqual([250]);
    expect((await client.read(task.id)).result).toEqual({ slept_seconds: 0.25 });
  });

  it("really waits with the default clock (a 50 ms sleep)", async () => {
    const { client } = await newClient();
    const task = await client.create({ type: "sleep", payload: { seconds: 0.05 } });
    const started = performance.now();
    await deliver(task.id);
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    expect((await client.read(task.id)).status).toBe("SUCCESS");
  });
});

describe("process_data", () => {
  const run = async (payload: Record<string, unknown>) => {
    const { client } = await newClient();
    const task = await client.create({ type: "process_data", payload });
    await deliver(task.id);
    return client.read(task.id);
  };

  it("summarises numbers: count, sum, mean, min, max", async () => {
    expect((await run({ items: [4, -2, 10.5, 0] })).result).toEqual({
      count: 4,
      sum: 12.5,
      mean: 3.125,
      min: -2,
      max: 10.5,
    });
  });

  it("summarises one numeric field of records, ignoring the other fields", async () => {
    const items = [
      { sku: "A-1", amount: 12.5 },
      { sku: "B-2", amount: 7, note: { nested: true } },
      { sku: "C-3", amount: 30 },
    ];
    expect((await run({ items, field: "amount" })).result).toEqual({
      count: 3,
      sum: 49.5,
      mean: 16.5,
      min: 7,
      max: 30,
    });
  });

  it("an empty list has count 0 and no mean, min or max", async () => {
    expect((await run({ items: [] })).result).toEqual({ count: 0, sum: 0, mean: null, min: null, max: null });
  });

  it("adds decimals without drifting (compensated sum)", () => {
    expect(summarize(Array(10).fill(0.1)).sum).toBe(1);
    expect(summarize([1e16, 1, -1e16]).sum).toBe(1);
  });

  it("refuses mixed items, records without the field and a field on numbers", async () => {
    const { client } = await newClient();
    const cases: Array<[Record<string, unknown>, string[]]> = [
      [{ items: [1, { amount: 2 }], field: "amount" }, ["/payload/items"]],
      [{ items: [{ amount: 2 }] }, ["/payload/field"]],
      [{ items: [1, 2], field: "amount" }, ["/payload/field"]],
      [{ items: [{ amount: 2 }, { price: 3 }], field: "amount" }, ["/payload/items/1/amount"]],
      [{ items: "1,2,3" }, ["/payload/items"]],
    ];
    for (const [payload, pointers] of cases) {
      const problem = await problemOf(
        await client.post("/api/v1/tasks", { body: { type: "process_data", payload } }),
        400,
      );
      expect(
        problem.errors?.map((error) => error.pointer),
        JSON.stringify(payload),
      ).toEqual(pointers);
    }
  });
});

describe("export_user_data", () => {
  type ExportResult = { download_url: string; size_bytes: number; sections: string[] };

  it("writes the owner's data to R2 and links to a download only the owner can fetch", async () => {
    const { user, token, client } = await newClient();
    const earlier = await client.create({ type: "add", payload: { x: 1, y: 2 } });
    const task = await client.create({ type: "export_user_data", payload: {} });
    await deliver(task.id);

    const done = await client.read(task.id);
    expect(done.status).toBe("SUCCESS");
    const result = done.result as ExportResult;
    expect(result.download_url).toBe(
      new URL(`/api/v1/tasks/${task.id}/download`, getConfig(env).APP_URL).toString(),
    );
    expect(result.sections).toEqual(["profile", "sessions", "identities", "tasks"]);
    const stored = await env.FILES.head(`exports/${user.id}/${task.id}.json`);
    expect(stored?.size).toBe(result.size_bytes);

    const res = await client.get(`/api/v1/tasks/${task.id}/download`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="export-${task.id}.json"`);
    expect(res.headers.get("cache-control")).toBe("private, no-cache");
    const etag = res.headers.get("etag");
    const document = (await res.json()) as {
      format: string;
      profile: { id: string; email: string };
      sessions: Array<{ id: string }>;
      identities: unknown[];
      tasks: Array<{ id: string; type: string }>;
    };
    expect(document.format).toBe("edge-api-platform.user-export.v1");
    expect(document.profile).toMatchObject({ id: user.id, email: user.email });
    expect(document.sessions).toHaveLength(1);
    expect(document.identities).toEqual([]);
    expect(document.tasks.map((entry) => entry.id)).toEqual([earlier.id, task.id]);
    expect(JSON.stringify(document)).not.toContain("password");

    // A conditional GET with the ETag is answered 304 without the body.
    const again = await client.get(`/api/v1/tasks/${task.id}/download`, {
      headers: { "if-none-match": etag ?? "" },
    });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");

    // Nobody else: 404, as if it did not exist.
    const stranger = await newClient();
    const denied = await stranger.client.get(`/api/v1/tasks/${task.id}/download`);
    expect((await problemOf(denied, 404)).code).toBe("not_found");
    expect((await problemOf(await api("GET", `/api/v1/tasks/${task.id}/download`), 401)).code).toBe(
      "unauthorized",
    );
    expect(token).not.toBe(stranger.token);
  });

  it("only finished exports download: 409 while pending, 404 for a type without a file", async () => {
    const { client } = await newClient();
    const pending = await client.create({ type: "export_user_data", payload: {} });
    const waiting = await problemOf(await client.get(`/api/v1/tasks/${pending.id}/download`), 409);
    expect(waiting).toMatchObject({ code: "task_not_finished", task_status: "PENDING" });

    const sum = await client.create({ type: "add", payload: { x: 1, y: 1 } });
    await deliver(sum.id);
    expect((await problemOf(await client.get(`/api/v1/tasks/${sum.id}/download`), 404)).code).toBe(
      "not_found",
    );

    await client.post(`/api/v1/tasks/${pending.id}/cancel`);
    expect((await problemOf(await client.get(`/api/v1/tasks/${pending.id}/download`), 404)).code).toBe(
      "not_found",
    );
  });

  it("deleting the task deletes its file", async () => {
    const { user, client } = await newClient();
    const task = await client.create({ type: "export_user_data", payload: {} });
    await deliver(task.id);
    const key = `exports/${user.id}/${task.id}.json`;
    expect(await env.FILES.head(key)).not.toBeNull();
    expect((await client.delete(`/api/v1/tasks/${task.id}`)).status).toBe(204);
    expect(await env.FILES.head(key)).toBeNull();
  });

  it("erasing the account deletes its tasks and every export file", async () => {
    const { user, client } = await newClient();
    const exported = await client.create({ type: "export_user_data", payload: {} });
    await deliver(exported.id);
    const pending = await client.create({ type: "add", payload: { x: 1, y: 1 } });
    // A file left by an export whose task row is already gone is removed too.
    await env.FILES.put(`exports/${user.id}/orphan.json`, "{}");
    const other = await newClient();
    const othersExport = await other.client.create({ type: "export_user_data", payload: {} });
    await deliver(othersExport.id);

    expect((await client.delete("/api/v1/users/me")).status).toBe(204);
    expect(await taskRow(exported.id)).toBeUndefined();
    expect(await taskRow(pending.id)).toBeUndefined();
    expect((await env.FILES.list({ prefix: `exports/${user.id}/` })).objects).toEqual([]);
    // Someone else's export is untouched.
    expect(await env.FILES.head(`exports/${other.user.id}/${othersExport.id}.json`)).not.toBeNull();
    expect((await other.client.read(othersExport.id)).status).toBe("SUCCESS");
    // And the erased account's queued message finds nothing to run.
    expect(await deliver(pending.id)).toMatchObject({ acked: true });
  });
});

describe("add", () => {
  it("adds; the result shows in the list too", async () => {
    const { client } = await newClient();
    const task = await client.create({ type: "add", payload: { x: -1.5, y: 0.25 } });
    await deliver(task.id);
    const page = await jsonOf<Page<TaskDto>>(await client.get("/api/v1/tasks"), 200);
    expect(page.data.find((entry) => entry.id === task.id)?.result).toEqual({ sum: -1.25 });
  });
});
