import { z } from "@hono/zod-openapi";
import {
  defineRoute,
  jsonContent,
  jsonRequestBody,
  problemResponse,
  problemResponses,
  SECURITY,
} from "../../lib/openapi";
import { requireScopes } from "../../middleware/require";
import {
  CREATE_TASK_BODY_LIMIT,
  CreateTaskSchema,
  createTaskExamples,
  ListTasksQuery,
  MAX_SCHEDULE_AHEAD_DAYS,
  TaskIdParams,
  TaskPageSchema,
  TaskSchema,
  TaskTypeListSchema,
  taskExample,
  taskTypeExample,
  UpdateTaskSchema,
} from "./tasks.schemas";

const tags = ["Tasks"];
const read = [requireScopes("tasks:read")];
const write = [requireScopes("tasks:write")];

const ownership =
  "Tasks created with an access token belong to that person; tasks created with an API key belong to the key's organization (scopes `tasks:read` / `tasks:write`). Anyone else's task answers 404.";

export const listTaskTypes = defineRoute({
  method: "get",
  path: "/types",
  tags,
  summary: "Task types",
  description:
    "Every task type this deployment runs, with the JSON Schema of its payload and result, its credit cost and its time limit.",
  responses: {
    200: jsonContent(TaskTypeListSchema, "The registered task types.", { data: [taskTypeExample] }),
  },
});

export const createTask = defineRoute({
  method: "post",
  path: "/",
  tags,
  summary: "Create a task",
  description: `Queues a task and answers at once with 202 and its \`Location\`; poll it there (or wait for the in-app notification) for the result. \`payload\` is checked against the type's schema (GET /api/v1/tasks/types). \`run_at\` delays the start (at most ${MAX_SCHEDULE_AHEAD_DAYS} days ahead). A failed run is retried with exponential backoff up to \`max_retries\` times. ${ownership}`,
  security: SECURITY.bearerOrApiKey,
  middleware: write,
  bodyLimit: CREATE_TASK_BODY_LIMIT,
  request: {
    body: { content: { "application/json": { schema: CreateTaskSchema, examples: createTaskExamples } } },
  },
  responses: {
    202: {
      ...jsonContent(TaskSchema, "Accepted: the task is PENDING.", {
        ...taskExample,
        status: "PENDING",
        result: null,
        progress: 0,
        attempts: 0,
        started_at: null,
        completed_at: null,
      }),
      headers: z.object({
        Location: z.string().openapi({ example: `/api/v1/tasks/${taskExample.id}` }),
      }),
    },
    400: problemResponse(
      400,
      "`unknown_task_type` (lists the types in `task_types`), or `validation_failed`: the payload (pointers under `/payload/…`), `run_at` in the past or too far ahead, `max_retries` out of range.",
    ),
    403: problemResponse(
      403,
      "`insufficient_scope`: the API key lacks `tasks:write`; or the type is for people only (`export_user_data`).",
    ),
    ...problemResponses(401, 413, 415),
  },
});

export const listTasks = defineRoute({
  method: "get",
  path: "/",
  tags,
  summary: "List tasks",
  description: `Your tasks, newest first by default. \`filter[status]\` and \`filter[type]\` take one value or several, comma-separated. ${ownership}`,
  security: SECURITY.bearerOrApiKey,
  middleware: read,
  request: { query: ListTasksQuery },
  responses: {
    200: jsonContent(TaskPageSchema, "One page of tasks."),
    ...problemResponses(400, 401, 403),
  },
});

export const getTask = defineRoute({
  method: "get",
  path: "/{id}",
  tags,
  summary: "Read a task",
  description: `Status, progress, result or error, as recorded a moment ago: the row every run updates. ${ownership}`,
  security: SECURITY.bearerOrApiKey,
  middleware: read,
  request: { params: TaskIdParams },
  responses: {
    200: jsonContent(TaskSchema, "The task.", taskExample),
    ...problemResponses(400, 401, 403, 404),
  },
});

