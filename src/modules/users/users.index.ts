import { createRouter } from "../../lib/create-router";
import * as handlers from "./users.handlers";
import * as routes from "./users.routes";

/** Mounted at /api/v1/users. `/me…` is registered before `/{id}` so "me" is never taken for an id. */
export const usersRouter = createRouter()
  .openapi(routes.getMe, handlers.getMe)
  .openapi(routes.updateMe, handlers.updateMe)
  .openapi(routes.deleteMe, handlers.deleteMe)
  .openapi(routes.listMySessions, handlers.listMySessions)
  .openapi(routes.revokeMySession, handlers.revokeMySession)
  .openapi(routes.listUsers, handlers.listUsers)
  .openapi(routes.getUser, handlers.getUser);
