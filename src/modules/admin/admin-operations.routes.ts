import { defineRoute, jsonContent, jsonRequestBody, problemResponses, SECURITY } from "../../lib/openapi";
import {
  ListPreRegistrationsQuery,
  PreRegistrationPageSchema,
  preRegistrationExample,
} from "../pre-registrations/pre-registrations.schemas";
import { ADMIN_GUARD_RESPONSES, ADMIN_TAGS } from "./admin.openapi";
import {
  AdminSummarySchema,
  adminSummaryExample,
  BroadcastAcceptedSchema,
  BroadcastSchema,
} from "./admin-operations.schemas";

const tags = ADMIN_TAGS;
const security = SECURITY.bearer;

export const summary = defineRoute({
  method: "get",
  path: "/summary",
  tags,
  summary: "Platform summary",
  description:
    "Counts read from D1 now: users (total, verified, active, staff, signed up in the last 24 h), organizations, live sessions, tasks by status, unread notifications, and Stripe webhook events by type. For rates and latencies, scrape GET /metrics.",
  security,
  responses: {
    200: jsonContent(AdminSummarySchema, "The counts.", adminSummaryExample),
    ...ADMIN_GUARD_RESPONSES,
  },
});

export const listPreRegistrations = defineRoute({
  method: "get",
  path: "/pre-registrations",
  tags,
  summary: "List the waitlist",
  description:
    "Newest first by default; `sort=created_at,email`, `q` searches the address. (Also served at GET /api/v1/pre-registrations to staff, kept for existing clients.)",
  security,
  request: { query: ListPreRegistrationsQuery },
  responses: {
    200: jsonContent(PreRegistrationPageSchema, "One page of entries.", {
      data: [preRegistrationExample],
      meta: { next: null, prev: null, total: 1 },
    }),
    ...problemResponses(400),
    ...ADMIN_GUARD_RESPONSES,
  },
});

export const exportPreRegistrations = defineRoute({
  method: "get",
  path: "/pre-registrations/export.csv",
  tags,
  summary: "Export the waitlist as CSV",
  description:
    "Every entry, oldest first, as RFC 4180 CSV (`id,email,created_at`, CRLF line ends), streamed. Cells a spreadsheet would run as a formula are prefixed with `'`.",
  security,
  responses: {
    200: {
      description: "The CSV file (download).",
      content: {
        "text/csv": {
          schema: { type: "string" },
          example:
            "id,email,created_at\r\n0190c6c9-2b3c-7d4e-8f5a-6b7c8d9e0f1a,grace@example.com,2026-11-21T10:04:12.000Z\r\n",
        },
      },
    },
    ...ADMIN_GUARD_RESPONSES,
  },
});

export const broadcast = defineRoute({
  method: "post",
  path: "/notifications/broadcast",
  tags,
  summary: "Broadcast a system notification",
  description:
    "Queues a `system` notification for the listed users, or for every active user when `user_ids` is left out, and answers at once: JOBS_QUEUE consumers deliver it in batches (in the app, pushed live, and by email to those who chose email for `system`). Audited as `notification.broadcast`.",
  security,
  request: { body: jsonRequestBody(BroadcastSchema) },
  responses: {
    202: jsonContent(BroadcastAcceptedSchema, "Queued.", {
      broadcast_id: "0190c6e2-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
      audience: "all_active",
      queue_messages: 1,
    }),
    ...problemResponses(400, 413, 415),
    ...ADMIN_GUARD_RESPONSES,
  },
});
