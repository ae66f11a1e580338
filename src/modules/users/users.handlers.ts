import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { setLinkHeader } from "../../lib/pagination";
import { toUserDto } from "./user.dto";
import type * as routes from "./users.routes";
import * as users from "./users.service";

export const getMe: RouteHandler<typeof routes.getMe, AppEnv> = async (c) => {
  const user = await users.getProfile(c.get("ctx"));
  return c.json(toUserDto(user), 200);
};

export const updateMe: RouteHandler<typeof routes.updateMe, AppEnv> = async (c) => {
  const user = await users.updateProfile(c.get("ctx"), c.req.valid("json"));
  return c.json(toUserDto(user), 200);
};

export const deleteMe: RouteHandler<typeof routes.deleteMe, AppEnv> = async (c) => {
  await users.deleteAccount(c.get("ctx"), c.req.valid("json"));
  return c.body(null, 204);
};

export const changeEmail: RouteHandler<typeof routes.changeEmail, AppEnv> = async (c) => {
  const { expiresInSeconds } = await users.changeEmail(c.get("ctx"), c.req.valid("json"));
  return c.json({ status: "confirmation_sent" as const, expires_in: expiresInSeconds }, 202);
};

export const listMySessions: RouteHandler<typeof routes.listMySessions, AppEnv> = async (c) => {
  const query = c.req.valid("query");
  const page = await users.listMySessions(c.get("ctx"), query);
  setLinkHeader(c, page.meta);
  return c.json(page, 200);
};

export const revokeMySession: RouteHandler<typeof routes.revokeMySession, AppEnv> = async (c) => {
  await users.revokeMySession(c.get("ctx"), c.req.valid("param").id);
  return c.body(null, 204);
};

export const listUsers: RouteHandler<typeof routes.listUsers, AppEnv> = async (c) => {
  const page = await users.listUsers(c.get("ctx"), users.listUsersInput(c.req.valid("query")));
  setLinkHeader(c, page.meta);
  return c.json({ data: page.data.map(toUserDto), meta: page.meta }, 200);
};

export const getUser: RouteHandler<typeof routes.getUser, AppEnv> = async (c) => {
  const user = await users.getUserForPrincipal(c.get("ctx"), c.req.valid("param").id);
  return c.json(toUserDto(user), 200);
};
