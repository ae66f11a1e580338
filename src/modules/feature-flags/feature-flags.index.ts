import { createRouter } from "../../lib/create-router";
import * as handlers from "./feature-flags.handlers";
import * as routes from "./feature-flags.routes";

/** Mounted at /api/v1/feature-flags: the caller's evaluated flags. Staff CRUD is on the admin router. */
export const featureFlagsRouter = createRouter().openapi(routes.myFlags, handlers.myFlags);
