import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { setLinkHeader } from "../../lib/pagination";
import { orgContext } from "../../middleware/require";
import { eventTypeCatalogue } from "./event-catalog";
import * as deliveries from "./webhook-deliveries.service";
import * as endpoints from "./webhook-endpoints.service";
import type * as routes from "./webhooks.routes";

/** Answers that carry a secret must never be cached by anything between us and the client. */
const NO_STORE = { "Cache-Control": "no-store" };

export const createEndpoint: RouteHandler<typeof routes.createEndpoint, AppEnv> = async (c) => {
  const octx = orgContext(c);
  const { endpoint, secret } = await endpoints.createEndpoint(octx, c.req.valid("json"));
  c.header("Location", `/api/v1/orgs/${octx.organization.id}/webhook-endpoints/${endpoint.id}`);
  return c.json({ ...endpoints.toEndpointDto(endpoint), secret }, 201, NO_STORE);
};

export const listEndpoints: RouteHandler<typeof routes.listEndpoints, AppEnv> = async (c) => {
  const query = c.req.valid("query");
  const page = await endpoints.listEndpoints(orgContext(c), {
    limit: query.limit,
    cursor: query.cursor,
    sort: query.sort,
    enabled: query["filter[enabled]"],
  });
  setLinkHeader(c, page.meta);
  return c.json(page, 200);
};

export const getEndpoint: RouteHandler<typeof routes.getEndpoint, AppEnv> = async (c) => {
  const endpoint = await endpoints.findEndpoint(orgContext(c), c.req.valid("param").id);
  return c.json(endpoints.toEndpointDto(endpoint), 200);
};

export const updateEndpoint: RouteHandler<typeof routes.updateEndpoint, AppEnv> = async (c) => {
  const endpoint = await endpoints.updateEndpoint(
    orgContext(c),
    c.req.valid("param").id,
    c.req.valid("json"),
  );
  return c.json(endpoints.toEndpointDto(endpoint), 200);
};

export const deleteEndpoint: RouteHandler<typeof routes.deleteEndpoint, AppEnv> = async (c) => {
  await endpoints.deleteEndpoint(orgContext(c), c.req.valid("param").id);
  return c.body(null, 204);
};

export const rotateSecret: RouteHandler<typeof routes.rotateSecret, AppEnv> = async (c) => {
  const { endpoint, secret } = await endpoints.rotateEndpointSecret(orgContext(c), c.req.valid("param").id);
  return c.json({ ...endpoints.toEndpointDto(endpoint), secret }, 200, NO_STORE);
};

export const sendTestEvent: RouteHandler<typeof routes.sendTestEvent, AppEnv> = async (c) => {
  const delivery = await deliveries.sendTestEvent(orgContext(c), c.req.valid("param").id);
  return c.json(deliveries.toDeliveryDto(delivery), 202);
};

export const listDeliveries: RouteHandler<typeof routes.listDeliveries, AppEnv> = async (c) => {
  const query = c.req.valid("query");
  const page = await deliveries.listDeliveries(orgContext(c), c.req.valid("param").id, {
    limit: query.limit,
    cursor: query.cursor,
    sort: query.sort,
    status: query["filter[status]"],
  });
  setLinkHeader(c, page.meta);
  return c.json(page, 200);
};

export const getDelivery: RouteHandler<typeof routes.getDelivery, AppEnv> = async (c) => {
  const { id, delivery_id } = c.req.valid("param");
  return c.json(await deliveries.getDelivery(orgContext(c), id, delivery_id), 200);
};

export const retryDelivery: RouteHandler<typeof routes.retryDelivery, AppEnv> = async (c) => {
  const { id, delivery_id } = c.req.valid("param");
  const delivery = await deliveries.retryDelivery(orgContext(c), id, delivery_id);
  return c.json(deliveries.toDeliveryDto(delivery), 202);
};

export const listEventTypes: RouteHandler<typeof routes.listEventTypes, AppEnv> = async (c) => {
  c.header("Cache-Control", "public, max-age=3600");
  return c.json({ data: eventTypeCatalogue() }, 200);
};
