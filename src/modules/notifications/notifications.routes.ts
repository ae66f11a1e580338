import { z } from "@hono/zod-openapi";
import {
  defineRoute,
  jsonContent,
  ProblemSchema,
  problemResponse,
  problemResponses,
  SECURITY,
} from "../../lib/openapi";
import { rateLimit } from "../../middleware/rate-limit";
import { requireUser } from "../../middleware/require";
import { switchedOn } from "../../middleware/switched-on";
import {
  ListNotificationsQuery,
  MarkAllReadSchema,
  NotificationIdParams,
  NotificationPageSchema,
  NotificationSchema,
  notificationExample,
  UnreadCountSchema,
  WsQuery,
  WsTicketSchema,
} from "./notifications.schemas";

/** WEBSOCKETS_ENABLED=false: realtime is off and its routes do not exist. */
const websocketsEnabled = switchedOn((config) => config.WEBSOCKETS_ENABLED);

const tags = ["Notifications"];
const readExample = { ...notificationExample, read_at: "2026-11-21T09:15:02.118Z" };

export const list = defineRoute({
  method: "get",
  path: "/",
  tags,
  summary: "Your notifications",
  description:
    "Newest first (`sort=created_at` for oldest first). `filter[unread]=true` keeps the unread ones, `filter[type]` one type.",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { query: ListNotificationsQuery },
  responses: {
    200: jsonContent(NotificationPageSchema, "One page of notifications.", {
      data: [notificationExample],
      meta: { next: null, prev: null, total: 1 },
    }),
    ...problemResponses(400, 401, 403),
  },
});

export const unreadCount = defineRoute({
  method: "get",
  path: "/unread-count",
  tags,
  summary: "How many are unread",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  responses: {
    200: jsonContent(UnreadCountSchema, "The unread count.", { count: 3 }),
    ...problemResponses(401, 403),
  },
});

export const getOne = defineRoute({
  method: "get",
  path: "/{id}",
  tags,
  summary: "Read one",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { params: NotificationIdParams },
  responses: {
    200: jsonContent(NotificationSchema, "The notification.", notificationExample),
    ...problemResponses(400, 401, 403),
    404: problemResponse(404, "No such notification, or it is someone else's."),
  },
});

export const sendTest = defineRoute({
  method: "post",
  path: "/test",
  tags,
  summary: "Send yourself a test notification",
  description:
    "Creates a `system` notification for you and sends it to every socket you have open and, by push, to every device you registered (unless your `notification_preferences` turn `system` push off), so a client can check that its devices receive notifications. Never emailed.",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  responses: {
    201: {
      ...jsonContent(NotificationSchema, "The test notification.", {
        ...notificationExample,
        type: "system",
        title: "Test notification",
        message: "If you can read this on each of your devices, notifications reach them.",
        target_url: null,
        data: { test: true },
      }),
      headers: z.object({
        Location: z
          .string()
          .openapi({ example: "/api/v1/notifications/0193a1f2-6c3d-7e4f-8a5b-9c0d1e2f3a4b" }),
      }),
    },
    ...problemResponses(401, 403, 429),
  },
});

export const markRead = defineRoute({
  method: "post",
  path: "/{id}/read",
  tags,
  summary: "Mark one read",
  description:
    "Idempotent: an already-read notification keeps its first `read_at`. Your other open sockets receive a `read` message.",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { params: NotificationIdParams },
  responses: {
    200: jsonContent(NotificationSchema, "The notification, read.", readExample),
    ...problemResponses(400, 401, 403),
    404: problemResponse(404, "No such notification, or it is someone else's."),
  },
});

export const markUnread = defineRoute({
  method: "post",
  path: "/{id}/unread",
  tags,
  summary: "Mark one unread",
  description: "Idempotent. Your open sockets receive the new `unread_count`.",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { params: NotificationIdParams },
  responses: {
    200: jsonContent(NotificationSchema, "The notification, unread.", notificationExample),
    ...problemResponses(400, 401, 403),
    404: problemResponse(404, "No such notification, or it is someone else's."),
  },
});