export const editTask = defineRoute({
  method: "patch",
  path: "/{id}",
  tags,
  summary: "Change a task before it runs",
  description: `While the task is PENDING (waiting to start): move \`run_at\` earlier or later (the scheduler honours the new time), replace the \`payload\` (checked against the task type again), or change \`max_retries\`. Only the fields sent change. A task that started, finished or was cancelled answers 409 \`task_not_editable\`; of an edit and a run starting at the same moment, the run wins. ${ownership}`,
  security: SECURITY.bearerOrApiKey,
  middleware: write,
  request: { params: TaskIdParams, body: jsonRequestBody(UpdateTaskSchema) },
  responses: {
    200: jsonContent(TaskSchema, "The task, changed.", {
      ...taskExample,
      run_at: "2026-11-22T07:00:00.000Z",
    }),
    400: problemResponse(
      400,
      "A field is invalid (`validation_failed`): `run_at` in the past or too far ahead, or a `payload` that does not fit the type (pointers under `/payload`).",
    ),
    409: problemResponse(
      409,
      "`task_not_editable`: the task is no longer PENDING (`task_status` says what it is); `conflict`: it changed while being edited.",
    ),
    ...problemResponses(401, 403, 404, 413, 415),
  },
});

export const cancelTask = defineRoute({
  method: "post",
  path: "/{id}/cancel",
  tags,
  summary: "Cancel a task",
  description:
    "PENDING or RETRY: REVOKED at once (200). STARTED: cancellation is requested (202, `cancel_requested_at` set): the run stops at its next checkpoint and the task ends REVOKED; a run that completes without reaching a checkpoint (a short task such as `add`) ends SUCCESS. Asking again while the request is pending answers 202 again. SUCCESS, FAILURE or REVOKED: 409 `task_finished`.",
  security: SECURITY.bearerOrApiKey,
  middleware: write,
  request: { params: TaskIdParams },
  responses: {
    200: jsonContent(TaskSchema, "Cancelled: the task is REVOKED.", {
      ...taskExample,
      status: "REVOKED",
      result: null,
      progress: 0,
      attempts: 0,
      started_at: null,
    }),
    202: jsonContent(TaskSchema, "Running: cancellation requested; it stops at its next checkpoint.", {
      ...taskExample,
      type: "sleep",
      payload: { seconds: 300 },
      status: "STARTED",
      result: null,
      progress: 35,
      completed_at: null,
      cancel_requested_at: "2026-11-21T09:31:12.000Z",
    }),
    409: problemResponse(409, "`task_finished`: the task already finished."),
    ...problemResponses(400, 401, 403, 404),
  },
});

export const deleteTask = defineRoute({
  method: "delete",
  path: "/{id}",
  tags,
  summary: "Delete a finished task",
  description:
    "Removes a SUCCESS, FAILURE or REVOKED task and any file it produced. Any other status: 409 `task_not_finished` (cancel it first).",
  security: SECURITY.bearerOrApiKey,
  middleware: write,
  request: { params: TaskIdParams },
  responses: {
    204: { description: "Deleted." },
    409: problemResponse(409, "`task_not_finished`: the task is still PENDING, STARTED or RETRY."),
    ...problemResponses(400, 401, 403, 404),
  },
});

export const downloadTaskFile = defineRoute({
  method: "get",
  path: "/{id}/download",
  tags,
  summary: "Download a task's file",
  description:
    "Streams the file a SUCCESS task wrote (the JSON document of `export_user_data`), to the task's owner only, as an attachment with an `ETag` (send `If-None-Match` to get 304). 404 for tasks whose type writes no file, or whose task did not succeed; 409 while the task has not finished.",
  security: SECURITY.bearerOrApiKey,
  middleware: read,
  request: { params: TaskIdParams },
  responses: {
    200: {
      description: "The file, as an attachment.",
      content: {
        "application/json": {
          schema: z.record(z.string(), z.unknown()),
          example: {
            format: "edge-api-platform.user-export.v1",
            exported_at: "2026-11-21T09:30:02.000Z",
            profile: { id: "0190c6c4-8d1e-7c2a-9f5e-1b2c3d4e5f60", email: "ada@example.com" },
            sessions: [],
            tasks: [],
          },
        },
      },
    },
    304: { description: "Not modified: `If-None-Match` matches the file's `ETag`." },
    409: problemResponse(409, "`task_not_finished`: the file is not written yet."),
    ...problemResponses(400, 401, 403, 404),
  },
});
