import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../app-env";
import { type ValidationTarget, validationProblem } from "./validation";

/**
 * Every module's router. Validation failures throw one problem (400
 * `validation_failed` naming each field) that the app's error handler answers,
 * so no handler ever sees unvalidated input.
 */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationProblem(result.error, result.target as ValidationTarget);
    },
  });
}

export type AppRouter = ReturnType<typeof createRouter>;
