import { createRouter } from "../../lib/create-router";
import { devMailboxEnabled } from "./dev-mailbox.guard";
import * as handlers from "./dev-mailbox.handlers";
import * as routes from "./dev-mailbox.routes";

/**
 * Mounted at /dev: GET /dev/mailbox.json (in the OpenAPI document), and the two HTML pages
 * GET /dev/mailbox and GET /dev/mailbox/{id}, plain routes since OpenAPI describes no web pages.
 */
export const devMailboxRouter = createRouter().openapi(routes.listJson, handlers.listJson);
devMailboxRouter.get("/mailbox", devMailboxEnabled, handlers.listPageHandler);
devMailboxRouter.get("/mailbox/:id", devMailboxEnabled, handlers.emailPageHandler);
