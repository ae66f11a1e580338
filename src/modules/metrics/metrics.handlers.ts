import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { EXPOSITION_CONTENT_TYPE } from "./metrics.exposition";
import type * as routes from "./metrics.routes";
import { assertMetricsAccess, scrapeMetrics } from "./metrics.service";

export const scrape: RouteHandler<typeof routes.scrape, AppEnv> = async (c) => {
  await assertMetricsAccess(c.get("ctx"), c.req.header("authorization"));
  const text = await scrapeMetrics(c.get("ctx"));
  return c.text(text, 200, { "Content-Type": EXPOSITION_CONTENT_TYPE, "Cache-Control": "no-store" });
};
