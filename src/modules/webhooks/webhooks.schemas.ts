/** Webhook endpoints, deliveries and the event catalogue as the API shows them, and what it accepts. */
import { z } from "@hono/zod-openapi";
import { webhookDeliveryStatuses } from "../../db/schema";
import { booleanFilter, listQuery } from "../../lib/list-query";
import { pageSchema } from "../../lib/pagination";
import { ORG_ID_EXAMPLE } from "../orgs/orgs.schemas";
import { USER_ID_EXAMPLE } from "../users/users.schemas";
import { ALL_EVENT_TYPES, WEBHOOK_EVENT_TYPES } from "./event-catalog";

export const ENDPOINT_ID_EXAMPLE = "0190c6e1-3a4b-7c5d-8e6f-7a8b9c0d1e2f";
export const DELIVERY_ID_EXAMPLE = "0190c6e2-5c6d-7e8f-9a0b-1c2d3e4f5a6b";
export const EVENT_ID_EXAMPLE = "0190c6e2-4b5c-7d6e-8f90-a1b2c3d4e5f6";
/** Documentation example, not a real secret (the shape: `whsec_` + base64 of 32 bytes). */
export const SECRET_EXAMPLE = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw4nQPgjQ3dD0=";

/** Endpoints an organization may have: each event is one delivery (one queue message) per endpoint. */
export const MAX_ENDPOINTS_PER_ORGANIZATION = 20;

const NO_CONTROL_CHARACTERS = /^[^\p{Cc}]*$/u;

const EventTypeSchema = z.enum([...WEBHOOK_EVENT_TYPES, ALL_EVENT_TYPES]).openapi("WebhookEventTypeName", {
  description: `An event type of GET /api/v1/webhooks/event-types, or \`${ALL_EVENT_TYPES}\` for every type (including types added later).`,
  example: "task.completed",
});

const EventTypesSchema = z
  .array(EventTypeSchema)
  .min(1)
  .max(WEBHOOK_EVENT_TYPES.length + 1)
  .superRefine((types, ctx) => {
    if (new Set(types).size !== types.length) {
      ctx.addIssue({ code: "custom", message: "Each event type may be listed once." });
    }
    if (types.includes(ALL_EVENT_TYPES) && types.length > 1) {
      ctx.addIssue({
        code: "custom",
        message: `\`${ALL_EVENT_TYPES}\` already means every type; list it alone.`,
      });
    }
  })
  .openapi({ example: ["task.completed", "task.failed"] });

/** Checked for shape here; whether the host may be reached (SSRF rules) is the service's call. */
const UrlSchema = z.string().trim().min(1).max(2048).openapi({
  description:
    "Where events are POSTed. In production and staging: `https`, a public host (no private, loopback or link-local address, no `localhost`/`*.local`/`*.internal`), port 443 or ≥ 1024, no user name or password. Elsewhere `http://localhost` and `http://127.0.0.1` work too.",
  example: "https://hooks.example.com/edge-api",
});

const DescriptionSchema = z
  .string()
  .trim()
  .max(500)
  .regex(NO_CONTROL_CHARACTERS, "Control characters are not allowed.")
  .openapi({ example: "Order sync (production)" });

export const CreateEndpointSchema = z
  .strictObject({
    url: UrlSchema,
    description: DescriptionSchema.nullable().optional(),
    event_types: EventTypesSchema,
    enabled: z.boolean().default(true).openapi({ description: "Default true." }),
  })
  .openapi("CreateWebhookEndpointRequest", {
    example: {
      url: "https://hooks.example.com/edge-api",
      description: "Order sync (production)",
      event_types: ["task.completed", "task.failed"],
    },
  });

export type CreateEndpointInput = z.infer<typeof CreateEndpointSchema>;

export const UpdateEndpointSchema = z
  .strictObject({
    url: UrlSchema.optional(),
    description: DescriptionSchema.nullable().optional(),
    event_types: EventTypesSchema.optional().openapi({ description: "Replaces the list." }),
    enabled: z.boolean().optional().openapi({
      description:
        "false stops deliveries (pending ones end `failed`); true turns a disabled endpoint back on and forgets its failures.",
    }),
  })
  .openapi("UpdateWebhookEndpointRequest", { example: { event_types: ["*"], enabled: true } });

export type UpdateEndpointInput = z.infer<typeof UpdateEndpointSchema>;

export const endpointExample = {
  id: ENDPOINT_ID_EXAMPLE,
  url: "https://hooks.example.com/edge-api",
  description: "Order sync (production)",
  event_types: ["task.completed", "task.failed"],
  enabled: true,
  disabled_reason: null,
  disabled_at: null,
  failing_since: null,
  previous_secret_expires_at: null,
  created_by: USER_ID_EXAMPLE,
  created_at: "2026-11-20T17:02:11.000Z",
  updated_at: "2026-11-20T17:02:11.000Z",
};

