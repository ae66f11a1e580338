import {
  defineRoute,
  jsonContent,
  jsonRequestBody,
  problemResponse,
  problemResponses,
  SECURITY,
} from "../../lib/openapi";
import { requireOrgAccess } from "../../middleware/require";
import { OrgIdParams } from "../orgs/orgs.schemas";
import {
  CreateEndpointSchema,
  DeliveryDetailSchema,
  DeliveryPageSchema,
  DeliveryParams,
  DeliverySchema,
  deliveryExample,
  EndpointPageSchema,
  EndpointParams,
  EndpointSchema,
  EndpointWithSecretSchema,
  EventTypeCatalogueSchema,
  endpointExample,
  ListDeliveriesQuery,
  ListEndpointsQuery,
  MAX_ENDPOINTS_PER_ORGANIZATION,
  RotatedEndpointSchema,
  SECRET_EXAMPLE,
  UpdateEndpointSchema,
} from "./webhooks.schemas";

const tags = ["Webhooks"];
const read = requireOrgAccess("webhooks:read");
const write = requireOrgAccess("webhooks:manage");
const readers = problemResponse(
  403,
  "Owners and admins only; an API key needs `webhooks:read` (`insufficient_scope`).",
);
const writers = problemResponse(
  403,
  "Owners and admins only; an API key needs `webhooks:write` (`insufficient_scope`).",
);
const notYours = problemResponse(404, "No such organization or endpoint, or it is not yours.");
const notConfigured = problemResponse(
  503,
  "The server has no WEBHOOK_SECRET_ENCRYPTION_KEY to seal secrets with (`webhooks_not_configured`).",
);
const endpointDisabled = problemResponse(
  409,
  "The endpoint is disabled (`webhook_endpoint_disabled`): PATCH `enabled: true` first.",
);
const noStore = {
  "Cache-Control": {
    description: "`no-store`: the body holds a secret (so `Idempotency-Key` does not store it either).",
    schema: { type: "string" as const },
  },
};
const badUrl =
  "Invalid body, or a `url` the SSRF rules refuse (`url_not_allowed`, naming `/url`): in production and staging only `https` to a public host.";

export const createEndpoint = defineRoute({
  method: "post",
  path: "/{org_id}/webhook-endpoints",
  tags,
  summary: "Create a webhook endpoint",
  description: `Events of the listed types (\`["*"]\` for all) are POSTed to \`url\`, signed by the Standard Webhooks scheme. The answer carries the signing \`secret\` (\`whsec_…\`) **once**. At most ${MAX_ENDPOINTS_PER_ORGANIZATION} endpoints per organization.`,
  security: SECURITY.bearerOrApiKey,
  middleware: [write],
  request: { params: OrgIdParams, body: jsonRequestBody(CreateEndpointSchema) },
  responses: {
    201: {
      ...jsonContent(EndpointWithSecretSchema, "Created; store the `secret` now.", {
        ...endpointExample,
        secret: SECRET_EXAMPLE,
      }),
      headers: { Location: { description: "The endpoint.", schema: { type: "string" } }, ...noStore },
    },
    400: problemResponse(400, badUrl),
    403: writers,
    404: notYours,
    409: problemResponse(
      409,
      `The organization has ${MAX_ENDPOINTS_PER_ORGANIZATION} endpoints already (\`webhook_endpoint_limit\`).`,
    ),
    503: notConfigured,
    ...problemResponses(401),
  },
});

export const listEndpoints = defineRoute({
  method: "get",
  path: "/{org_id}/webhook-endpoints",
  tags,
  summary: "Webhook endpoints of an organization",
  description: "Newest first; `filter[enabled]=true|false`. Never shows a secret.",
  security: SECURITY.bearerOrApiKey,
  middleware: [read],
  request: { params: OrgIdParams, query: ListEndpointsQuery },
  responses: {
    200: jsonContent(EndpointPageSchema, "One page of endpoints.", {
      data: [endpointExample],
      meta: { next: null, prev: null, total: 1 },
    }),
    403: readers,
    404: notYours,
    ...problemResponses(400, 401),
  },
});

export const getEndpoint = defineRoute({
  method: "get",
  path: "/{org_id}/webhook-endpoints/{id}",
  tags,
  summary: "Read a webhook endpoint",
  security: SECURITY.bearerOrApiKey,
  middleware: [read],
  request: { params: EndpointParams },
  responses: {
    200: jsonContent(EndpointSchema, "The endpoint (without its secret).", endpointExample),
    403: readers,
    404: notYours,
    ...problemResponses(400, 401),
  },
});

export const updateEndpoint = defineRoute({
  method: "patch",
  path: "/{org_id}/webhook-endpoints/{id}",
  tags,
  summary: "Change a webhook endpoint",
  description:
    "URL, description, event types (replaces the list) or `enabled`. Turning an endpoint back on forgets its failure streak; turning it off stops its deliveries (those on their way end `failed`).",
  security: SECURITY.bearerOrApiKey,
  middleware: [write],
  request: { params: EndpointParams, body: jsonRequestBody(UpdateEndpointSchema) },
  responses: {
    200: jsonContent(EndpointSchema, "The endpoint as it is now.", {
      ...endpointExample,
      event_types: ["*"],
    }),
    400: problemResponse(400, badUrl),
    403: writers,
    404: notYours,
    ...problemResponses(401),
  },
});

export const deleteEndpoint = defineRoute({
  method: "delete",
  path: "/{org_id}/webhook-endpoints/{id}",
  tags,
  summary: "Delete a webhook endpoint",
  description: "The endpoint and its delivery log; deliveries on their way are dropped.",
  security: SECURITY.bearerOrApiKey,
  middleware: [write],
  request: { params: EndpointParams },
  responses: {
    204: { description: "Deleted." },
    403: writers,
    404: notYours,
    ...problemResponses(400, 401),
  },
});

