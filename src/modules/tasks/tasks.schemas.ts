import { z } from "@hono/zod-openapi";
import { taskStatuses } from "../../db/schema";
import { listQuery } from "../../lib/list-query";
import { pageSchema } from "../../lib/pagination";
import { taskTypeNames, taskTypes } from "./task-types";

export const TASK_ID_EXAMPLE = "0190c6d2-4b1a-7e3f-9c2d-5e6f7a8b9c0d";

/** The most retries a task may ask for: the JOBS_QUEUE consumer's max_retries (see task-run.job.ts). */
export const MAX_TASK_RETRIES = 3;
export const DEFAULT_TASK_RETRIES = 3;
/** How far ahead `run_at` may be. */
export const MAX_SCHEDULE_AHEAD_DAYS = 365;
/** Task bodies are payloads of numbers and records, not files. */
export const CREATE_TASK_BODY_LIMIT = 256 * 1024;

export const TaskStatusSchema = z.enum(taskStatuses).openapi("TaskStatus", {
  description:
    "PENDING (waiting for its time or a worker) → STARTED → SUCCESS | FAILURE | RETRY (failed, will run again) | REVOKED (cancelled).",
  example: "SUCCESS",
});

export const TaskErrorSchema = z
  .object({
    code: z.string().openapi({ example: "time_limit_exceeded" }),
    message: z.string().openapi({ example: "The task did not finish within its 60 s time limit." }),
  })
  .openapi("TaskError", { description: "Why the last run failed (kept while the task retries)." });

export const taskExample = {
  id: TASK_ID_EXAMPLE,
  type: "process_data",
  status: "SUCCESS",
  payload: { items: [12.5, 7, 30] },
  result: { count: 3, sum: 49.5, mean: 16.5, min: 7, max: 30 },
  error: null,
  progress: 100,
  attempts: 1,
  max_retries: 3,
  run_at: "2026-11-21T09:30:00.000Z",
  created_at: "2026-11-21T09:30:00.000Z",
  started_at: "2026-11-21T09:30:01.204Z",
  completed_at: "2026-11-21T09:30:01.311Z",
  cancel_requested_at: null,
};

export const TaskSchema = z
  .object({
    id: z.uuid(),
    type: z.string().openapi({ example: "process_data" }),
    status: TaskStatusSchema,
    payload: z.record(z.string(), z.unknown()),
    result: z.unknown().openapi({ description: "The handler's result once SUCCESS; null before." }),
    error: TaskErrorSchema.nullable(),
    progress: z.int().min(0).max(100).openapi({ description: "0–100, as reported by the handler." }),
    attempts: z.int().openapi({ description: "Runs started so far (1 after the first run)." }),
    max_retries: z.int().openapi({ description: "Runs after the first one that a failure may use." }),
    run_at: z.iso.datetime().openapi({ description: "When the task may start." }),
    created_at: z.iso.datetime(),
    started_at: z.iso.datetime().nullable().openapi({ description: "Start of the latest run." }),
    completed_at: z.iso.datetime().nullable(),
    cancel_requested_at: z.iso
      .datetime()
      .nullable()
      .openapi({ description: "Set when cancelled while STARTED: it ends REVOKED at its next checkpoint." }),
  })
  .openapi("Task", { example: taskExample });

export type TaskDto = z.infer<typeof TaskSchema>;

const typeList = () => taskTypeNames.join(", ");

export const CreateTaskSchema = z
  .strictObject({
    type: z
      .string()
      .min(1)
      .max(64)
      .openapi({ description: `The task type: ${typeList()}. See GET /api/v1/tasks/types.`, example: "add" }),
    payload: z
      .record(z.string(), z.unknown())
      .default({})
      .openapi({
        description: "The type's input, checked against its payload schema.",
        example: { x: 2, y: 3 },
      }),
    run_at: z.iso
      .datetime({ offset: true })
      .optional()
      .openapi({
        description: `Do not start before this time (ISO 8601). Not in the past, at most ${MAX_SCHEDULE_AHEAD_DAYS} days ahead. Omitted: now.`,
        example: "2026-11-21T18:00:00Z",
      }),
    max_retries: z
      .int()
      .min(0)
      .max(MAX_TASK_RETRIES)
      .optional()
      .openapi({
        description: `Runs after the first that failures may use, 0–${MAX_TASK_RETRIES} (default ${DEFAULT_TASK_RETRIES}).`,
        example: 3,
      }),
  })
  .openapi("CreateTaskRequest");

