import { z } from "@hono/zod-openapi";
import { notificationTypes } from "../../db/schema";
import { booleanFilter, listQuery } from "../../lib/list-query";
import { pageSchema } from "../../lib/pagination";

export const NOTIFICATION_ID_EXAMPLE = "0193a1f2-6c3d-7e4f-8a5b-9c0d1e2f3a4b";

export const NotificationTypeSchema = z.enum(notificationTypes).openapi("NotificationType", {
  description: "What the notification is about.",
  example: "task_completed",
});

export const notificationExample = {
  id: NOTIFICATION_ID_EXAMPLE,
  type: "task_completed",
  title: "Task finished",
  message: "Your process_data task finished: 1,204 items processed.",
  target_url: "/tasks/0193a1f0-2b3c-7d4e-9f5a-6b7c8d9e0f1a",
  data: { task_id: "0193a1f0-2b3c-7d4e-9f5a-6b7c8d9e0f1a", status: "SUCCESS" },
  read_at: null,
  created_at: "2026-11-21T09:12:44.512Z",
} as const;

export const NotificationSchema = z
  .object({
    id: z.uuid(),
    type: NotificationTypeSchema,
    title: z.string(),
    message: z.string(),
    target_url: z.string().nullable().openapi({ description: "Where the app should take the reader." }),
    data: z.record(z.string(), z.unknown()).openapi({ description: "Type-specific details." }),
    read_at: z.iso.datetime().nullable(),
    created_at: z.iso.datetime(),
  })
  .openapi("Notification", { example: notificationExample });

export type NotificationDto = z.infer<typeof NotificationSchema>;

export const NotificationIdParams = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, example: NOTIFICATION_ID_EXAMPLE }),
});

export const ListNotificationsQuery = listQuery({
  sort: ["created_at"],
  defaultSort: "-created_at",
  filters: {
    "filter[unread]": booleanFilter.openapi({
      description: "`true`: only unread; `false`: only read.",
      example: "true",
    }),
    "filter[type]": NotificationTypeSchema,
  },
});

export const NotificationPageSchema = pageSchema(NotificationSchema, "NotificationPage");

export const UnreadCountSchema = z
  .object({ count: z.number().int().min(0) })
  .openapi("UnreadCount", { example: { count: 3 } });

export const MarkAllReadSchema = z
  .object({ updated: z.number().int().min(0).openapi({ description: "How many were unread." }) })
  .openapi("MarkAllReadResult", { example: { updated: 3 } });

export const WsTicketSchema = z
  .object({
    ticket: z.string().openapi({ description: "Pass as `?ticket=` to GET /api/v1/notifications/ws." }),
    expires_at: z.iso.datetime(),
    expires_in: z.number().int().openapi({ description: "Seconds the ticket stays valid." }),
  })
  .openapi("WsTicket", {
    example: {
      ticket: "wst_Yb3kQm9xv2TtZrW8pN4sLd7hFc1gJe6aUo5iKy0qXwE",
      expires_at: "2026-11-21T09:13:14.000Z",
      expires_in: 30,
    },
  });

export const WsQuery = z.object({
  // Any string is a credential to check (a malformed one is a 401 from the route, like a bad token),
  // bounded only so a megabyte of query string is refused before anything looks at it.
  ticket: z
    .string()
    .min(1)
    .max(8192)
    .optional()
    .openapi({
      param: { name: "ticket", in: "query" },
      description: "Single-use ticket from POST /ws-ticket (browsers). Servers send a Bearer header instead.",
    }),
  since: z
    .uuid()
    .optional()
    .openapi({
      param: { name: "since", in: "query" },
      description:
        "Id of the last notification the client saw: the ones created after it are sent, oldest first, before live events.",
      example: NOTIFICATION_ID_EXAMPLE,
    }),
});
