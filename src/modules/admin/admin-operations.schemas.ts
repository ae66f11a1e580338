import { z } from "@hono/zod-openapi";
import { taskStatuses } from "../../db/schema";
import { BROADCAST_MAX_USER_IDS } from "../notifications/notifications.broadcast";
import { NOTIFICATION_LIMITS } from "../notifications/notifications.service";

/** Shown in every client: no control characters (a newline could break a push or an email subject). */
const displayText = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .regex(/^[^\p{Cc}]*$/u, "Must not contain control characters.");

/** An app path (not `//host`, which browsers read as another origin) or an absolute http(s) URL. */
const TargetUrlSchema = z
  .string()
  .max(NOTIFICATION_LIMITS.targetUrl)
  .refine((target) => {
    if (target.startsWith("/")) return !target.startsWith("//") && !target.startsWith("/\\");
    try {
      const url = new URL(target);
      return url.protocol === "https:" || url.protocol === "http:";
    } catch {
      return false;
    }
  }, "Use an app path starting with / or an http(s) URL.");

export const BroadcastSchema = z
  .strictObject({
    title: displayText(NOTIFICATION_LIMITS.title).openapi({ example: "Scheduled maintenance" }),
    message: z
      .string()
      .trim()
      .min(1)
      .max(NOTIFICATION_LIMITS.message)
      .openapi({ example: "The API will be read-only on 1 December from 02:00 to 02:30 UTC." }),
    target_url: TargetUrlSchema.nullable().optional().openapi({ example: "/status" }),
    data: z
      .record(z.string(), z.unknown())
      .optional()
      .refine(
        (data) => data === undefined || JSON.stringify(data).length <= NOTIFICATION_LIMITS.dataBytes,
        `Must serialise to at most ${NOTIFICATION_LIMITS.dataBytes} bytes of JSON.`,
      )
      .openapi({ example: { maintenance_id: "2026-12-01" } }),
    user_ids: z
      .array(z.uuid())
      .min(1)
      .max(BROADCAST_MAX_USER_IDS)
      .optional()
      .openapi({
        description: `Who gets it (at most ${BROADCAST_MAX_USER_IDS}; unknown or disabled accounts are skipped). Omitted: every active user.`,
      }),
  })
  .openapi("BroadcastRequest", {
    example: {
      title: "Scheduled maintenance",
      message: "The API will be read-only on 1 December from 02:00 to 02:30 UTC.",
      target_url: "/status",
    },
  });

export type BroadcastInput = z.infer<typeof BroadcastSchema>;

export const BroadcastAcceptedSchema = z
  .object({
    broadcast_id: z.uuid().openapi({ description: "Carried by every notification of this broadcast." }),
    audience: z.enum(["all_active", "users"]),
    queue_messages: z.number().int().openapi({ description: "Delivery batches queued so far." }),
  })
  .openapi("BroadcastAccepted", {
    example: {
      broadcast_id: "0190c6e2-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
      audience: "all_active",
      queue_messages: 1,
    },
  });

const count = () => z.number().int().nonnegative();

export const adminSummaryExample = {
  generated_at: "2026-11-21T10:15:02.114Z",
  users: { total: 1520, verified: 1311, active: 1502, staff: 3, new_24h: 42 },
  organizations: { total: 1610 },
  sessions: { active: 2210 },
  tasks: {
    total: 1280,
    by_status: { PENDING: 12, STARTED: 3, SUCCESS: 1201, FAILURE: 41, RETRY: 2, REVOKED: 21 },
  },
  notifications: { unread: 3120 },
  stripe_events: { total: 230, by_type: { "checkout.session.completed": 30, "invoice.paid": 200 } },
};

export const AdminSummarySchema = z
  .object({
    generated_at: z.iso.datetime(),
    users: z.object({
      total: count(),
      verified: count().openapi({ description: "Email address verified." }),
      active: count().openapi({ description: "Not disabled." }),
      staff: count(),
      new_24h: count().openapi({ description: "Signed up in the last 24 hours." }),
    }),
    organizations: z.object({ total: count() }),
    sessions: z.object({ active: count().openapi({ description: "Neither revoked nor expired." }) }),
    tasks: z.object({
      total: count(),
      by_status: z.object(
        Object.fromEntries(taskStatuses.map((status) => [status, count()])) as Record<
          (typeof taskStatuses)[number],
          ReturnType<typeof count>
        >,
      ),
    }),
    notifications: z.object({ unread: count() }),
    stripe_events: z.object({
      total: count(),
      by_type: z
        .record(z.string(), count())
        .openapi({ description: "Stripe webhook events received, by type." }),
    }),
  })
  .openapi("AdminSummary", { example: adminSummaryExample });

export type AdminSummaryDto = z.infer<typeof AdminSummarySchema>;
