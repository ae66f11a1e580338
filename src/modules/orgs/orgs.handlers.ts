import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { setLinkHeader } from "../../lib/pagination";
import { orgContext } from "../../middleware/require";
import * as members from "./members.service";
import type * as routes from "./orgs.routes";
import * as orgs from "./orgs.service";

export const createOrg: RouteHandler<typeof routes.createOrg, AppEnv> = async (c) => {
  const org = await orgs.createOrganization(c.get("ctx"), c.req.valid("json"));
  c.header("Location", `/api/v1/orgs/${org.id}`);
  return c.json(org, 201);
};

export const listOrgs: RouteHandler<typeof routes.listOrgs, AppEnv> = async (c) => {
  const page = await orgs.listMyOrganizations(c.get("ctx"), c.req.valid("query"));
  setLinkHeader(c, page.meta);
  return c.json(page, 200);
};

export const getOrg: RouteHandler<typeof routes.getOrg, AppEnv> = async (c) => {
  return c.json(orgs.getOrganization(orgContext(c)), 200);
};

export const updateOrg: RouteHandler<typeof routes.updateOrg, AppEnv> = async (c) => {
  return c.json(await orgs.updateOrganization(orgContext(c), c.req.valid("json")), 200);
};

export const deleteOrg: RouteHandler<typeof routes.deleteOrg, AppEnv> = async (c) => {
  await orgs.deleteOrganization(orgContext(c), c.req.valid("json"));
  return c.body(null, 204);
};

export const listMembers: RouteHandler<typeof routes.listMembers, AppEnv> = async (c) => {
  const query = c.req.valid("query");
  const page = await members.listMembers(orgContext(c), {
    limit: query.limit,
    cursor: query.cursor,
    sort: query.sort,
    role: query["filter[role]"],
  });
  setLinkHeader(c, page.meta);
  return c.json(page, 200);
};

export const updateMember: RouteHandler<typeof routes.updateMember, AppEnv> = async (c) => {
  const { user_id } = c.req.valid("param");
  return c.json(await members.updateMemberRole(orgContext(c), user_id, c.req.valid("json").role), 200);
};

export const removeMember: RouteHandler<typeof routes.removeMember, AppEnv> = async (c) => {
  await members.removeMember(orgContext(c), c.req.valid("param").user_id);
  return c.body(null, 204);
};
