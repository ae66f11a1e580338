import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { setLinkHeader } from "../../lib/pagination";
import * as staffTasks from "../tasks/tasks.staff";
import { toAdminTaskDto } from "./admin-tasks.dto";
import type * as routes from "./admin-tasks.routes";

export const listTasks: RouteHandler<typeof routes.listTasks, AppEnv> = async (c) => {
  const query = c.req.valid("query");
  const page = await staffTasks.listAllTasks(c.get("ctx"), {
    limit: query.limit,
    cursor: query.cursor,
    sort: query.sort,
    status: query["filter[status]"],
    type: query["filter[type]"],
    ownerUserId: query["filter[owner_user_id]"],
    organizationId: query["filter[organization_id]"],
  });
  setLinkHeader(c, page.meta);
  return c.json({ data: page.data.map(toAdminTaskDto), meta: page.meta }, 200);
};

export const taskStats: RouteHandler<typeof routes.taskStats, AppEnv> = async (c) => {
  return c.json(await staffTasks.taskStats(c.get("ctx")), 200);
};

export const getTask: RouteHandler<typeof routes.getTask, AppEnv> = async (c) => {
  return c.json(toAdminTaskDto(await staffTasks.getAnyTask(c.get("ctx"), c.req.valid("param").id)), 200);
};

export const retryTask: RouteHandler<typeof routes.retryTask, AppEnv> = async (c) => {
  const task = await staffTasks.retryTask(c.get("ctx"), c.req.valid("param").id);
  return c.json(toAdminTaskDto(task), 202);
};

export const cancelTask: RouteHandler<typeof routes.cancelTask, AppEnv> = async (c) => {
  const task = await staffTasks.cancelAnyTask(c.get("ctx"), c.req.valid("param").id);
  // Still running: the cancellation is accepted, and completes at the run's next checkpoint.
  if (task.status === "STARTED") return c.json(toAdminTaskDto(task), 202);
  return c.json(toAdminTaskDto(task), 200);
};
