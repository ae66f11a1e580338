import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { setLinkHeader } from "../../lib/pagination";
import * as waitlist from "../pre-registrations/pre-registrations.service";
import type * as routes from "./admin-operations.routes";
import * as admin from "./admin-operations.service";

export const summary: RouteHandler<typeof routes.summary, AppEnv> = async (c) => {
  return c.json(await admin.platformSummary(c.get("ctx")), 200);
};

export const listPreRegistrations: RouteHandler<typeof routes.listPreRegistrations, AppEnv> = async (c) => {
  const page = await waitlist.listPreRegistrations(c.get("ctx"), c.req.valid("query"));
  setLinkHeader(c, page.meta);
  return c.json({ data: page.data.map(waitlist.toPreRegistrationDto), meta: page.meta }, 200);
};

export const exportPreRegistrations: RouteHandler<typeof routes.exportPreRegistrations, AppEnv> = async (
  c,
) => {
  const day = new Date().toISOString().slice(0, 10);
  return c.body(waitlist.exportPreRegistrationsCsv(c.get("ctx")), 200, {
    "Content-Type": "text/csv; charset=utf-8",
    "Content-Disposition": `attachment; filename="pre-registrations-${day}.csv"`,
    "Cache-Control": "no-store",
  });
};

export const broadcast: RouteHandler<typeof routes.broadcast, AppEnv> = async (c) => {
  const result = await admin.broadcast(c.get("ctx"), c.req.valid("json"));
  return c.json(
    { broadcast_id: result.broadcastId, audience: result.audience, queue_messages: result.messages },
    202,
  );
};
