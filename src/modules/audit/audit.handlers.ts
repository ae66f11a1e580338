import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { setLinkHeader } from "../../lib/pagination";
import type * as routes from "./audit.routes";
import { listAuditLogs as list, toAuditLogDto } from "./audit.service";
import { exportAuditLogs as exportRows } from "./audit-export";

export const listAuditLogs: RouteHandler<typeof routes.listAuditLogs, AppEnv> = async (c) => {
  const query = c.req.valid("query");
  const page = await list(c.get("ctx"), {
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

export const exportAuditLogs: RouteHandler<typeof routes.exportAuditLogs, AppEnv> = async (c) => {
  const query = c.req.valid("query");
  const range = { from: query.from, to: query.to ?? new Date() };
  const body = await exportRows(c.get("ctx"), range);
  const name = `audit-logs-${range.from.toISOString().slice(0, 10)}-to-${range.to.toISOString().slice(0, 10)}.ndjson`;
  const response = c.body(body, 200, {
    "Content-Type": "application/x-ndjson; charset=utf-8",
    "Content-Disposition": `attachment; filename="${name}"`,
    "Cache-Control": "no-store",
  });
  // @hono/zod-openapi's types read any `application/…json` media type as a JSON answer and
  // `application/x-ndjson` as an impossible one (never): the stream is what the route declares.
  return response as never;
};
