import type { RouteHandler } from "@hono/zod-openapi";
// A named import: the bundle then carries the version alone, not the whole package.json.
import { version } from "../../../package.json";
import type { AppEnv } from "../../app-env";
import { getConfig } from "../../env";
import { docsLinks } from "../docs/docs.links";
import type * as routes from "./health.routes";
import { checkDependencies } from "./health.service";

export const VERSION = version;

export const serviceInfo: RouteHandler<typeof routes.serviceInfo, AppEnv> = (c) => {
  const config = getConfig(c.env);
  return c.json(
    {
      name: config.APP_NAME,
      version: VERSION,
      environment: config.ENVIRONMENT,
      links: { health: "/health", ...docsLinks(config.API_DOCS_ENABLED) },
    },
    200,
  );
};

export const health: RouteHandler<typeof routes.health, AppEnv> = async (c) => {
  const report = await checkDependencies(c.env, c.get("requestId"));
  c.header("Cache-Control", "no-store");
  const body = {
    status: report.status,
    version: VERSION,
    environment: getConfig(c.env).ENVIRONMENT,
    time: new Date().toISOString(),
    checks: report.checks,
  };
  return report.status === "ok" ? c.json(body, 200) : c.json(body, 503);
};

export const liveness: RouteHandler<typeof routes.liveness, AppEnv> = (c) => {
  c.header("Cache-Control", "no-store");
  return c.json({ status: "ok" as const }, 200);
};