export type CreateTaskInput = z.infer<typeof CreateTaskSchema>;

/** PATCH /tasks/{id}: what may change while the task waits (PENDING), each field optional. */
export const UpdateTaskSchema = z
  .strictObject({
    run_at: CreateTaskSchema.shape.run_at.openapi({
      description: `The new start time (ISO 8601): not in the past, at most ${MAX_SCHEDULE_AHEAD_DAYS} days ahead. Earlier or later than before.`,
      example: "2026-11-22T07:00:00Z",
    }),
    payload: z
      .record(z.string(), z.unknown())
      .optional()
      .openapi({
        description: "A new input, checked against the task type's payload schema again.",
        example: { x: 5, y: 8 },
      }),
    max_retries: CreateTaskSchema.shape.max_retries,
  })
  .openapi("UpdateTaskRequest", { example: { run_at: "2026-11-22T07:00:00Z" } });

export type UpdateTaskInput = z.infer<typeof UpdateTaskSchema>;

/** One request-body example per registered type. */
export const createTaskExamples = Object.fromEntries(
  Object.entries(taskTypes).map(([name, type]) => [
    name,
    { summary: type.description, value: { type: name, payload: type.example } },
  ]),
);

export const TaskIdParams = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, example: TASK_ID_EXAMPLE }),
});

/** `a,b,c` of allowed values: several values of one filter mean any of them. */
function anyOf<const T extends readonly [string, ...string[]]>(values: T, name: string) {
  const one = z.enum(values);
  return z
    .string()
    .max(500)
    .transform((raw, ctx) => {
      const picked: T[number][] = [];
      for (const part of raw.split(",")) {
        const parsed = one.safeParse(part.trim());
        if (!parsed.success) {
          ctx.addIssue({
            code: "custom",
            message: `Unknown ${name} "${part.trim()}"; one of: ${values.join(", ")}.`,
          });
          return z.NEVER;
        }
        if (!picked.includes(parsed.data)) picked.push(parsed.data);
      }
      return picked;
    })
    .openapi({ type: "string", description: `One or more of ${values.join(", ")}, comma-separated.` });
}

export const ListTasksQuery = listQuery({
  sort: ["created_at", "run_at"],
  defaultSort: "-created_at",
  filters: {
    "filter[status]": anyOf(taskStatuses, "status"),
    "filter[type]": anyOf(taskTypeNames, "task type"),
  },
});

export type ListTasksQueryInput = z.infer<typeof ListTasksQuery>;

export const TaskPageSchema = pageSchema(TaskSchema, "TaskPage");

export const taskTypeExample = {
  type: "add",
  description: "Adds two numbers.",
  credit_cost: 0,
  time_limit_seconds: 60,
  requires_user: false,
  payload_schema: {
    type: "object",
    properties: { x: { type: "number" }, y: { type: "number" } },
    required: ["x", "y"],
    additionalProperties: false,
  },
  result_schema: { type: "object", properties: { sum: { type: "number" } }, required: ["sum"] },
  example_payload: { x: 2, y: 3 },
};

export const TaskTypeInfoSchema = z
  .object({
    type: z.string(),
    description: z.string(),
    credit_cost: z.int().openapi({ description: "Credits one task of this type costs." }),
    time_limit_seconds: z.number(),
    requires_user: z
      .boolean()
      .openapi({ description: "Only signed-in people (not API keys) may create it." }),
    payload_schema: z.record(z.string(), z.unknown()).openapi({ description: "JSON Schema of `payload`." }),
    result_schema: z.record(z.string(), z.unknown()).openapi({ description: "JSON Schema of `result`." }),
    example_payload: z.unknown(),
  })
  .openapi("TaskType", { example: taskTypeExample });

export const TaskTypeListSchema = z
  .object({ data: z.array(TaskTypeInfoSchema) })
  .openapi("TaskTypeList", { example: { data: [taskTypeExample] } });
