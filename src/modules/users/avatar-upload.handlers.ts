import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { toUploadDto } from "../../lib/storage/upload-schema";
import { toAvatarDto } from "./avatar.handlers";
import type * as routes from "./avatar-upload.routes";
import * as service from "./avatar-upload.service";

export const startAvatarUpload: RouteHandler<typeof routes.startAvatarUpload, AppEnv> = async (c) => {
  const { upload, instructions } = await service.startAvatarUpload(c.get("ctx"), c.req.valid("json"));
  return c.json(
    {
      id: upload.id,
      content_type: c.req.valid("json").content_type,
      size: upload.size,
      upload: toUploadDto(instructions),
    },
    201,
  );
};

export const completeAvatarUpload: RouteHandler<typeof routes.completeAvatarUpload, AppEnv> = async (c) => {
  const stored = await service.completeAvatarUpload(c.get("ctx"), c.req.valid("param").id);
  return c.json(toAvatarDto(stored), 200);
};
