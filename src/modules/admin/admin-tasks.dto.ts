import type { Task } from "../../db/schema";
import { toTaskDto } from "../tasks/tasks.queries";
import type { AdminTaskDto } from "./admin-tasks.schemas";

/** The task as its owner sees it, plus who owns it and whether it was dead-lettered. */
export function toAdminTaskDto(task: Task): AdminTaskDto {
  return {
    ...toTaskDto(task),
    owner_user_id: task.ownerUserId,
    organization_id: task.organizationId,
    dead_lettered: task.deadLettered,
  };
}
