import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { setLinkHeader } from "../../lib/pagination";
import type * as routes from "./admin-tasks.routes";
import * as admin from "./admin-tasks.service";

export const listTasks: RouteHandler<typeof routes.listTasks, AppEnv> = async (c) => {
  const query = c.req.valid("query");
  const page = await admin.listAllTasks(c.var.ctx, {
    limit: query.limit,
    cursor: query.cursor,
    sort: query.sort,
    status: query["filter[status]"],
    type: query["filter[type]"],
    ownerUserId: query["filter[owner_user_id]"],
    organizationId: query["filter[organization_id]"],
  });
  setLinkHeader(c, page.meta);
  return c.json({ data: page.data.map(admin.toAdminTaskDto), meta: page.meta }, 200);
};

export const taskStats: RouteHandler<typeof routes.taskStats, AppEnv> = async (c) => {
  return c.json(await admin.taskStats(c.var.ctx), 200);
};

export const getTask: RouteHandler<typeof routes.getTask, AppEnv> = async (c) => {
  return c.json(admin.toAdminTaskDto(await admin.getAnyTask(c.var.ctx, c.req.valid("param").id)), 200);
};

export const retryTask: RouteHandler<typeof routes.retryTask, AppEnv> = async (c) => {
  const task = await admin.retryTask(c.var.ctx, c.req.valid("param").id);
  return c.json(admin.toAdminTaskDto(task), 202);
};

export const cancelTask: RouteHandler<typeof routes.cancelTask, AppEnv> = async (c) => {
  const { task, requested } = await admin.cancelAnyTask(c.var.ctx, c.req.valid("param").id);
  return requested ? c.json(admin.toAdminTaskDto(task), 202) : c.json(admin.toAdminTaskDto(task), 200);
};
