import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { setLinkHeader } from "../../lib/pagination";
import type * as routes from "./feature-flags.routes";
import * as flags from "./feature-flags.service";

export const listFlags: RouteHandler<typeof routes.listFlags, AppEnv> = async (c) => {
  const query = c.req.valid("query");
  const page = await flags.listFeatureFlags(c.get("ctx"), {
    limit: query.limit,
    cursor: query.cursor,
    sort: query.sort,
    enabled: query["filter[enabled]"],
  });
  setLinkHeader(c, page.meta);
  return c.json({ data: page.data.map(flags.toFeatureFlagDto), meta: page.meta }, 200);
};

export const getFlag: RouteHandler<typeof routes.getFlag, AppEnv> = async (c) => {
  const flag = await flags.getFeatureFlag(c.get("ctx"), c.req.valid("param").key);
  return c.json(flags.toFeatureFlagDto(flag), 200);
};

export const putFlag: RouteHandler<typeof routes.putFlag, AppEnv> = async (c) => {
  const { key } = c.req.valid("param");
  const { flag, created } = await flags.putFeatureFlag(c.get("ctx"), key, c.req.valid("json"));
  if (!created) return c.json(flags.toFeatureFlagDto(flag), 200);
  c.header("Location", `/admin/v1/feature-flags/${key}`);
  return c.json(flags.toFeatureFlagDto(flag), 201);
};

export const deleteFlag: RouteHandler<typeof routes.deleteFlag, AppEnv> = async (c) => {
  await flags.deleteFeatureFlag(c.get("ctx"), c.req.valid("param").key);
  return c.body(null, 204);
};

export const myFlags: RouteHandler<typeof routes.myFlags, AppEnv> = async (c) => {
  return c.json({ flags: await flags.evaluateFlagsForCaller(c.get("ctx")) }, 200);
};
