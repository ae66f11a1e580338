/**
 * The registry of task types. Adding one is a file in this folder (defineTaskType)
 * plus one line here; the name on the left is the `type` clients send.
 */
import { addTask } from "./add";
import type { TaskType } from "./define";
import { exportUserDataTask } from "./export-user-data";
import { processDataTask } from "./process-data";
import { sleepTask } from "./sleep";

export const taskTypes = {
  add: addTask,
  sleep: sleepTask,
  process_data: processDataTask,
  export_user_data: exportUserDataTask,
} satisfies Record<string, TaskType>;

export type TaskTypeName = keyof typeof taskTypes;

export const taskTypeNames = Object.keys(taskTypes) as [TaskTypeName, ...TaskTypeName[]];

/** Own keys only, so "constructor" or "__proto__" is never taken for a type. */
export function findTaskType(name: string): TaskType | undefined {
  return Object.hasOwn(taskTypes, name) ? taskTypes[name as TaskTypeName] : undefined;
}

export type { TaskArtifact, TaskRun, TaskType } from "./define";
