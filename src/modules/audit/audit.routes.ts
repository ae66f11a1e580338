import { defineRoute, jsonContent, problemResponses, SECURITY } from "../../lib/openapi";
import { ADMIN_GUARD_RESPONSES, ADMIN_TAGS } from "../admin/admin.openapi";
import { AuditLogPageSchema, auditLogExample, ListAuditLogsQuery } from "./audit.schemas";

/** Registered on the admin router (/admin/v1). Read only: the table refuses UPDATE and DELETE itself. */
export const listAuditLogs = defineRoute({
  method: "get",
  path: "/audit-logs",
  tags: ADMIN_TAGS,
  summary: "Read the audit log",
  description:
    "Newest first (`sort=created_at` for oldest first). Filters: `filter[actor_type]`, `filter[actor_id]`, `filter[action]`, `filter[target_type]`, `filter[target_id]`, and a date range `filter[created_at][gte]` / `filter[created_at][lte]` (ISO 8601, inclusive). Every admin write and every security event (sign-in lockout, password reset, refresh-token reuse, API key created or revoked, member role change) is one row; `before`/`after` have secrets redacted. The log is append-only: the database refuses to update or delete its rows.",
  security: SECURITY.bearer,
  request: { query: ListAuditLogsQuery },
  responses: {
    200: jsonContent(AuditLogPageSchema, "One page of audit rows.", {
      data: [auditLogExample],
      meta: { next: null, prev: null, total: 1 },
    }),
    ...problemResponses(400),
    ...ADMIN_GUARD_RESPONSES,
  },
});
