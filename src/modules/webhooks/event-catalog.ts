/**
 * Every event type an endpoint can subscribe to, with what its `data` carries, as zod
 * schemas. One list serves three readers: the emitting modules (outbox.ts types each
 * event's `data` by it, so an emitter cannot send a field the catalogue does not
 * describe), GET /api/v1/webhooks/event-types (a JSON Schema per type, from
 * `z.toJSONSchema`), and the subscription check of POST/PATCH endpoints.
 *
 * Depends on zod only: outbox.ts imports its types, and must stay free of the rest of
 * the webhooks module.
 */
import { z } from "zod";

const timestamp = z.iso.datetime();
const organizationId = z.uuid().describe("The organization the event belongs to.");
const role = z.enum(["owner", "admin", "member", "billing"]);

const task = (status: "SUCCESS" | "FAILURE") =>
  z.object({
    organization_id: organizationId,
    id: z.uuid(),
    type: z.string().describe("The task type, e.g. `add`."),
    status: z.literal(status),
    result: z.unknown().nullable().describe("The task's result (null unless it succeeded)."),
    error: z
      .object({ code: z.string(), message: z.string() })
      .nullable()
      .describe("Why it failed (null unless it failed)."),
    attempts: z.number().int(),
    created_at: timestamp,
    started_at: timestamp.nullable(),
    completed_at: timestamp,
  });

export const WEBHOOK_EVENTS = {
  "task.completed": {
    description: "A background task of the organization (created with one of its API keys) succeeded.",
    data: task("SUCCESS"),
  },
  "task.failed": {
    description:
      "A background task of the organization failed for good (a permanent error, or after its retries).",
    data: task("FAILURE"),
  },
  "member.added": {
    description: "Someone joined the organization (by accepting an invitation).",
    data: z.object({
      organization_id: organizationId,
      user_id: z.uuid(),
      email: z.email(),
      role,
      joined_at: timestamp,
      invitation_id: z.uuid().nullable(),
    }),
  },
  "member.removed": {
    description:
      "A member left the organization, was removed from it, or their account was deleted (`reason`).",
    data: z.object({
      organization_id: organizationId,
      user_id: z.uuid(),
      role,
      reason: z.enum(["removed", "left", "account_deleted"]),
      removed_at: timestamp,
    }),
  },
  "invitation.accepted": {
    description: "An invitation to the organization was accepted (a `member.added` event follows it).",
    data: z.object({
      organization_id: organizationId,
      invitation_id: z.uuid(),
      email: z.email(),
      role,
      user_id: z.uuid(),
      accepted_at: timestamp,
    }),
  },
  "api_key.created": {
    description: "An API key of the organization was created (never its secret).",
    data: z.object({
      organization_id: organizationId,
      id: z.uuid(),
      name: z.string(),
      prefix: z.string(),
      mode: z.enum(["live", "test"]),
      scopes: z.array(z.string()),
      created_by: z.uuid().nullable(),
      created_at: timestamp,
      expires_at: timestamp.nullable(),
    }),
  },
  "api_key.revoked": {
    description:
      "An API key of the organization was revoked: by a member, or because the account that created it was claimed by the owner of its address.",
    data: z.object({
      organization_id: organizationId,
      id: z.uuid(),
      name: z.string(),
      prefix: z.string(),
      revoked_at: timestamp,
      reason: z.enum(["revoked", "account_claimed"]),
    }),
  },
  "subscription.updated": {
    description:
      "The organization's Stripe subscription changed (created, renewed, plan or status changed, cancellation asked for, ended).",
    data: z.object({
      organization_id: organizationId,
      id: z.string().describe("Stripe's subscription id, `sub_…`."),
      status: z.string().describe("Stripe's status: active, trialing, past_due, canceled …"),
      plan: z.string().nullable().describe("The plan's name in BILLING_PLANS, when the price is one."),
      price_id: z.string().nullable(),
      current_period_end: timestamp.nullable(),
      cancel_at_period_end: z.boolean(),
      cancel_at: timestamp.nullable(),
      canceled_at: timestamp.nullable(),
      ended_at: timestamp.nullable(),
    }),
  },
  "credits.low": {
    description:
      "A debit took the organization's credit balance below BILLING_LOW_CREDITS_THRESHOLD (once per crossing).",
    data: z.object({
      organization_id: organizationId,
      credits_remaining: z.number().int().min(0),
      threshold: z.number().int().min(1),
    }),
  },
  "webhook.test": {
    description: "Sent by POST /webhook-endpoints/{id}/test to that one endpoint, whatever it subscribes to.",
    data: z.object({
      organization_id: organizationId,
      endpoint_id: z.uuid(),
      message: z.string(),
    }),
  },
} as const satisfies Record<string, { description: string; data: z.ZodType }>;

export type WebhookEventType = keyof typeof WEBHOOK_EVENTS;
export type WebhookEventData<T extends WebhookEventType> = z.input<(typeof WEBHOOK_EVENTS)[T]["data"]>;

export const WEBHOOK_EVENT_TYPES = Object.keys(WEBHOOK_EVENTS) as [WebhookEventType, ...WebhookEventType[]];

/** Subscribes to every event type, including types added later. */
export const ALL_EVENT_TYPES = "*";

export function isWebhookEventType(value: string): value is WebhookEventType {
  return Object.hasOwn(WEBHOOK_EVENTS, value);
}

/** The body every delivery of a `type` event sends: `{ type, timestamp, data }` (Standard Webhooks). */
export function eventBodySchema<T extends WebhookEventType>(type: T) {
  return z.object({
    type: z.literal(type),
    timestamp: timestamp.describe("When the event happened."),
    data: WEBHOOK_EVENTS[type].data,
  });
}

export type EventTypeEntry = { type: WebhookEventType; description: string; schema: Record<string, unknown> };

let catalogue: EventTypeEntry[] | undefined;

/** GET /webhooks/event-types: each type with the JSON Schema of its body (built once per isolate). */
export function eventTypeCatalogue(): EventTypeEntry[] {
  catalogue ??= WEBHOOK_EVENT_TYPES.map((type) => ({
    type,
    description: WEBHOOK_EVENTS[type].description,
    schema: z.toJSONSchema(eventBodySchema(type), { unrepresentable: "any" }) as Record<string, unknown>,
  }));
  return catalogue;
}
