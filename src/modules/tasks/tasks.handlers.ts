import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { setLinkHeader } from "../../lib/pagination";
import { toTaskDto } from "./tasks.queries";
import type * as routes from "./tasks.routes";
import * as service from "./tasks.service";
import { taskPath } from "./tasks.urls";

export const listTaskTypes: RouteHandler<typeof routes.listTaskTypes, AppEnv> = async (c) =>
  c.json({ data: service.describeTaskTypes() }, 200);

export const createTask: RouteHandler<typeof routes.createTask, AppEnv> = async (c) => {
  const task = await service.createTask(c.get("ctx"), c.req.valid("json"));
  c.header("Location", taskPath(task.id));
  return c.json(toTaskDto(task), 202);
};

export const listTasks: RouteHandler<typeof routes.listTasks, AppEnv> = async (c) => {
  const query = c.req.valid("query");
  const page = await service.listTasks(c.get("ctx"), {
    limit: query.limit,
    cursor: query.cursor,
    sort: query.sort,
    statuses: query["filter[status]"],
    types: query["filter[type]"],
  });
  setLinkHeader(c, page.meta);
  return c.json({ data: page.data.map(toTaskDto), meta: page.meta }, 200);
};

export const getTask: RouteHandler<typeof routes.getTask, AppEnv> = async (c) => {
  const task = await service.getTask(c.get("ctx"), c.req.valid("param").id);
  return c.json(toTaskDto(task), 200);
};

export const editTask: RouteHandler<typeof routes.editTask, AppEnv> = async (c) => {
  const task = await service.editTask(c.get("ctx"), c.req.valid("param").id, c.req.valid("json"));
  return c.json(toTaskDto(task), 200);
};

export const cancelTask: RouteHandler<typeof routes.cancelTask, AppEnv> = async (c) => {
  const task = await service.cancelTask(c.get("ctx"), c.req.valid("param").id);
  // Still running: the cancellation is accepted, and completes at the run's next checkpoint.
  if (task.status === "STARTED") return c.json(toTaskDto(task), 202);
  return c.json(toTaskDto(task), 200);
};

export const deleteTask: RouteHandler<typeof routes.deleteTask, AppEnv> = async (c) => {
  await service.deleteTask(c.get("ctx"), c.req.valid("param").id);
  return c.body(null, 204);
};

export const downloadTaskFile: RouteHandler<typeof routes.downloadTaskFile, AppEnv> = async (c) => {
  // Only the conditions that can answer 304: a failed If-Match would need a 412, which a download never sends.
  const conditions = new Headers();
  for (const name of ["if-none-match", "if-modified-since"]) {
    const value = c.req.header(name);
    if (value) conditions.set(name, value);
  }
  const { task, artifact, object } = await service.openTaskArtifact(
    c.get("ctx"),
    c.req.valid("param").id,
    conditions,
  );
  const headers = new Headers({
    ETag: object.httpEtag,
    // Personal data: never kept by a shared cache.
    "Cache-Control": "private, no-cache",
  });
  if (!("body" in object)) return new Response(null, { status: 304, headers });
  headers.set("Content-Type", artifact.contentType);
  headers.set("Content-Length", String(object.size));
  headers.set("Content-Disposition", `attachment; filename="${artifact.filename(task)}"`);
  return new Response(object.body, { status: 200, headers });
};
