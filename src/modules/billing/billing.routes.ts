import { createRoute } from "@hono/zod-openapi";
import {
  DEFAULT_JSON_BODY_LIMIT,
  defineRoute,
  jsonContent,
  jsonRequestBody,
  problemResponse,
  problemResponses,
  SECURITY,
} from "../../lib/openapi";
import { limitBody } from "../../middleware/body-limit";
import { requireOrgAccess } from "../../middleware/require";
import { OrgIdParams } from "../orgs/orgs.schemas";
import {
  CheckoutRequestSchema,
  CheckoutSessionSchema,
  CreditsPageSchema,
  checkoutSessionExample,
  ListCreditsQuery,
  PlansSchema,
  PortalSessionSchema,
  plansExample,
  SubscriptionSchema,
  subscriptionExample,
  WebhookAckSchema,
  webhookAckExample,
} from "./billing.schemas";

const tags = ["Billing"];
const notYours = problemResponse(404, "No such organization, or you are not in it.");
const notConfigured = problemResponse(
  503,
  "Billing is not set up on this server (`billing_not_configured`), or Stripe is unavailable (`payment_provider_unavailable`, with `Retry-After`).",
);
const stripeRefused = problemResponse(
  502,
  "Stripe refused the request (`payment_provider_error`); quote `request_id` when reporting it.",
);

export const listPlans = defineRoute({
  method: "get",
  path: "/plans",
  tags,
  summary: "Plans and credit packs on offer",
  description:
    "Public. From the deployment's BILLING_PLANS configuration: each plan's Stripe price and the credits it grants per month; each credit pack's price and credits. Amounts and currencies are Stripe's (shown on its checkout page).",
  responses: { 200: jsonContent(PlansSchema, "What can be bought.", plansExample) },
});

export const startCheckout = defineRoute({
  method: "post",
  path: "/{org_id}/billing/checkout",
  tags,
  summary: "Start a Stripe Checkout for a plan or a credit pack",
  description:
    "Owners and billing members. Answers the URL of a Stripe-hosted checkout page to redirect to; the organization's Stripe customer is created on first use. `subscription` for a plan (409 `subscription_exists` when the organization already has one: change plans in the portal), `payment` for a credit pack. Once Stripe confirms (webhooks), the subscription appears at `…/billing/subscription` and credits in `…/credits`. An `Idempotency-Key` here is also the basis of the one sent to Stripe, so a retry never opens a second session.",
  security: SECURITY.bearer,
  middleware: [requireOrgAccess("billing:manage")],
  request: { params: OrgIdParams, body: jsonRequestBody(CheckoutRequestSchema) },
  responses: {
    200: jsonContent(CheckoutSessionSchema, "Redirect the customer to `url`.", checkoutSessionExample),
    400: problemResponse(
      400,
      "A price that is not a plan or credit pack (`unknown_price`, with `price_ids`), a mode that does not fit the price, or another invalid field (`validation_failed`).",
    ),
    403: problemResponse(403, "Only owners and billing members start checkouts; API keys cannot."),
    404: notYours,
    409: problemResponse(409, "The organization already has a subscription (`subscription_exists`)."),
    502: stripeRefused,
    503: notConfigured,
    ...problemResponses(401),
  },
});

export const openPortal = defineRoute({
  method: "post",
  path: "/{org_id}/billing/portal",
  tags,
  summary: "Open the Stripe billing portal",
  description:
    "Owners and billing members. A one-time URL of Stripe's billing portal, where the organization changes or cancels its plan, updates payment methods and downloads invoices; it returns to BILLING_PORTAL_RETURN_URL. No body.",
  security: SECURITY.bearer,
  middleware: [requireOrgAccess("billing:manage")],
  request: { params: OrgIdParams },
  responses: {
    200: jsonContent(PortalSessionSchema, "Redirect the customer to `url`."),
    403: problemResponse(403, "Only owners and billing members open the portal; API keys cannot."),
    404: notYours,
    502: stripeRefused,
    503: notConfigured,
    ...problemResponses(400, 401),
  },
});

