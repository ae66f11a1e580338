import { createRouter } from "../../lib/create-router";
import * as handlers from "./tasks.handlers";
import * as routes from "./tasks.routes";

/** Mounted at /api/v1/tasks. `/types` is registered before `/{id}`. */
export const tasksRouter = createRouter()
  .openapi(routes.listTaskTypes, handlers.listTaskTypes)
  .openapi(routes.createTask, handlers.createTask)
  .openapi(routes.listTasks, handlers.listTasks)
  .openapi(routes.getTask, handlers.getTask)
  .openapi(routes.editTask, handlers.editTask)
  .openapi(routes.cancelTask, handlers.cancelTask)
  .openapi(routes.deleteTask, handlers.deleteTask)
  .openapi(routes.downloadTaskFile, handlers.downloadTaskFile);
