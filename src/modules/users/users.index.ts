import { createRouter } from "../../lib/create-router";
import * as avatarHandlers from "./avatar.handlers";
import * as avatarRoutes from "./avatar.routes";
import * as avatarUploadHandlers from "./avatar-upload.handlers";
import * as avatarUploadRoutes from "./avatar-upload.routes";
import * as handlers from "./users.handlers";
import * as routes from "./users.routes";

/** Mounted at /api/v1/users. `/me…` is registered before `/{id}` so "me" is never taken for an id. */
export const usersRouter = createRouter()
  .openapi(routes.getMe, handlers.getMe)
  .openapi(routes.updateMe, handlers.updateMe)
  .openapi(routes.deleteMe, handlers.deleteMe)
  .openapi(routes.changeEmail, handlers.changeEmail)
  .openapi(routes.listMySessions, handlers.listMySessions)
  .openapi(routes.revokeMySession, handlers.revokeMySession)
  .openapi(avatarRoutes.uploadAvatar, avatarHandlers.uploadAvatar)
  .openapi(avatarRoutes.deleteAvatar, avatarHandlers.deleteAvatar)
  .openapi(avatarUploadRoutes.startAvatarUpload, avatarUploadHandlers.startAvatarUpload)
  .openapi(avatarUploadRoutes.completeAvatarUpload, avatarUploadHandlers.completeAvatarUpload)
  .openapi(avatarRoutes.getAvatar, avatarHandlers.getAvatar)
  .openapi(routes.listUsers, handlers.listUsers)
  .openapi(routes.getUser, handlers.getUser);
