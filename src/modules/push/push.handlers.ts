import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { setLinkHeader } from "../../lib/pagination";
import type * as routes from "./push.routes";
import * as devices from "./push-subscriptions.service";
import { vapidKeys } from "./vapid";

export const subscribe: RouteHandler<typeof routes.subscribe, AppEnv> = async (c) => {
  const { subscription, created } = await devices.subscribeDevice(
    c.get("ctx"),
    c.req.valid("json"),
    c.req.header("user-agent") ?? null,
  );
  c.header("Location", `/api/v1/users/me/push-subscriptions/${subscription.id}`);
  return c.json(devices.toPushSubscriptionDto(subscription), created ? 201 : 200);
};

export const list: RouteHandler<typeof routes.list, AppEnv> = async (c) => {
  const page = await devices.listDevices(c.get("ctx"), c.req.valid("query"));
  setLinkHeader(c, page.meta);
  return c.json(page, 200);
};

export const remove: RouteHandler<typeof routes.remove, AppEnv> = async (c) => {
  await devices.removeDevice(c.get("ctx"), c.req.valid("param").id);
  return c.body(null, 204);
};

export const vapidPublicKey: RouteHandler<typeof routes.vapidPublicKey, AppEnv> = async (c) => {
  const { publicKey } = await vapidKeys(c.get("ctx").config);
  // Public and stable (changing it invalidates every browser subscription): caches may keep it a while.
  c.header("Cache-Control", "public, max-age=3600");
  return c.json({ key: publicKey }, 200);
};
