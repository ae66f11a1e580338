import { defineRoute, jsonContent, problemResponse, problemResponses, SECURITY } from "../../lib/openapi";
import { TaskIdParams } from "../tasks/tasks.schemas";
import { ADMIN_GUARD_RESPONSES, ADMIN_TAGS } from "./admin.openapi";
import {
  AdminTaskPageSchema,
  AdminTaskSchema,
  adminTaskExample,
  ListAdminTasksQuery,
  TaskStatsSchema,
  taskStatsExample,
} from "./admin-tasks.schemas";

const tags = ADMIN_TAGS;
const security = SECURITY.bearer;

export const listTasks = defineRoute({
  method: "get",
  path: "/tasks",
  tags,
  summary: "List every task",
  description:
    "Whoever owns them. `filter[status]`, `filter[type]`, `filter[owner_user_id]`, `filter[organization_id]`; `sort=created_at,run_at` (default `-created_at`).",
  security,
  request: { query: ListAdminTasksQuery },
  responses: {
    200: jsonContent(AdminTaskPageSchema, "One page of tasks.", {
      data: [adminTaskExample],
      meta: { next: null, prev: null, total: 1 },
    }),
    ...problemResponses(400),
    ...ADMIN_GUARD_RESPONSES,
  },
});

export const taskStats = defineRoute({
  method: "get",
  path: "/tasks/stats",
  tags,
  summary: "Task counts by status and by type",
  security,
  responses: {
    200: jsonContent(TaskStatsSchema, "Counts over every task in D1.", taskStatsExample),
    ...ADMIN_GUARD_RESPONSES,
  },
});

export const getTask = defineRoute({
  method: "get",
  path: "/tasks/{id}",
  tags,
  summary: "Read any task",
  security,
  request: { params: TaskIdParams },
  responses: {
    200: jsonContent(AdminTaskSchema, "The task.", adminTaskExample),
    ...problemResponses(400, 404),
    ...ADMIN_GUARD_RESPONSES,
  },
});

export const retryTask = defineRoute({
  method: "post",
  path: "/tasks/{id}/retry",
  tags,
  summary: "Retry a FAILURE task",
  description:
    "FAILURE → PENDING and its message is queued, exactly once: a second retry (concurrent or later) answers 409 until the task has failed again. The retry is one more run; `attempts` keeps counting and the task is not charged again. Audited as `task.retry`.",
  security,
  request: { params: TaskIdParams },
  responses: {
    202: jsonContent(AdminTaskSchema, "Queued again.", {
      ...adminTaskExample,
      status: "PENDING",
      result: null,
      error: null,
      progress: 0,
      attempts: 4,
      completed_at: null,
    }),
    409: problemResponse(409, "`task_not_failed`: only FAILURE tasks can be retried."),
    ...problemResponses(400, 404),
    ...ADMIN_GUARD_RESPONSES,
  },
});

export const cancelTask = defineRoute({
  method: "post",
  path: "/tasks/{id}/cancel",
  tags,
  summary: "Cancel any task",
  description:
    "PENDING or RETRY: REVOKED at once (200). STARTED: cancellation requested (202); the run stops at its next checkpoint. Finished: 409 `task_finished`. Audited as `task.cancel`.",
  security,
  request: { params: TaskIdParams },
  responses: {
    200: jsonContent(AdminTaskSchema, "Cancelled: REVOKED.", { ...adminTaskExample, status: "REVOKED" }),
    202: jsonContent(AdminTaskSchema, "Running: cancellation requested.", {
      ...adminTaskExample,
      status: "STARTED",
      cancel_requested_at: "2026-11-21T09:31:12.000Z",
    }),
    409: problemResponse(409, "`task_finished`: the task already finished."),
    ...problemResponses(400, 404),
    ...ADMIN_GUARD_RESPONSES,
  },
});
