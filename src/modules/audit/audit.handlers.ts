import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { setLinkHeader } from "../../lib/pagination";
import type * as routes from "./audit.routes";
import { listAuditLogs as list, toAuditLogDto } from "./audit.service";

export const listAuditLogs: RouteHandler<typeof routes.listAuditLogs, AppEnv> = async (c) => {
  const query = c.req.valid("query");
  const page = await list(c.var.ctx, {
    limit: query.limit,
    cursor: query.cursor,
    sort: query.sort,
    actorType: query["filter[actor_type]"],
    actorId: query["filter[actor_id]"],
    action: query["filter[action]"],
    targetType: query["filter[target_type]"],
    targetId: query["filter[target_id]"],
    createdFrom: query["filter[created_at][gte]"],
    createdTo: query["filter[created_at][lte]"],
  });
  setLinkHeader(c, page.meta);
  return c.json({ data: page.data.map(toAuditLogDto), meta: page.meta }, 200);
};
