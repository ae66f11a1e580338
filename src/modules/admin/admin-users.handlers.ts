import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { setLinkHeader } from "../../lib/pagination";
import { toUserDto } from "../users/user.dto";
import * as accounts from "../users/users.service";
import type * as routes from "./admin-users.routes";
import * as admin from "./admin-users.service";

export const listUsers: RouteHandler<typeof routes.listUsers, AppEnv> = async (c) => {
  const page = await accounts.listUsers(c.get("ctx"), accounts.listUsersInput(c.req.valid("query")));
  setLinkHeader(c, page.meta);
  return c.json({ data: page.data.map(toUserDto), meta: page.meta }, 200);
};

export const getUser: RouteHandler<typeof routes.getUser, AppEnv> = async (c) => {
  return c.json(await admin.getUserDetails(c.get("ctx"), c.req.valid("param").id), 200);
};

export const updateUser: RouteHandler<typeof routes.updateUser, AppEnv> = async (c) => {
  const user = await admin.updateUserAccess(c.get("ctx"), c.req.valid("param").id, c.req.valid("json"));
  return c.json(toUserDto(user), 200);
};

export const revokeUserSessions: RouteHandler<typeof routes.revokeUserSessions, AppEnv> = async (c) => {
  const revoked = await admin.revokeAllSessions(c.get("ctx"), c.req.valid("param").id);
  return c.json({ revoked_sessions: revoked }, 200);
};

export const deleteUser: RouteHandler<typeof routes.deleteUser, AppEnv> = async (c) => {
  await admin.deleteUser(c.get("ctx"), c.req.valid("param").id);
  return c.body(null, 204);
};
