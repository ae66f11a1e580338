/**
 * Tasks created with an organization's API key belong to that organization: every
 * key of the organization with `tasks:read` sees them, nobody else does (other
 * organizations' keys, and people's own task lists). Scopes `tasks:read` /
 * `tasks:write` gate the routes (403 `insufficient_scope`).
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { Organization, User } from "../src/db/schema";
import type { TaskDto } from "../src/modules/tasks/tasks.schemas";
import { createUser, signIn } from "./support/factories";
import { api, jsonOf, type Page, problemOf } from "./support/http";
import { apiKeyHeaders, createApiKey, createOrg } from "./support/orgs";
import { securitySuite } from "./support/security";
import { deliver, holdJobsQueue, taskClient, taskRow } from "./support/tasks";

const BASE = "/api/v1/tasks";

let owner: User;
let acme: Organization;
let globex: Organization;
/** Secrets: read+write, read only, write only, no task scope; and a key of another organization. */
const keys = { readWrite: "", readOnly: "", writeOnly: "", noTasks: "", otherOrg: "" };

beforeAll(async () => {
  owner = (await createUser()).user;
  acme = await createOrg(owner);
  globex = await createOrg(owner);
  keys.readWrite = (await createApiKey(acme, { scopes: ["tasks:read", "tasks:write"] })).secret;
  keys.readOnly = (await createApiKey(acme, { scopes: ["tasks:read"] })).secret;
  keys.writeOnly = (await createApiKey(acme, { scopes: ["tasks:write"] })).secret;
  keys.noTasks = (await createApiKey(acme, { scopes: ["org:read"] })).secret;
  keys.otherOrg = (await createApiKey(globex, { scopes: ["tasks:read", "tasks:write"] })).secret;
});

beforeEach(() => {
  holdJobsQueue();
});
afterEach(() => vi.restoreAllMocks());

const withKey = (secret: string, method: string, path: string, body?: unknown) =>
  api(method, path, { headers: apiKeyHeaders(secret), body });

async function createWithKey(secret: string, body: Record<string, unknown>): Promise<TaskDto> {
  const res = await withKey(secret, "POST", BASE, body);
  const task = await jsonOf<TaskDto>(res, 202);
  expect(res.headers.get("location")).toBe(`${BASE}/${task.id}`);
  return task;
}

describe("organization-owned tasks", () => {
  it("a key creates a task owned by its organization, which runs like any other", async () => {
    const task = await createWithKey(keys.readWrite, { type: "add", payload: { x: 2, y: 2 } });
    expect(await taskRow(task.id)).toMatchObject({ organizationId: acme.id, ownerUserId: null });
    await deliver(task.id);
    const read = await jsonOf<TaskDto>(await withKey(keys.readOnly, "GET", `${BASE}/${task.id}`), 200);
    expect(read).toMatchObject({ status: "SUCCESS", result: { sum: 4 } });
  });

  it("every key of the organization sees its tasks; another organization's key and people do not", async () => {
    const task = await createWithKey(keys.writeOnly, { type: "add", payload: { x: 1, y: 1 } });
    const listed = await jsonOf<Page<TaskDto>>(await withKey(keys.readOnly, "GET", BASE), 200);
    expect(listed.data.map((entry) => entry.id)).toContain(task.id);

    const others = await jsonOf<Page<TaskDto>>(await withKey(keys.otherOrg, "GET", BASE), 200);
    expect(others.data.map((entry) => entry.id)).not.toContain(task.id);
    for (const [method, path] of [
      ["GET", `${BASE}/${task.id}`],
      ["POST", `${BASE}/${task.id}/cancel`],
      ["DELETE", `${BASE}/${task.id}`],
      ["GET", `${BASE}/${task.id}/download`],
    ] as const) {
      expect(
        (await problemOf(await withKey(keys.otherOrg, method, path), 404)).code,
        `${method} ${path}`,
      ).toBe("not_found");
    }
    // A person's own list holds their own tasks, not their organization's.
    const person = taskClient((await signIn(owner)).accessToken);
    expect((await problemOf(await person.get(`${BASE}/${task.id}`), 404)).code).toBe("not_found");
    const mine = await person.create({ type: "add", payload: { x: 0, y: 0 } });
    expect((await problemOf(await withKey(keys.readOnly, "GET", `${BASE}/${mine.id}`), 404)).code).toBe(
      "not_found",
    );
  });

  it("a key cancels and deletes its organization's tasks", async () => {
    const task = await createWithKey(keys.readWrite, { type: "sleep", payload: { seconds: 10 } });
    const cancelled = await jsonOf<TaskDto>(
      await withKey(keys.readWrite, "POST", `${BASE}/${task.id}/cancel`),
      200,
    );
    expect(cancelled.status).toBe("REVOKED");
    expect((await withKey(keys.readWrite, "DELETE", `${BASE}/${task.id}`)).status).toBe(204);
    expect(await taskRow(task.id)).toBeUndefined();
  });

  it("export_user_data is for people only: a key gets 403", async () => {
    const problem = await problemOf(
      await withKey(keys.readWrite, "POST", BASE, { type: "export_user_data", payload: {} }),
      403,
    );
    expect(problem.code).toBe("forbidden");
  });
});

