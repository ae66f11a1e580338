import { createRouter } from "../../lib/create-router";
import * as handlers from "./notifications.handlers";
import * as routes from "./notifications.routes";

/**
 * Mounted at /api/v1/notifications. Fixed paths (`/unread-count`, `/read-all`, `/ws`,
 * `/ws-ticket`, `/test`) come before `/{id}` routes.
 */
export const notificationsRouter = createRouter()
  .openapi(routes.list, handlers.list)
  .openapi(routes.unreadCount, handlers.unreadCount)
  .openapi(routes.markAllRead, handlers.markAllRead)
  .openapi(routes.wsTicket, handlers.wsTicket)
  .openapi(routes.ws, handlers.ws)
  .openapi(routes.sendTest, handlers.sendTest)
  .openapi(routes.getOne, handlers.getOne)
  .openapi(routes.markRead, handlers.markRead)
  .openapi(routes.markUnread, handlers.markUnread)
  .openapi(routes.remove, handlers.remove);