export const EndpointSchema = z
  .object({
    id: z.uuid(),
    url: z.string(),
    description: z.string().nullable(),
    event_types: z.array(z.string()),
    enabled: z.boolean(),
    disabled_reason: z.enum(["manual", "failing"]).nullable().openapi({
      description: "`manual`: turned off with PATCH; `failing`: every attempt failed for 5 days.",
    }),
    disabled_at: z.iso.datetime().nullable(),
    failing_since: z.iso.datetime().nullable().openapi({
      description: "The first failed attempt since the last success; null while healthy.",
    }),
    previous_secret_expires_at: z.iso.datetime().nullable().openapi({
      description: "After a rotation: until when deliveries are signed by the previous secret too.",
    }),
    created_by: z.uuid().nullable(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .openapi("WebhookEndpoint", {
    description: "The signing secret is never shown here.",
    example: endpointExample,
  });

export type EndpointDto = z.infer<typeof EndpointSchema>;

export const EndpointWithSecretSchema = EndpointSchema.extend({
  secret: z.string().openapi({
    description:
      "The signing secret, shown this once: store it now. Verify deliveries with it (Standard Webhooks, e.g. `new Webhook(secret).verify(body, headers)` of the `standardwebhooks` package).",
    example: SECRET_EXAMPLE,
  }),
}).openapi("WebhookEndpointWithSecret", { example: { ...endpointExample, secret: SECRET_EXAMPLE } });

export const RotatedEndpointSchema = EndpointWithSecretSchema.openapi("RotatedWebhookEndpoint", {
  example: {
    ...endpointExample,
    secret: SECRET_EXAMPLE,
    previous_secret_expires_at: "2026-11-22T09:15:00.000Z",
    updated_at: "2026-11-21T09:15:00.000Z",
  },
});

export const EndpointPageSchema = pageSchema(EndpointSchema, "WebhookEndpointPage");

export const ListEndpointsQuery = listQuery({
  sort: ["created_at"],
  defaultSort: "-created_at",
  filters: { "filter[enabled]": booleanFilter },
});

export const deliveryExample = {
  id: DELIVERY_ID_EXAMPLE,
  endpoint_id: ENDPOINT_ID_EXAMPLE,
  event_id: EVENT_ID_EXAMPLE,
  event_type: "task.completed",
  status: "retrying",
  attempts: 2,
  response_status: 503,
  response_ms: 412,
  error: null,
  next_attempt_at: "2026-11-21T09:20:03.000Z",
  last_attempt_at: "2026-11-21T09:15:03.000Z",
  created_at: "2026-11-21T09:14:58.000Z",
};

export const DeliverySchema = z
  .object({
    id: z.uuid(),
    endpoint_id: z.uuid(),
    event_id: z.uuid().openapi({ description: "The `webhook-id` header of every attempt." }),
    event_type: z.string(),
    status: z.enum(webhookDeliveryStatuses).openapi({
      description:
        "`pending`: not tried yet (or retried by hand); `retrying`: failed, another attempt is scheduled; `succeeded`: a 2xx; `failed`: gave up.",
    }),
    attempts: z.number().int(),
    response_status: z.number().int().nullable().openapi({ description: "Of the last attempt." }),
    response_ms: z.number().int().nullable(),
    error: z.string().nullable().openapi({
      description:
        "Why the last attempt failed when `response_status` does not say it all: `timeout` (no answer within 15 s), `network_error`, `redirect` (a 3xx: redirects are not followed), `url_not_allowed` (the URL broke the SSRF rules at delivery time), `endpoint_disabled`, `secret_unavailable` (the server's WEBHOOK_SECRET_ENCRYPTION_KEY cannot open the secret).",
    }),
    next_attempt_at: z.iso.datetime().nullable(),
    last_attempt_at: z.iso.datetime().nullable(),
    created_at: z.iso.datetime(),
  })
  .openapi("WebhookDelivery", { example: deliveryExample });

export type DeliveryDto = z.infer<typeof DeliverySchema>;

export const DeliveryDetailSchema = DeliverySchema.extend({
  request_body: z.string().openapi({
    description: "The body sent, byte for byte (the signed content).",
    example:
      '{"type":"task.completed","timestamp":"2026-11-21T09:14:58.000Z","data":{"organization_id":"0190c6d0-2b3c-7d4e-9f50-6a7b8c9d0e1f","id":"0190c6d3-aa11-7b22-8c33-d44e55f66a77","type":"add","status":"SUCCESS","result":{"sum":5},"error":null,"attempts":1,"created_at":"2026-11-21T09:14:57.000Z","started_at":"2026-11-21T09:14:58.000Z","completed_at":"2026-11-21T09:14:58.000Z"}}',
  }),
  response_body: z.string().nullable().openapi({
    description:
      "The first 4 KiB of the last answer. Shown to the organization's owners and admins only: null for API keys.",
    example: "Service Unavailable",
  }),
}).openapi("WebhookDeliveryDetail");

export type DeliveryDetailDto = z.infer<typeof DeliveryDetailSchema>;

export const DeliveryPageSchema = pageSchema(DeliverySchema, "WebhookDeliveryPage");

export const ListDeliveriesQuery = listQuery({
  sort: ["created_at"],
  defaultSort: "-created_at",
  filters: { "filter[status]": z.enum(webhookDeliveryStatuses) },
});

const orgIdParam = z.uuid().openapi({ param: { name: "org_id", in: "path" }, example: ORG_ID_EXAMPLE });
const endpointIdParam = z.uuid().openapi({ param: { name: "id", in: "path" }, example: ENDPOINT_ID_EXAMPLE });

export const EndpointParams = z.object({ org_id: orgIdParam, id: endpointIdParam });

export const DeliveryParams = z.object({
  org_id: orgIdParam,
  id: endpointIdParam,
  delivery_id: z.uuid().openapi({ param: { name: "delivery_id", in: "path" }, example: DELIVERY_ID_EXAMPLE }),
});

export const EventTypeCatalogueSchema = z
  .object({
    data: z.array(
      z.object({
        type: z.string().openapi({ example: "task.completed" }),
        description: z.string(),
        schema: z.record(z.string(), z.unknown()).openapi({
          description: "JSON Schema (2020-12) of the delivery body `{ type, timestamp, data }`.",
        }),
      }),
    ),
  })
  .openapi("WebhookEventTypes");
