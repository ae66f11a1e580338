import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { setLinkHeader } from "../../lib/pagination";
import type * as routes from "./pre-registrations.routes";
import * as waitlist from "./pre-registrations.service";

export const joinWaitlist: RouteHandler<typeof routes.joinWaitlist, AppEnv> = async (c) => {
  const { entry, created } = await waitlist.joinWaitlist(c.get("ctx"), c.req.valid("json").email);
  const body = waitlist.toPreRegistrationDto(entry);
  if (!created) return c.json(body, 200);
  c.header("Location", `/api/v1/pre-registrations/${entry.id}`);
  return c.json(body, 201);
};

export const listWaitlist: RouteHandler<typeof routes.listWaitlist, AppEnv> = async (c) => {
  const page = await waitlist.listPreRegistrations(c.get("ctx"), c.req.valid("query"));
  setLinkHeader(c, page.meta);
  return c.json({ data: page.data.map(waitlist.toPreRegistrationDto), meta: page.meta }, 200);
};

export const exportWaitlist: RouteHandler<typeof routes.exportWaitlist, AppEnv> = async (c) => {
  const day = new Date().toISOString().slice(0, 10);
  return c.body(waitlist.exportPreRegistrationsCsv(c.get("ctx")), 200, {
    "Content-Type": "text/csv; charset=utf-8",
    "Content-Disposition": `attachment; filename="pre-registrations-${day}.csv"`,
    "Cache-Control": "no-store",
  });
};

export const getWaitlistEntry: RouteHandler<typeof routes.getWaitlistEntry, AppEnv> = async (c) => {
  const entry = await waitlist.getPreRegistration(c.get("ctx"), c.req.valid("param").id);
  return c.json(waitlist.toPreRegistrationDto(entry), 200);
};