export const rotateSecret = defineRoute({
  method: "post",
  path: "/{org_id}/webhook-endpoints/{id}/rotate-secret",
  tags,
  summary: "Rotate a webhook endpoint's signing secret",
  description:
    "A new secret, shown once. For the next 24 hours every delivery carries two signatures in `webhook-signature` (new and previous secret, space-separated), so the receiver can switch at its own pace; then only the new one signs. Rotating again within the 24 hours retires the older previous secret at once.",
  security: SECURITY.bearerOrApiKey,
  middleware: [write],
  request: { params: EndpointParams },
  responses: {
    200: {
      ...jsonContent(RotatedEndpointSchema, "Rotated; store the new `secret` now."),
      headers: noStore,
    },
    403: writers,
    404: notYours,
    409: problemResponse(409, "Another rotation of this endpoint happened at the same moment (`conflict`)."),
    503: notConfigured,
    ...problemResponses(400, 401),
  },
});

export const sendTestEvent = defineRoute({
  method: "post",
  path: "/{org_id}/webhook-endpoints/{id}/test",
  tags,
  summary: "Send a test event",
  description:
    "A `webhook.test` event to this endpoint alone, whatever it subscribes to, sent at once through the queue like any delivery (signed, retried on failure). Answers the delivery; follow it at `…/deliveries/{delivery_id}`.",
  security: SECURITY.bearerOrApiKey,
  middleware: [write],
  request: { params: EndpointParams },
  responses: {
    202: jsonContent(DeliverySchema, "Queued.", {
      ...deliveryExample,
      event_type: "webhook.test",
      status: "pending",
      attempts: 0,
      response_status: null,
      response_ms: null,
      last_attempt_at: null,
      next_attempt_at: deliveryExample.created_at,
    }),
    403: writers,
    404: notYours,
    409: endpointDisabled,
    ...problemResponses(400, 401),
  },
});

export const listDeliveries = defineRoute({
  method: "get",
  path: "/{org_id}/webhook-endpoints/{id}/deliveries",
  tags,
  summary: "An endpoint's delivery log",
  description:
    "Newest first; `filter[status]=pending|retrying|succeeded|failed`. Kept for 30 days. The request body and the receiver's answer are in the detail.",
  security: SECURITY.bearerOrApiKey,
  middleware: [read],
  request: { params: EndpointParams, query: ListDeliveriesQuery },
  responses: {
    200: jsonContent(DeliveryPageSchema, "One page of deliveries.", {
      data: [deliveryExample],
      meta: { next: null, prev: null, total: 1 },
    }),
    403: readers,
    404: notYours,
    ...problemResponses(400, 401),
  },
});

export const getDelivery = defineRoute({
  method: "get",
  path: "/{org_id}/webhook-endpoints/{id}/deliveries/{delivery_id}",
  tags,
  summary: "A delivery, with the request sent and the answer received",
  description:
    "`request_body` is the signed body byte for byte. `response_body` (the first 4 KiB of the last answer) is shown to the organization's owners and admins only: null for API keys.",
  security: SECURITY.bearerOrApiKey,
  middleware: [read],
  request: { params: DeliveryParams },
  responses: {
    200: jsonContent(DeliveryDetailSchema, "The delivery."),
    403: readers,
    404: problemResponse(404, "No such organization, endpoint or delivery, or it is not yours."),
    ...problemResponses(400, 401),
  },
});

export const retryDelivery = defineRoute({
  method: "post",
  path: "/{org_id}/webhook-endpoints/{id}/deliveries/{delivery_id}/retry",
  tags,
  summary: "Deliver again now",
  description:
    "One more attempt, now, with the same `webhook-id`. A delivery still on its schedule (`pending`, `retrying`) just moves its next attempt to now. A finished one (`succeeded`, `failed`) becomes `pending` for one attempt; if that fails it is `failed` again (retry again by hand).",
  security: SECURITY.bearerOrApiKey,
  middleware: [write],
  request: { params: DeliveryParams },
  responses: {
    202: jsonContent(DeliverySchema, "Queued.", {
      ...deliveryExample,
      status: "pending",
      next_attempt_at: "2026-11-21T10:00:00.000Z",
    }),
    403: writers,
    404: problemResponse(404, "No such organization, endpoint or delivery, or it is not yours."),
    409: endpointDisabled,
    ...problemResponses(400, 401),
  },
});

export const listEventTypes = defineRoute({
  method: "get",
  path: "/event-types",
  tags,
  summary: "The webhook event catalogue",
  description:
    "Every event type an endpoint can subscribe to, what it means, and the JSON Schema (2020-12) of its delivery body `{ type, timestamp, data }`. Public: no credentials needed.",
  responses: {
    200: jsonContent(EventTypeCatalogueSchema, "The catalogue.", {
      data: [
        {
          type: "credits.low",
          description:
            "A debit took the organization's credit balance below BILLING_LOW_CREDITS_THRESHOLD (once per crossing).",
          schema: {
            $schema: "https://json-schema.org/draft/2020-12/schema",
            type: "object",
            properties: {
              type: { type: "string", const: "credits.low" },
              timestamp: { type: "string", format: "date-time" },
              data: {
                type: "object",
                properties: {
                  organization_id: { type: "string", format: "uuid" },
                  credits_remaining: { type: "integer", minimum: 0 },
                  threshold: { type: "integer", minimum: 1 },
                },
                required: ["organization_id", "credits_remaining", "threshold"],
                additionalProperties: false,
              },
            },
            required: ["type", "timestamp", "data"],
            additionalProperties: false,
          },
        },
      ],
    }),
  },
});
