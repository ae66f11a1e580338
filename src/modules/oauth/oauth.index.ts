import { createRouter } from "../../lib/create-router";
import * as handlers from "./oauth.handlers";
import * as routes from "./oauth.routes";

/** Mounted at /api/v1/oauth. */
export const oauthRouter = createRouter().openapi(routes.token, handlers.token);
