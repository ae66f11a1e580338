import { z } from "@hono/zod-openapi";
import { auditActorTypes } from "../../db/schema";
import { listQuery } from "../../lib/list-query";
import { pageSchema } from "../../lib/pagination";
import { AUDIT_ACTIONS, auditActionNames, auditTargetTypes } from "./audit.actions";

export const auditLogExample = {
  id: "0190c6e1-7a2b-7c3d-9e4f-5a6b7c8d9e0f",
  actor_type: "user",
  actor_id: "0190c6c4-8d1e-7c2a-9f5e-1b2c3d4e5f60",
  action: "user.update",
  target_type: "user",
  target_id: "0190c6c5-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
  ip: "203.0.113.24",
  user_agent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Safari/605.1.15",
  request_id: "0190c6e1-7a2a-7b1c-8d2e-3f4a5b6c7d8e",
  before: { is_active: true, is_staff: false },
  after: { is_active: false, is_staff: false },
  created_at: "2026-11-21T10:15:02.114Z",
};

const actionList = Object.entries(AUDIT_ACTIONS)
  .map(([name, meaning]) => `\`${name}\`: ${meaning}`)
  .join(" ");

export const AuditLogSchema = z
  .object({
    id: z.uuid(),
    actor_type: z.enum(auditActorTypes),
    actor_id: z
      .string()
      .nullable()
      .openapi({ description: "User id, API key id or system job name; null for anonymous actors." }),
    action: z.string().openapi({ description: `What happened. ${actionList}` }),
    target_type: z.string().openapi({ description: `One of: ${auditTargetTypes.join(", ")}.` }),
    target_id: z.string().nullable(),
    ip: z.string().nullable(),
    user_agent: z.string().nullable(),
    request_id: z
      .string()
      .nullable()
      .openapi({ description: "The `X-Request-Id` of the request that acted." }),
    before: z.unknown().openapi({
      description: "The target before the change (null when it did not exist); secrets redacted.",
    }),
    after: z.unknown().openapi({
      description: "The target after the change (null when it no longer exists); secrets redacted.",
    }),
    created_at: z.iso.datetime(),
  })
  .openapi("AuditLogEntry", { example: auditLogExample });

export type AuditLogDto = z.infer<typeof AuditLogSchema>;

const idFilter = z.string().trim().min(1).max(128);
const instant = z.iso
  .datetime({ offset: true, error: "Use an ISO 8601 date-time, e.g. 2026-11-21T00:00:00Z." })
  .transform((value) => new Date(value));

export const ListAuditLogsQuery = listQuery({
  sort: ["created_at"],
  defaultSort: "-created_at",
  filters: {
    "filter[actor_type]": z.enum(auditActorTypes),
    "filter[actor_id]": idFilter,
    "filter[action]": z.enum(auditActionNames),
    "filter[target_type]": z.enum(auditTargetTypes),
    "filter[target_id]": idFilter,
    "filter[created_at][gte]": instant,
    "filter[created_at][lte]": instant,
  },
});

export const AuditLogPageSchema = pageSchema(AuditLogSchema, "AuditLogPage");

/** The longest range one export may cover: a year, leap day included. */
export const MAX_EXPORT_RANGE_DAYS = 366;

export const ExportAuditLogsQuery = z
  .object({
    from: instant.openapi({
      param: { name: "from", in: "query" },
      description: "First instant included (ISO 8601 date-time).",
      example: "2026-11-01T00:00:00Z",
    }),
    to: instant.optional().openapi({
      param: { name: "to", in: "query" },
      description: `Last instant included (ISO 8601 date-time); default now. At most ${MAX_EXPORT_RANGE_DAYS} days after \`from\`.`,
      example: "2026-11-30T23:59:59Z",
    }),
  })
  .superRefine((query, ctx) => {
    // Zod runs this even when a field failed: compare only dates that parsed.
    if (!(query.from instanceof Date) || (query.to !== undefined && !(query.to instanceof Date))) return;
    const to = query.to ?? new Date();
    if (query.from > to) {
      ctx.addIssue({ code: "custom", path: ["to"], message: "`to` is before `from`." });
    } else if (to.getTime() - query.from.getTime() > MAX_EXPORT_RANGE_DAYS * 24 * 60 * 60 * 1000) {
      ctx.addIssue({
        code: "custom",
        path: ["to"],
        message: `The range is longer than ${MAX_EXPORT_RANGE_DAYS} days: export a year at a time.`,
      });
    }
  });
