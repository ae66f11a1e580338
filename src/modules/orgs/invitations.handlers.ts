import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { setLinkHeader } from "../../lib/pagination";
import { orgContext } from "../../middleware/require";
import type * as routes from "./invitations.routes";
import * as invitations from "./invitations.service";

export const createInvitation: RouteHandler<typeof routes.createInvitation, AppEnv> = async (c) => {
  const octx = orgContext(c);
  const { invitation } = await invitations.createInvitation(octx, c.req.valid("json"));
  c.header("Location", `/api/v1/orgs/${octx.organization.id}/invitations/${invitation.id}`);
  return c.json(invitation, 201);
};

export const listInvitations: RouteHandler<typeof routes.listInvitations, AppEnv> = async (c) => {
  const query = c.req.valid("query");
  const page = await invitations.listInvitations(orgContext(c), {
    limit: query.limit,
    cursor: query.cursor,
    sort: query.sort,
    status: query["filter[status]"],
  });
  setLinkHeader(c, page.meta);
  return c.json(page, 200);
};

export const getInvitation: RouteHandler<typeof routes.getInvitation, AppEnv> = async (c) => {
  return c.json(await invitations.getInvitation(orgContext(c), c.req.valid("param").invitation_id), 200);
};

export const revokeInvitation: RouteHandler<typeof routes.revokeInvitation, AppEnv> = async (c) => {
  await invitations.revokeInvitation(orgContext(c), c.req.valid("param").invitation_id);
  return c.body(null, 204);
};

export const acceptInvitation: RouteHandler<typeof routes.acceptInvitation, AppEnv> = async (c) => {
  return c.json(await invitations.acceptInvitation(c.get("ctx"), c.req.valid("json").token), 200);
};
