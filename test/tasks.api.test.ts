/**
 * The task API through HTTP: create (202 + Location), list (filters, sort, cursor pages),
 * read, cancel, delete, and every kind of bad input, with the shared security suite on
 * each route. Queue sends are held (test/support/tasks.ts): nothing runs unless a test
 * delivers the message itself.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { User } from "../src/db/schema";
import type { TaskDto } from "../src/modules/tasks/tasks.schemas";
import { createUser, signIn } from "./support/factories";
import { api, jsonOf, type Page, problemOf } from "./support/http";
import { securitySuite } from "./support/security";
import { deliver, holdJobsQueue, pinClock, taskClient, taskRunBody } from "./support/tasks";

const BASE = "/api/v1/tasks";

let ada: User;
let adaToken: string;
let client: ReturnType<typeof taskClient>;
let bobToken: string;

beforeAll(async () => {
  ada = (await createUser()).user;
  adaToken = (await signIn(ada)).accessToken;
  client = taskClient(adaToken);
  bobToken = (await signIn((await createUser()).user)).accessToken;
});

let queue: ReturnType<typeof holdJobsQueue>;
beforeEach(() => {
  queue = holdJobsQueue();
});
afterEach(() => vi.restoreAllMocks());

describe("POST /tasks", () => {
  it("answers 202 with the PENDING task and its Location, and queues its id", async () => {
    const clock = pinClock(Date.UTC(2026, 10, 21, 9, 30, 0, 0));
    const res = await client.post(BASE, { body: { type: "add", payload: { x: 2, y: 3 } } });
    const task = await jsonOf<TaskDto>(res, 202);
    expect(res.headers.get("location")).toBe(`${BASE}/${task.id}`);
    expect(task).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      type: "add",
      status: "PENDING",
      payload: { x: 2, y: 3 },
      result: null,
      error: null,
      progress: 0,
      attempts: 0,
      max_retries: 3,
      run_at: new Date(clock.now).toISOString(),
      created_at: expect.any(String),
      started_at: null,
      completed_at: null,
      cancel_requested_at: null,
    });
    // The message carries the id only (and the envelope's D1 bookmark); the row is the truth.
    expect(queue.forTask(task.id)).toEqual([{ body: taskRunBody(task.id) }]);
    expect(await client.read(task.id)).toEqual(task);
  });

  it("keeps max_retries when given, and an omitted payload is an empty one", async () => {
    expect((await client.create({ type: "add", payload: { x: 1, y: 1 }, max_retries: 0 })).max_retries).toBe(
      0,
    );
    const problem = await problemOf(await client.post(BASE, { body: { type: "add" } }), 400);
    expect(problem.errors?.map((error) => error.pointer).sort()).toEqual(["/payload/x", "/payload/y"]);
  });

  describe("bad input", () => {
    it("an unknown type is 400 unknown_task_type listing the types", async () => {
      for (const type of ["resize_image", "constructor", "__proto__", "ADD"]) {
        const problem = await problemOf(await client.post(BASE, { body: { type, payload: {} } }), 400);
        expect(problem).toMatchObject({
          code: "unknown_task_type",
          task_types: ["add", "sleep", "process_data", "export_user_data"],
          errors: [
            { pointer: "/type", detail: "Must be one of: add, sleep, process_data, export_user_data." },
          ],
        });
        expect(problem.detail).toContain("Known types: add, sleep, process_data, export_user_data.");
      }
      expect(queue.held).toEqual([]);
    });

    it("a payload failing its type's schema is 400 with pointers under /payload", async () => {
      const cases: Array<{ body: Record<string, unknown>; pointers: string[] }> = [
        { body: { type: "add", payload: { x: "2", y: 3 } }, pointers: ["/payload/x"] },
        { body: { type: "add", payload: { x: 1 } }, pointers: ["/payload/y"] },
        { body: { type: "add", payload: { x: 1, y: 2, z: 3 } }, pointers: ["/payload/z"] },
        { body: { type: "sleep", payload: { seconds: 601 } }, pointers: ["/payload/seconds"] },
        { body: { type: "sleep", payload: { seconds: -1 } }, pointers: ["/payload/seconds"] },
        { body: { type: "process_data", payload: { items: [1, "2"] } }, pointers: ["/payload/items/1"] },
        {
          body: {
            type: "process_data",
            payload: { items: [{ amount: 1 }, { amount: "x" }], field: "amount" },
          },
          pointers: ["/payload/items/1/amount"],
        },
        { body: { type: "export_user_data", payload: { format: "csv" } }, pointers: ["/payload/format"] },
      ];
      for (const { body, pointers } of cases) {
        const problem = await problemOf(await client.post(BASE, { body }), 400);
        expect(problem.code, JSON.stringify(body)).toBe("validation_failed");
        expect(problem.detail).toBe(`The payload does not fit the ${body.type} task type.`);
        expect(problem.errors?.map((error) => error.pointer)).toEqual(pointers);
      }
      expect(queue.held).toEqual([]);
    });

    it("run_at in the past, more than a year ahead, or not a date is 400 naming run_at", async () => {
      const clock = pinClock(Date.UTC(2026, 10, 21, 12, 0));
      const cases: Array<[unknown, RegExp]> = [
        [new Date(clock.now - 1_000).toISOString(), /in the past/],
        [new Date(clock.now - 365 * 86_400_000).toISOString(), /in the past/],
        [new Date(clock.now + 366 * 86_400_000).toISOString(), /365 days ahead/],
        ["tomorrow", /./],
        ["2026-11-21 13:00", /./],
        [1_800_000_000, /./],
      ];
      for (const [runAt, detail] of cases) {
        const res = await client.post(BASE, {
          body: { type: "add", payload: { x: 1, y: 1 }, run_at: runAt },
        });
        const problem = await problemOf(res, 400);
        expect(problem.errors, String(runAt)).toEqual([
          { pointer: "/run_at", detail: expect.stringMatching(detail) },
        ]);
      }
      // The edges are accepted: now, and exactly 365 days ahead.
      await client.create({
        type: "add",
        payload: { x: 1, y: 1 },
        run_at: new Date(clock.now).toISOString(),
      });
      await client.create({
        type: "add",
        payload: { x: 1, y: 1 },
        run_at: new Date(clock.now + 365 * 86_400_000).toISOString(),
      });
    });

    it("refuses unknown fields, wrong types and out-of-range max_retries, naming each field", async () => {
      const cases: Array<[Record<string, unknown>, string[]]> = [
        [{ type: "add", payload: { x: 1, y: 1 }, priority: "high" }, ["/priority"]],
        [{ type: "add", payload: [1, 2] }, ["/payload"]],
        [{ type: "add", payload: "x=1" }, ["/payload"]],
        [{ type: 7, payload: {} }, ["/type"]],
        [{ payload: {} }, ["/type"]],
        [{ type: "add", payload: { x: 1, y: 1 }, max_retries: 4 }, ["/max_retries"]],
        [{ type: "add", payload: { x: 1, y: 1 }, max_retries: -1 }, ["/max_retries"]],
        [{ type: "add", payload: { x: 1, y: 1 }, max_retries: 1.5 }, ["/max_retries"]],
        [{ type: "x".repeat(65), payload: {} }, ["/type"]],
      ];
      for (const [body, pointers] of cases) {
        const problem = await problemOf(await client.post(BASE, { body }), 400);
        expect(problem.code).toBe("validation_failed");
        expect(
          problem.errors?.map((error) => error.pointer),
          JSON.stringify(body),
        ).toEqual(pointers);
      }
    });

    it("a body over 256 KiB is 413, and a body that is not JSON is 400/415", async () => {
      const items = Array.from({ length: 9_000 }, (_, i) => i * 1234567.891);
      const huge = await client.post(BASE, {
        body: { type: "process_data", payload: { items, pad: "x".repeat(200_000) } },
      });
      expect((await problemOf(huge, 413)).code).toBe("payload_too_large");
      const text = await client.post(BASE, {
        rawBody: "type=add",
        headers: { "content-type": "text/plain" },
      });
      expect((await problemOf(text, 415)).code).toBe("unsupported_media_type");
      const broken = await client.post(BASE, {
        rawBody: "{",
        headers: { "content-type": "application/json" },
      });
      expect((await problemOf(broken, 400)).code).toBe("malformed_json");
    });

    it("more than 10,000 items is refused", async () => {
      const items = Array.from({ length: 10_001 }, () => 1);
      const problem = await problemOf(
        await client.post(BASE, { body: { type: "process_data", payload: { items } } }),
        400,
      );
      expect(problem.errors?.map((error) => error.pointer)).toEqual(["/payload/items"]);
    });
  });
});

describe("GET /tasks and /tasks/{id}", () => {
  let mine: TaskDto[];
  let lister: ReturnType<typeof taskClient>;

  beforeAll(async () => {
    const user = (await createUser()).user;
    lister = taskClient((await signIn(user)).accessToken);
    const hold = holdJobsQueue();
    const base = Date.UTC(2026, 11, 1, 8, 0);
    const clock = pinClock(base);
    mine = [];
    // Five tasks: created a minute apart, run_at in reverse order of creation.
    for (let i = 0; i < 5; i++) {
      clock.set(base + i * 60_000);
      mine.push(
        await lister.create({
          type: i % 2 === 0 ? "add" : "process_data",
          payload: i % 2 === 0 ? { x: i, y: i } : { items: [i] },
          run_at: new Date(base + (10 - i) * 3_600_000).toISOString(),
        }),
      );
    }
    // One of them is cancelled; another one runs once it is due, and succeeds.
    await lister.post(`${BASE}/${mine[1]?.id}/cancel`);
    clock.set(base + 11 * 3_600_000);
    await deliver(mine[0]?.id ?? "");
    expect(hold.held).toHaveLength(5);
    vi.restoreAllMocks();
    // Someone else's task, never listed.
    await taskClient(bobToken).create({ type: "add", payload: { x: 9, y: 9 } });
  });

  it("lists only the caller's tasks, newest first, with the total", async () => {
    const page = await jsonOf<Page<TaskDto>>(await lister.get(BASE), 200);
    expect(page.data.map((task) => task.id)).toEqual(mine.map((task) => task.id).reverse());
    expect(page.data.map((task) => task.created_at)).toEqual(mine.map((task) => task.created_at).reverse());
    expect(page.meta).toEqual({ next: null, prev: null, total: 5 });
  });

  it("filters by status and type (several values comma-separated)", async () => {
    const ids = async (query: string) =>
      (await jsonOf<Page<TaskDto>>(await lister.get(`${BASE}?${query}`), 200)).data.map((task) => task.id);
    expect(await ids("filter[status]=REVOKED")).toEqual([mine[1]?.id]);
    expect(await ids("filter[status]=SUCCESS,REVOKED")).toEqual([mine[1]?.id, mine[0]?.id]);
    expect(await ids("filter[type]=process_data")).toEqual([mine[3]?.id, mine[1]?.id]);
    expect(await ids("filter[type]=add&filter[status]=PENDING")).toEqual([mine[4]?.id, mine[2]?.id]);
  });

  it("sorts by run_at and pages with cursors and a Link header", async () => {
    const first = await lister.get(`${BASE}?sort=run_at&limit=2`);
    const page1 = await jsonOf<Page<TaskDto>>(first, 200);
    expect(page1.data.map((task) => task.id)).toEqual([mine[4]?.id, mine[3]?.id]);
    expect(page1.meta.total).toBe(5);
    expect(first.headers.get("link")).toContain('rel="next"');
    const page2 = await jsonOf<Page<TaskDto>>(
      await lister.get(`${BASE}?sort=run_at&limit=2&cursor=${page1.meta.next}`),
      200,
    );
    expect(page2.data.map((task) => task.id)).toEqual([mine[2]?.id, mine[1]?.id]);
    const page3 = await jsonOf<Page<TaskDto>>(
      await lister.get(`${BASE}?sort=run_at&limit=2&cursor=${page2.meta.next}`),
      200,
    );
    expect(page3.data.map((task) => task.id)).toEqual([mine[0]?.id]);
    expect(page3.meta.next).toBeNull();
    const back = await jsonOf<Page<TaskDto>>(
      await lister.get(`${BASE}?sort=run_at&limit=2&cursor=${page3.meta.prev}`),
      200,
    );
    expect(back.data.map((task) => task.id)).toEqual([mine[2]?.id, mine[1]?.id]);
  });

  it("refuses unknown filters, statuses, types, sort fields and foreign cursors", async () => {
    const cases: Array<[string, string]> = [
      ["filter[owner]=me", "filter[owner]"],
      ["filter[status]=DONE", "filter[status]"],
      ["filter[status]=PENDING,", "filter[status]"],
      ["filter[type]=resize_image", "filter[type]"],
      ["sort=-progress", "sort"],
      ["limit=101", "limit"],
      ["cursor=not-a-cursor", "cursor"],
    ];
    for (const [query, parameter] of cases) {
      const problem = await problemOf(await lister.get(`${BASE}?${query}`), 400);
      expect(problem.errors?.[0]?.parameter, query).toBe(parameter);
    }
  });

  it("reads one task; someone else's, a missing one or a malformed id is 404 / 404 / 400", async () => {
    expect(await lister.read(mine[0]?.id ?? "")).toMatchObject({ status: "SUCCESS", result: { sum: 0 } });
    const theirs = await taskClient(bobToken).create({ type: "add", payload: { x: 1, y: 1 } });
    expect((await problemOf(await lister.get(`${BASE}/${theirs.id}`), 404)).code).toBe("not_found");
    expect((await problemOf(await lister.get(`${BASE}/${crypto.randomUUID()}`), 404)).code).toBe("not_found");
    expect((await problemOf(await lister.get(`${BASE}/not-a-uuid`), 400)).errors?.[0]?.parameter).toBe("id");
  });
});

describe("DELETE /tasks/{id}", () => {
  it("deletes a finished task (then 404), refuses an unfinished one with 409", async () => {
    const pending = await client.create({ type: "add", payload: { x: 1, y: 1 } });
    const problem = await problemOf(await client.delete(`${BASE}/${pending.id}`), 409);
    expect(problem).toMatchObject({ code: "task_not_finished", task_status: "PENDING" });

    await deliver(pending.id);
    expect((await client.delete(`${BASE}/${pending.id}`)).status).toBe(204);
    expect((await problemOf(await client.get(`${BASE}/${pending.id}`), 404)).code).toBe("not_found");
    expect((await problemOf(await client.delete(`${BASE}/${pending.id}`), 404)).code).toBe("not_found");
  });

  it("deletes REVOKED tasks too; someone else's task is 404 and stays", async () => {
    const revoked = await client.create({ type: "add", payload: { x: 1, y: 1 } });
    await client.post(`${BASE}/${revoked.id}/cancel`);
    const bob = taskClient(bobToken);
    expect((await problemOf(await bob.delete(`${BASE}/${revoked.id}`), 404)).code).toBe("not_found");
    expect((await problemOf(await bob.post(`${BASE}/${revoked.id}/cancel`), 404)).code).toBe("not_found");
    expect((await client.read(revoked.id)).status).toBe("REVOKED");
    expect((await client.delete(`${BASE}/${revoked.id}`)).status).toBe(204);
  });
});

describe("GET /tasks/types", () => {
  it("lists every type with its payload and result schemas, cost and time limit (no credentials needed)", async () => {
    const body = await jsonOf<{ data: Array<Record<string, unknown>> }>(
      await api("GET", `${BASE}/types`),
      200,
    );
    expect(body.data.map((type) => type.type)).toEqual(["add", "sleep", "process_data", "export_user_data"]);
    expect(body.data[0]).toMatchObject({
      type: "add",
      credit_cost: 0,
      time_limit_seconds: 60,
      requires_user: false,
      payload_schema: {
        type: "object",
        properties: { x: { type: "number" }, y: { type: "number" } },
        required: ["x", "y"],
        additionalProperties: false,
      },
      example_payload: { x: 2, y: 3 },
    });
    expect(body.data[1]).toMatchObject({ type: "sleep", time_limit_seconds: 660 });
    expect(body.data[3]).toMatchObject({ type: "export_user_data", requires_user: true });
  });
});

describe("OpenAPI", () => {
  it("documents every task route with its statuses and an example per task type", async () => {
    const doc = await jsonOf<{ paths: Record<string, Record<string, Record<string, unknown>>> }>(
      await api("GET", "/api/openapi.json"),
      200,
    );
    const create = doc.paths[BASE]?.post as {
      responses: Record<string, unknown>;
      requestBody: { content: { "application/json": { examples: Record<string, unknown> } } };
    };
    expect(Object.keys(create.responses)).toEqual(
      expect.arrayContaining(["202", "400", "401", "403", "413", "415"]),
    );
    expect(Object.keys(create.requestBody.content["application/json"].examples)).toEqual([
      "add",
      "sleep",
      "process_data",
      "export_user_data",
    ]);
    expect(Object.keys(doc.paths[`${BASE}/{id}/cancel`]?.post?.responses ?? {})).toEqual(
      expect.arrayContaining(["200", "202", "400", "401", "403", "404", "409"]),
    );
    expect(doc.paths[`${BASE}/{id}`]?.delete).toBeDefined();
    expect(doc.paths[`${BASE}/{id}/download`]?.get).toBeDefined();
    expect(doc.paths[`${BASE}/types`]?.get).toBeDefined();
  });
});

// ---------------------------------------------------------------------------
// Security: every protected route, including another user's task → 404.

async function someoneElsesTask(): Promise<string> {
  holdJobsQueue();
  const task = await taskClient(bobToken).create({ type: "add", payload: { x: 1, y: 1 } });
  vi.restoreAllMocks();
  return task.id;
}

const asAda = async () => ({ authorization: `Bearer ${adaToken}` });

securitySuite("POST /tasks", {
  method: "POST",
  path: BASE,
  body: { type: "add", payload: { x: 1, y: 1 } },
});
securitySuite("GET /tasks", { method: "GET", path: BASE });
securitySuite("GET /tasks/{id}", {
  method: "GET",
  path: `${BASE}/${crypto.randomUUID()}`,
  notOwned: async () => ({ path: `${BASE}/${await someoneElsesTask()}`, headers: await asAda() }),
});
securitySuite("POST /tasks/{id}/cancel", {
  method: "POST",
  path: `${BASE}/${crypto.randomUUID()}/cancel`,
  notOwned: async () => ({ path: `${BASE}/${await someoneElsesTask()}/cancel`, headers: await asAda() }),
});
securitySuite("DELETE /tasks/{id}", {
  method: "DELETE",
  path: `${BASE}/${crypto.randomUUID()}`,
  notOwned: async () => ({ path: `${BASE}/${await someoneElsesTask()}`, headers: await asAda() }),
});
securitySuite("GET /tasks/{id}/download", {
  method: "GET",
  path: `${BASE}/${crypto.randomUUID()}/download`,
  notOwned: async () => ({ path: `${BASE}/${await someoneElsesTask()}/download`, headers: await asAda() }),
});