describe("scopes", () => {
  it("creating, cancelling and deleting need tasks:write", async () => {
    const task = await createWithKey(keys.readWrite, { type: "add", payload: { x: 1, y: 1 } });
    for (const [method, path, body] of [
      ["POST", BASE, { type: "add", payload: { x: 1, y: 1 } }],
      ["POST", `${BASE}/${task.id}/cancel`, undefined],
      ["DELETE", `${BASE}/${task.id}`, undefined],
    ] as const) {
      const res = await withKey(keys.readOnly, method, path, body);
      const problem = await problemOf(res, 403);
      expect(problem).toMatchObject({ code: "insufficient_scope", required_scopes: ["tasks:write"] });
      expect(res.headers.get("www-authenticate")).toBe(
        'Bearer error="insufficient_scope", scope="tasks:write"',
      );
    }
    expect((await taskRow(task.id))?.status).toBe("PENDING");
  });

  it("listing, reading and downloading need tasks:read", async () => {
    const task = await createWithKey(keys.writeOnly, { type: "add", payload: { x: 1, y: 1 } });
    for (const path of [BASE, `${BASE}/${task.id}`, `${BASE}/${task.id}/download`]) {
      const problem = await problemOf(await withKey(keys.writeOnly, "GET", path), 403);
      expect(problem).toMatchObject({ code: "insufficient_scope", required_scopes: ["tasks:read"] });
    }
  });
});

// The shared security suite, with a key that holds no task scope as the principal lacking the role.
const noScope = async () => apiKeyHeaders(keys.noTasks);
const someTask = async () =>
  `${BASE}/${(await createWithKey(keys.readWrite, { type: "add", payload: { x: 1, y: 1 } })).id}`;
const otherOrgsTask = async () => ({
  path: `${BASE}/${(await createWithKey(keys.otherOrg, { type: "add", payload: { x: 1, y: 1 } })).id}`,
  headers: apiKeyHeaders(keys.readWrite),
});

securitySuite("POST /tasks (API key)", {
  method: "POST",
  path: BASE,
  body: { type: "add", payload: { x: 1, y: 1 } },
  forbidden: noScope,
});
securitySuite("GET /tasks (API key)", { method: "GET", path: BASE, forbidden: noScope });
securitySuite("GET /tasks/{id} (API key)", {
  method: "GET",
  path: someTask,
  forbidden: noScope,
  notOwned: otherOrgsTask,
});
securitySuite("POST /tasks/{id}/cancel (API key)", {
  method: "POST",
  path: async () => `${await someTask()}/cancel`,
  forbidden: noScope,
  notOwned: async () => {
    const target = await otherOrgsTask();
    return { ...target, path: `${target.path}/cancel` };
  },
});
securitySuite("DELETE /tasks/{id} (API key)", {
  method: "DELETE",
  path: someTask,
  forbidden: noScope,
  notOwned: otherOrgsTask,
});
securitySuite("GET /tasks/{id}/download (API key)", {
  method: "GET",
  path: async () => `${await someTask()}/download`,
  forbidden: noScope,
  notOwned: async () => {
    const target = await otherOrgsTask();
    return { ...target, path: `${target.path}/download` };
  },
});
