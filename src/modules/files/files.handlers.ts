import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { setLinkHeader } from "../../lib/pagination";
import { toUploadDto } from "../../lib/storage/upload-schema";
import { orgContext } from "../../middleware/require";
import type * as routes from "./files.routes";
import * as service from "./files.service";

export const createFile: RouteHandler<typeof routes.createFile, AppEnv> = async (c) => {
  const octx = orgContext(c);
  const { file, upload } = await service.createFile(octx, c.req.valid("json"));
  c.header("Location", `/api/v1/orgs/${octx.organization.id}/files/${file.id}`);
  return c.json(
    {
      ...service.toFileDto(file),
      upload: toUploadDto(upload),
    },
    201,
  );
};

export const completeFile: RouteHandler<typeof routes.completeFile, AppEnv> = async (c) => {
  const file = await service.completeFile(orgContext(c), c.req.valid("param").id);
  return c.json(service.toFileDto(file), 200);
};

export const listFiles: RouteHandler<typeof routes.listFiles, AppEnv> = async (c) => {
  const query = c.req.valid("query");
  const page = await service.listFiles(orgContext(c), {
    limit: query.limit,
    cursor: query.cursor,
    sort: query.sort,
    status: query["filter[status]"],
  });
  setLinkHeader(c, page.meta);
  return c.json({ data: page.data.map(service.toFileDto), meta: page.meta }, 200);
};

export const getFile: RouteHandler<typeof routes.getFile, AppEnv> = async (c) => {
  const file = await service.getFile(orgContext(c), c.req.valid("param").id);
  return c.json(service.toFileDto(file), 200);
};

export const deleteFile: RouteHandler<typeof routes.deleteFile, AppEnv> = async (c) => {
  await service.deleteFile(orgContext(c), c.req.valid("param").id);
  return c.body(null, 204);
};

export const downloadFile: RouteHandler<typeof routes.downloadFile, AppEnv> = async (c) => {
  const download = await service.fileDownload(orgContext(c), c.req.valid("param").id);
  // A signed URL is a credential for minutes: no shared cache may keep it.
  c.header("Cache-Control", "no-store");
  return c.json({ url: download.url, expires_at: download.expiresAt.toISOString() }, 200);
};
