import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { setLinkHeader } from "../../lib/pagination";
import { listAllOrganizations } from "../orgs/orgs.staff";
import type * as routes from "./admin-orgs.routes";
import * as admin from "./admin-orgs.service";

export const listOrganizations: RouteHandler<typeof routes.listOrganizations, AppEnv> = async (c) => {
  const query = c.req.valid("query");
  const page = await listAllOrganizations(c.get("ctx"), {
    limit: query.limit,
    cursor: query.cursor,
    sort: query.sort,
    q: query.q,
    isPersonal: query["filter[is_personal]"],
  });
  setLinkHeader(c, page.meta);
  return c.json({ data: page.data.map(admin.toAdminOrgDto), meta: page.meta }, 200);
};

export const getOrganization: RouteHandler<typeof routes.getOrganization, AppEnv> = async (c) => {
  return c.json(await admin.getOrganizationDetails(c.get("ctx"), c.req.valid("param").id), 200);
};
