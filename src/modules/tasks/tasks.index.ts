import { createRouter } from "../../lib/create-router";
import { accountErasureSteps } from "../users/users.service";
import * as handlers from "./tasks.handlers";
import * as routes from "./tasks.routes";
import { eraseUserTasks } from "./tasks.service";

/** Mounted at /api/v1/tasks. `/types` is registered before `/{id}`. */
export const tasksRouter = createRouter()
  .openapi(routes.listTaskTypes, handlers.listTaskTypes)
  .openapi(routes.createTask, handlers.createTask)
  .openapi(routes.listTasks, handlers.listTasks)
  .openapi(routes.getTask, handlers.getTask)
  .openapi(routes.cancelTask, handlers.cancelTask)
  .openapi(routes.deleteTask, handlers.deleteTask)
  .openapi(routes.downloadTaskFile, handlers.downloadTaskFile);

// An erased account takes its tasks and their export files with it.
accountErasureSteps.push(eraseUserTasks);
