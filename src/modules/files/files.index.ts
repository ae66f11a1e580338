import { createRouter } from "../../lib/create-router";
import * as transfers from "./file-transfers.handlers";
import * as transferRoutes from "./file-transfers.routes";
import * as handlers from "./files.handlers";
import * as routes from "./files.routes";

/** Mounted at /api/v1/orgs, beside the organizations router. */
export const filesRouter = createRouter()
  .openapi(routes.createFile, handlers.createFile)
  .openapi(routes.listFiles, handlers.listFiles)
  .openapi(routes.getFile, handlers.getFile)
  .openapi(routes.deleteFile, handlers.deleteFile)
  .openapi(routes.completeFile, handlers.completeFile)
  .openapi(routes.downloadFile, handlers.downloadFile);

/** Mounted at /api/v1/files: the on-API ends of upload and download URLs (no credentials but the token). */
export const fileTransfersRouter = createRouter()
  .openapi(transferRoutes.receiveUpload, transfers.receiveUpload)
  .openapi(transferRoutes.serveDownload, transfers.serveDownload);
