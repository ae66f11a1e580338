import { defineRoute, jsonContent, problemResponses, SECURITY } from "../../lib/openapi";
import { ADMIN_GUARD_RESPONSES, ADMIN_TAGS } from "../admin/admin.openapi";
import {
  AuditLogPageSchema,
  auditLogExample,
  ExportAuditLogsQuery,
  ListAuditLogsQuery,
  MAX_EXPORT_RANGE_DAYS,
} from "./audit.schemas";

/**
 * Registered on the admin router (/admin/v1). Read only: the table refuses UPDATE, and DELETE
 * of anything but rows the retention job archived to R2.
 */
export const listAuditLogs = defineRoute({
  method: "get",
  path: "/audit-logs",
  tags: ADMIN_TAGS,
  summary: "Read the audit log",
  description:
    "Newest first (`sort=created_at` for oldest first). Filters: `filter[actor_type]`, `filter[actor_id]`, `filter[action]`, `filter[target_type]`, `filter[target_id]`, and a date range `filter[created_at][gte]` / `filter[created_at][lte]` (ISO 8601, inclusive). Every admin write and every security event (sign-in lockout, password reset, refresh-token reuse, API key created or revoked, member role change) is one row; `before`/`after` have secrets redacted. The log is append-only: the database refuses to update or delete its rows. Rows older than `AUDIT_RETENTION_DAYS` (365 days by default) are moved to R2 by the retention job and no longer listed here: `GET /admin/v1/audit-logs/export` reads them.",
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

export const exportAuditLogs = defineRoute({
  method: "get",
  path: "/audit-logs/export",
  tags: ADMIN_TAGS,
  summary: "Export the audit log as NDJSON",
  description: `Every audit row created from \`from\` to \`to\` (inclusive), oldest first, streamed as NDJSON: one JSON object per line, with the fields of \`GET /admin/v1/audit-logs\` items. Rows older than \`AUDIT_RETENTION_DAYS\`, which the retention cron moved from the database to R2, are included: they are read back from their archives, so a range reaching into archived time is whole. At most ${MAX_EXPORT_RANGE_DAYS} days per export. The export itself is audited (\`audit_log.export\`). A failure after the answer started cuts the transfer (the file then has no final newline) rather than ending it early as if complete.`,
  security: SECURITY.bearer,
  request: { query: ExportAuditLogsQuery },
  responses: {
    200: {
      description: "The rows, one JSON object per line (a download).",
      content: {
        "application/x-ndjson": {
          schema: { type: "string" },
          example: `${JSON.stringify(auditLogExample)}\n`,
        },
      },
    },
    ...problemResponses(400),
    ...ADMIN_GUARD_RESPONSES,
  },
});
