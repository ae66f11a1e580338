import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { setLinkHeader } from "../../lib/pagination";
import { IDEMPOTENCY_KEY_HEADER } from "../../middleware/idempotency";
import { orgContext } from "../../middleware/require";
import type * as routes from "./billing.routes";
import * as billing from "./billing.service";
import { receiveStripeWebhook } from "./webhooks.service";

export const listPlans: RouteHandler<typeof routes.listPlans, AppEnv> = (c) =>
  c.json(billing.listPlans(c.get("ctx")), 200);

export const startCheckout: RouteHandler<typeof routes.startCheckout, AppEnv> = async (c) => {
  const session = await billing.startCheckout(orgContext(c), c.req.valid("json"), {
    idempotencyKey: c.req.header(IDEMPOTENCY_KEY_HEADER),
  });
  return c.json(session, 200);
};

export const openPortal: RouteHandler<typeof routes.openPortal, AppEnv> = async (c) => {
  const session = await billing.openBillingPortal(orgContext(c), {
    idempotencyKey: c.req.header(IDEMPOTENCY_KEY_HEADER),
  });
  return c.json(session, 200);
};

export const getSubscription: RouteHandler<typeof routes.getSubscription, AppEnv> = async (c) =>
  c.json(await billing.getSubscription(orgContext(c)), 200);

export const getCredits: RouteHandler<typeof routes.getCredits, AppEnv> = async (c) => {
  const query = c.req.valid("query");
  const page = await billing.getCredits(orgContext(c), {
    limit: query.limit,
    cursor: query.cursor,
    sort: query.sort,
    kinds: query["filter[kind]"] ? [query["filter[kind]"]] : undefined,
  });
  setLinkHeader(c, page.meta);
  return c.json(page, 200);
};

/** The raw bytes go to the verifier untouched (see billing.routes.ts). */
export const stripeWebhook: RouteHandler<typeof routes.stripeWebhook, AppEnv> = async (c) => {
  const body = new Uint8Array(await c.req.arrayBuffer());
  const receipt = await receiveStripeWebhook(c.get("ctx"), body, c.req.header("stripe-signature"));
  return c.json({ received: true as const, ...receipt }, 200);
};