export const markAllRead = defineRoute({
  method: "post",
  path: "/read-all",
  tags,
  summary: "Mark all read",
  description: "Your open sockets receive a `read` message with the ids that changed.",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  responses: {
    200: jsonContent(MarkAllReadSchema, "How many were unread.", { updated: 3 }),
    ...problemResponses(401, 403),
  },
});

export const remove = defineRoute({
  method: "delete",
  path: "/{id}",
  tags,
  summary: "Delete one",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { params: NotificationIdParams },
  responses: {
    204: { description: "Deleted." },
    ...problemResponses(400, 401, 403),
    404: problemResponse(404, "No such notification, or it is someone else's."),
  },
});

export const wsTicket = defineRoute({
  method: "post",
  path: "/ws-ticket",
  tags,
  summary: "Get a WebSocket ticket (browsers)",
  description:
    "A browser cannot send an Authorization header on a WebSocket: get a ticket here with your access token, then open `GET /api/v1/notifications/ws?ticket=…` within 30 seconds. Single use, bound to your session. Rate limited by the `ws_ticket` policy.",
  security: SECURITY.bearer,
  middleware: [websocketsEnabled, requireUser(), rateLimit("ws_ticket")],
  responses: {
    201: jsonContent(WsTicketSchema, "The ticket.", {
      ticket: "wst_Yb3kQm9xv2TtZrW8pN4sLd7hFc1gJe6aUo5iKy0qXwE",
      expires_at: "2026-11-21T09:13:14.000Z",
      expires_in: 30,
    }),
    ...problemResponses(401, 403, 429, 503),
  },
});

export const ws = defineRoute({
  method: "get",
  path: "/ws",
  tags,
  summary: "Realtime notifications (WebSocket)",
  description: [
    "Upgrade to a WebSocket (`Upgrade: websocket`). Authenticate with `Authorization: Bearer <access token>` (servers, mobile) or `?ticket=` from POST /ws-ticket (browsers); refused credentials get a 401 before any socket opens.",
    "Server → client frames (JSON text): `hello` `{ unread_count, replay }` first; `notification` `{ data, unread_count }` for each new one; `read` `{ ids, unread_count }` when notifications are marked read on any device; `unread_count` `{ unread_count }`; `error` `{ code, detail }` when a client frame is refused (the socket stays open); `pong`.",
    'Client → server: `{"type":"ping"}` (answered `{"type":"pong"}` without waking the server), `{"type":"mark_read","ids":[…]}`.',
    "`?since=<notification id>` replays, oldest first and before any live event, the notifications created after that one (at most 100; `hello.replay.truncated` says to refetch the list).",
    "With `WEBSOCKETS_ENABLED=false` this route and POST /ws-ticket answer 404 (notifications still reach the REST list, email and push).",
    "Frames are never compressed: an offered `permessage-deflate` is declined (no `Sec-WebSocket-Extensions` in the 101).",
    "Close codes: 4001 session revoked, 4003 account deleted or disabled, 4008 too many connections (the oldest socket goes once the user holds more than NOTIFICATIONS_MAX_SOCKETS_PER_USER, default 100), 1011 server error (reconnect with `since`).",
  ].join("\n\n"),
  security: SECURITY.bearerOrNone,
  middleware: [websocketsEnabled],
  request: { query: WsQuery },
  responses: {
    101: { description: "Switching Protocols: the socket is open." },
    ...problemResponses(400, 401, 403, 429),
    426: {
      description: "Not a WebSocket upgrade (`upgrade_required`).",
      headers: z.object({ Upgrade: z.string().openapi({ example: "websocket" }) }),
      content: {
        "application/problem+json": {
          schema: ProblemSchema,
          example: {
            type: "/problems/upgrade_required",
            title: "Upgrade Required",
            status: 426,
            detail: "This endpoint only speaks WebSocket: send `Upgrade: websocket`.",
            code: "upgrade_required",
            request_id: "0190c6c4-8d1e-7c2a-9f5e-1b2c3d4e5f60",
          },
        },
      },
    },
  },
});
