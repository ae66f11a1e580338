import { z } from "@hono/zod-openapi";
import { taskStatuses } from "../../db/schema";
import { listQuery } from "../../lib/list-query";
import { pageSchema } from "../../lib/pagination";
import { TaskSchema, TaskStatusSchema, taskExample } from "../tasks/tasks.schemas";
import { USER_ID_EXAMPLE } from "../users/users.schemas";

export const adminTaskExample = {
  ...taskExample,
  owner_user_id: USER_ID_EXAMPLE,
  organization_id: null,
  dead_lettered: false,
};

export const AdminTaskSchema = TaskSchema.extend({
  owner_user_id: z.uuid().nullable().openapi({ description: "Set for tasks created with an access token." }),
  organization_id: z.uuid().nullable().openapi({ description: "Set for tasks created with an API key." }),
  dead_lettered: z
    .boolean()
    .openapi({ description: "FAILURE after its retries: its queue message went to the dead-letter queue." }),
}).openapi("AdminTask", { example: adminTaskExample });

export type AdminTaskDto = z.infer<typeof AdminTaskSchema>;

export const ListAdminTasksQuery = listQuery({
  sort: ["created_at", "run_at"],
  defaultSort: "-created_at",
  filters: {
    "filter[status]": TaskStatusSchema,
    "filter[type]": z.string().trim().min(1).max(64),
    "filter[owner_user_id]": z.uuid(),
    "filter[organization_id]": z.uuid(),
  },
});

export const AdminTaskPageSchema = pageSchema(AdminTaskSchema, "AdminTaskPage");

const statusCounts = z
  .object(
    Object.fromEntries(taskStatuses.map((status) => [status, z.number().int()])) as Record<
      (typeof taskStatuses)[number],
      z.ZodNumber
    >,
  )
  .openapi("TaskStatusCounts");

export const taskStatsExample = {
  total: 1280,
  by_status: { PENDING: 12, STARTED: 3, SUCCESS: 1201, FAILURE: 41, RETRY: 2, REVOKED: 21 },
  by_type: {
    add: { PENDING: 2, STARTED: 0, SUCCESS: 800, FAILURE: 0, RETRY: 0, REVOKED: 1 },
    process_data: { PENDING: 10, STARTED: 3, SUCCESS: 401, FAILURE: 41, RETRY: 2, REVOKED: 20 },
  },
};

export const TaskStatsSchema = z
  .object({
    total: z.number().int(),
    by_status: statusCounts,
    by_type: z.record(z.string(), statusCounts).openapi({ description: "Per task type, every status." }),
  })
  .openapi("TaskStats", { example: taskStatsExample });

export type TaskStatsDto = z.infer<typeof TaskStatsSchema>;
