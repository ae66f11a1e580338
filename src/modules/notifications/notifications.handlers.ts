import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { setLinkHeader } from "../../lib/pagination";
import { ProblemError } from "../../lib/problem";
import { authenticationFailure } from "../../middleware/authenticate";
import { notificationHub } from "./notification-hub.client";
import { REFUSE_WEBSOCKET_COMPRESSION } from "./notification-hub.protocol";
import type * as routes from "./notifications.routes";
import * as notifications from "./notifications.service";
import { authorizeSocket } from "./socket-auth";
import { issueWsTicket, WS_TICKET_TTL_SECONDS } from "./ws-ticket";

export const list: RouteHandler<typeof routes.list, AppEnv> = async (c) => {
  const query = c.req.valid("query");
  const page = await notifications.listNotifications(c.get("ctx"), {
    limit: query.limit,
    cursor: query.cursor,
    sort: query.sort,
    unread: query["filter[unread]"],
    type: query["filter[type]"],
  });
  setLinkHeader(c, page.meta);
  return c.json(page, 200);
};

export const unreadCount: RouteHandler<typeof routes.unreadCount, AppEnv> = async (c) => {
  return c.json({ count: await notifications.getUnreadCount(c.get("ctx")) }, 200);
};

export const getOne: RouteHandler<typeof routes.getOne, AppEnv> = async (c) => {
  return c.json(await notifications.getNotification(c.get("ctx"), c.req.valid("param").id), 200);
};

export const sendTest: RouteHandler<typeof routes.sendTest, AppEnv> = async (c) => {
  const notification = await notifications.sendTestNotification(c.get("ctx"));
  c.header("Location", `/api/v1/notifications/${notification.id}`);
  return c.json(notification, 201);
};

export const markRead: RouteHandler<typeof routes.markRead, AppEnv> = async (c) => {
  return c.json(await notifications.markRead(c.get("ctx"), c.req.valid("param").id), 200);
};

export const markUnread: RouteHandler<typeof routes.markUnread, AppEnv> = async (c) => {
  return c.json(await notifications.markUnread(c.get("ctx"), c.req.valid("param").id), 200);
};

export const markAllRead: RouteHandler<typeof routes.markAllRead, AppEnv> = async (c) => {
  return c.json({ updated: await notifications.markAllRead(c.get("ctx")) }, 200);
};

export const remove: RouteHandler<typeof routes.remove, AppEnv> = async (c) => {
  await notifications.deleteNotification(c.get("ctx"), c.req.valid("param").id);
  return c.body(null, 204);
};

export const wsTicket: RouteHandler<typeof routes.wsTicket, AppEnv> = async (c) => {
  const { ticket, expiresAt } = await issueWsTicket(c.get("ctx"));
  c.header("Cache-Control", "no-store");
  return c.json({ ticket, expires_at: expiresAt.toISOString(), expires_in: WS_TICKET_TTL_SECONDS }, 201);
};

export const ws: RouteHandler<typeof routes.ws, AppEnv> = async (c) => {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    throw new ProblemError({
      status: 426,
      code: "upgrade_required",
      detail: "This endpoint only speaks WebSocket: send `Upgrade: websocket`.",
      headers: { Upgrade: "websocket", Connection: "Upgrade" },
    });
  }
  const query = c.req.valid("query");
  const owner = await authorizeSocket(c.get("ctx"), {
    authFailure: authenticationFailure(c),
    ticket: query.ticket,
  });
  const upgraded = await notificationHub(c.env, owner.userId).connect({
    ...owner,
    since: query.since,
    d1Bookmark: c.get("ctx").dbSession.bookmark(),
    maxSockets: c.get("ctx").config.NOTIFICATIONS_MAX_SOCKETS_PER_USER,
  });
  // A fresh Response: the hub's has immutable headers, which the secure-headers middleware must set.
  const headers = new Headers(upgraded.headers);
  headers.set("Sec-WebSocket-Extensions", REFUSE_WEBSOCKET_COMPRESSION);
  return new Response(upgraded.body, {
    status: upgraded.status,
    headers,
    webSocket: upgraded.webSocket,
  });
};