export const getSubscription = defineRoute({
  method: "get",
  path: "/{org_id}/billing/subscription",
  tags,
  summary: "The organization's subscription",
  description:
    "Owners, admins and billing members; API keys with `billing:read`. The plan, Stripe's status, the end of the paid period and whether it is canceled at its end. `status: \"none\"` when the organization never subscribed. Updated by Stripe's webhooks within seconds of a change.",
  security: SECURITY.bearerOrApiKey,
  middleware: [requireOrgAccess("billing:read")],
  request: { params: OrgIdParams },
  responses: {
    200: jsonContent(SubscriptionSchema, "The subscription.", subscriptionExample),
    403: problemResponse(403, "Members without a billing role, and keys without `billing:read`."),
    404: notYours,
    ...problemResponses(400, 401),
  },
});

export const getCredits = defineRoute({
  method: "get",
  path: "/{org_id}/credits",
  tags,
  summary: "Credit balance and ledger",
  description:
    "Owners, admins and billing members; API keys with `billing:read`. The balance, and the append-only ledger that explains it (newest first; `filter[kind]=grant|purchase|usage|refund|adjustment`, `sort=created_at`, cursor pages). The ledger's amounts always add up to the balance.",
  security: SECURITY.bearerOrApiKey,
  middleware: [requireOrgAccess("billing:read")],
  request: { params: OrgIdParams, query: ListCreditsQuery },
  responses: {
    200: jsonContent(CreditsPageSchema, "The balance and one page of the ledger."),
    403: problemResponse(403, "Members without a billing role, and keys without `billing:read`."),
    404: notYours,
    ...problemResponses(400, 401),
  },
});

/**
 * Declared with createRoute, not defineRoute, on purpose: the signature covers the raw
 * bytes, so nothing may parse, validate or re-encode the body before the handler
 * verifies it (defineRoute's JSON guards would parse it, and its Idempotency-Key
 * middleware does not apply to Stripe's deliveries, which have their own event ids).
 * The body schema below is documentation only: a plain OpenAPI object is not validated.
 */
export const stripeWebhook = createRoute({
  method: "post",
  path: "/stripe",
  tags,
  summary: "Stripe webhook endpoint",
  description:
    "For Stripe only. The `Stripe-Signature` header is verified against STRIPE_WEBHOOK_SECRET on the raw body (HMAC-SHA256, timestamps within 5 minutes); each event id is recorded before anything else, so an event delivered several times has one effect; the work runs on the jobs queue and the answer is immediate. Handles `checkout.session.completed`, `checkout.session.async_payment_succeeded`, `customer.subscription.created|updated|deleted`, `invoice.paid` and `invoice.payment_failed`; other events are acknowledged and ignored.",
  middleware: [limitBody(DEFAULT_JSON_BODY_LIMIT)],
  request: {
    body: {
      required: true,
      description: "The event, exactly as Stripe sends it.",
      content: {
        "application/json": {
          schema: {
            type: "object",
            required: ["id", "object", "type", "created", "data"],
            properties: {
              id: { type: "string", example: "evt_1QeZ7eF2kLmN0pQrW3bH00k5" },
              object: { type: "string", enum: ["event"] },
              type: { type: "string", example: "invoice.paid" },
              created: { type: "integer", example: 1795300000 },
              livemode: { type: "boolean" },
              data: { type: "object", properties: { object: { type: "object" } } },
            },
          },
        },
      },
    },
  },
  parameters: [
    {
      name: "Stripe-Signature",
      in: "header",
      required: true,
      description: '`t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">`, as Stripe computes it.',
      schema: { type: "string" },
      example: "t=1795300000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd",
    },
  ],
  responses: {
    200: jsonContent(
      WebhookAckSchema,
      "Received (or received before: `duplicate: true`).",
      webhookAckExample,
    ),
    400: problemResponse(
      400,
      "Missing or wrong signature, altered body or stale timestamp (`invalid_signature`), or a signed body that is not an event this API can record (`invalid_event`, `errors` naming the field: an id longer than 254 characters, a `created` beyond the dates JavaScript can hold); nothing is recorded.",
    ),
    413: problemResponse(413),
    503: problemResponse(
      503,
      "STRIPE_WEBHOOK_SECRET is not set (`billing_not_configured`), or the event could not be queued (`service_unavailable`): Stripe retries.",
    ),
  },
});
