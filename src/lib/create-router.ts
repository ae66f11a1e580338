import { OpenAPIHono } from "@hono/zod-openapi";
import type { HonoOptions } from "hono/hono-base";
import type { AppEnv } from "../app-env";
import { type ValidationTarget, validationProblem } from "./validation";

/**
 * Every module's router. Validation failures throw one problem (400
 * `validation_failed` naming each field) that the app's error handler answers,
 * so no handler ever sees unvalidated input. `router` is for the app itself (src/app.ts): a
 * module's router only collects routes, which the app's router matches.
 */
export function createRouter(options: Pick<HonoOptions<AppEnv>, "router"> = {}) {
  return new OpenAPIHono<AppEnv>({
    ...options,
    defaultHook: (result) => {
      if (!result.success) throw validationProblem(result.error, result.target as ValidationTarget);
    },
  });
}

export type AppRouter = ReturnType<typeof createRouter>;
