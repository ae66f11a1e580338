/**
 * The one way to append to the audit log.
 *
 * - `auditStatement(ctx, entry)` is a statement to put in the SAME `db.batch` as the
 *   D1 write it records, so the change and its audit row land together or not at all.
 *   With `{ when: AFTER_CHANGE }` the row is only written when the statement right
 *   before it in the batch changed a row (SQLite's `changes()`), for conditional
 *   writes (a status guard, a last-owner check) that may match nothing.
 * - `audit(ctx, entry)` appends on its own, for events whose effect is not a D1 write
 *   (a KV lockout, a queued broadcast, a revocation already done). The event has
 *   already happened by then, so a failed append cannot undo it: it is logged at
 *   error level with the whole row (the log line is the record of last resort) and
 *   never turns the caller's request into a 500.
 *
 * Actor, IP, user agent and request id come from the ServiceContext; `before` and
 * `after` go through redactForAudit (secrets replaced, size bounded).
 */
import { and, eq, gte, lte, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { insertWhere } from "../../db/insert-where";
import { type AuditActorType, type AuditLog, auditLogs, type NewAuditLog } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { uuidv7 } from "../../lib/ids";
import type { SortTerm } from "../../lib/list-query";
import { serializeError } from "../../lib/logger";
import { keysetPage, listPage, type Page } from "../../lib/pagination";
import type { Principal } from "../../lib/principal";
import type { AuditAction, AuditTargetType } from "./audit.actions";
import { redactForAudit } from "./audit.redact";
import type { AuditLogDto } from "./audit.schemas";

export type AuditEntry = {
  action: AuditAction;
  target: { type: AuditTargetType; id?: string | null };
  /** The target before the change, as the API shows it (null/omitted when it did not exist). */
  before?: unknown;
  /** The target after the change (null/omitted when it no longer exists). */
  after?: unknown;
};

/** `changes() > 0`: the previous statement of the batch changed at least one row. */
export const AFTER_CHANGE: SQL = sql`changes() > 0`;

export function actorOf(principal: Principal): { actorType: AuditActorType; actorId: string | null } {
  switch (principal.kind) {
    case "user":
      return { actorType: "user", actorId: principal.userId };
    case "api_key":
      return { actorType: "api_key", actorId: principal.keyId };
    case "system":
      return { actorType: "system", actorId: principal.reason };
    case "anonymous":
      return { actorType: "anonymous", actorId: null };
  }
}

function auditRow(ctx: ServiceContext, entry: AuditEntry): NewAuditLog & { id: string } {
  const now = Date.now();
  return {
    id: uuidv7(now),
    ...actorOf(ctx.principal),
    action: entry.action,
    targetType: entry.target.type,
    targetId: entry.target.id ?? null,
    ip: ctx.client.ip ?? null,
    userAgent: ctx.client.userAgent ?? null,
    requestId: ctx.requestId,
    before: redactForAudit(entry.before),
    after: redactForAudit(entry.after),
    createdAt: new Date(now),
  };
}

/** The audit row as a statement for the batch that makes the change it records. */
export function auditStatement(
  ctx: ServiceContext,
  entry: AuditEntry,
  options: { when?: SQL } = {},
): BatchItem<"sqlite"> {
  const row = auditRow(ctx, entry);
  if (!options.when) return ctx.db.insert(auditLogs).values(row);
  return insertWhere(ctx.db, auditLogs, row, options.when);
}

/** Appends one row on its own; false (logged with the row) when D1 refused it. */
export async function audit(ctx: ServiceContext, entry: AuditEntry): Promise<boolean> {
  const row = auditRow(ctx, entry);
  try {
    await ctx.db.insert(auditLogs).values(row);
    return true;
  } catch (error) {
    ctx.logger.error("audit append failed", { audit: row, error: serializeError(error) });
    return false;
  }
}

// ---------------------------------------------------------------------------
// Reading (GET /admin/v1/audit-logs)

export type ListAuditLogsInput = {
  limit: number;
  cursor?: string;
  sort: SortTerm[];
  actorType?: AuditActorType;
  actorId?: string;
  action?: AuditAction;
  targetType?: AuditTargetType;
  targetId?: string;
  createdFrom?: Date;
  createdTo?: Date;
};

export async function listAuditLogs(ctx: ServiceContext, input: ListAuditLogsInput): Promise<Page<AuditLog>> {
  const page = keysetPage<AuditLog>({
    sort: input.sort,
    columns: { created_at: { column: auditLogs.createdAt, read: (row) => row.createdAt.getTime() } },
    tiebreaker: { column: auditLogs.id, read: (row) => row.id },
    limit: input.limit,
    cursor: input.cursor,
  });
  const where = and(
    input.actorType ? eq(auditLogs.actorType, input.actorType) : undefined,
    input.actorId ? eq(auditLogs.actorId, input.actorId) : undefined,
    input.action ? eq(auditLogs.action, input.action) : undefined,
    input.targetType ? eq(auditLogs.targetType, input.targetType) : undefined,
    input.targetId ? eq(auditLogs.targetId, input.targetId) : undefined,
    input.createdFrom ? gte(auditLogs.createdAt, input.createdFrom) : undefined,
    input.createdTo ? lte(auditLogs.createdAt, input.createdTo) : undefined,
  );
  return listPage(ctx.db, page, {
    rows: ctx.db.select().from(auditLogs).$dynamic(),
    countFrom: auditLogs,
    where,
  });
}

export function toAuditLogDto(row: AuditLog): AuditLogDto {
  return {
    id: row.id,
    actor_type: row.actorType,
    actor_id: row.actorId,
    action: row.action,
    target_type: row.targetType,
    target_id: row.targetId,
    ip: row.ip,
    user_agent: row.userAgent,
    request_id: row.requestId,
    before: row.before ?? null,
    after: row.after ?? null,
    created_at: row.createdAt.toISOString(),
  };
}
