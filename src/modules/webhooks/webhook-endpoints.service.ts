/**
 * An organization's webhook endpoints: create (the signing secret is answered once and
 * stored sealed), list, read, change, delete, rotate the secret with a 24-hour overlap.
 * Every verb takes an OrgContext and filters by its organization, so another
 * organization's endpoint is a 404. Every change writes its audit row in the same batch.
 *
 * The URL is held to the SSRF rules of src/lib/outbound-url.ts here and again at every
 * delivery (webhook-delivery.job.ts), so tightening the rules (or moving a database to
 * production) also stops endpoints created under looser ones.
 */
import { and, count, eq, type SQL } from "drizzle-orm";
import { type WebhookEndpoint, webhookEndpoints } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { uuidv7 } from "../../lib/ids";
import type { SortTerm } from "../../lib/list-query";
import { checkOutboundUrl, type OutboundUrlVerdict } from "../../lib/outbound-url";
import { keysetPage, listPage, type Page } from "../../lib/pagination";
import { ProblemError, problems } from "../../lib/problem";
import { AFTER_CHANGE, auditStatement } from "../audit/audit.service";
import { type OrgContext, ownedBy } from "../orgs/org-context";
import { generateWebhookSecret, sealSecret } from "./webhook-signing";
import {
  type CreateEndpointInput,
  type EndpointDto,
  MAX_ENDPOINTS_PER_ORGANIZATION,
  type UpdateEndpointInput,
} from "./webhooks.schemas";

/** How long a rotated-out secret keeps signing deliveries beside the new one. */
export const SECRET_OVERLAP_MS = 24 * 60 * 60 * 1000;

const iso = (date: Date | null) => date?.toISOString() ?? null;

export function toEndpointDto(row: WebhookEndpoint, now = Date.now()): EndpointDto {
  const overlapping = row.previousSecretExpiresAt && row.previousSecretExpiresAt.getTime() > now;
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    event_types: row.eventTypes,
    enabled: row.enabled,
    disabled_reason: row.enabled ? null : row.disabledReason,
    disabled_at: row.enabled ? null : iso(row.disabledAt),
    failing_since: iso(row.failingSince),
    previous_secret_expires_at: overlapping ? iso(row.previousSecretExpiresAt) : null,
    created_by: row.createdBy,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/**
 * The strict SSRF rules (https, public hosts) hold in every deployed environment:
 * staging runs on Cloudflare like production, where a receiver on localhost cannot
 * exist and a private address is never a legitimate target.
 */
export function webhookUrlVerdict(ctx: ServiceContext, url: string): OutboundUrlVerdict {
  const deployed = ctx.config.ENVIRONMENT === "production" || ctx.config.ENVIRONMENT === "staging";
  return checkOutboundUrl(url, { strict: deployed });
}

/** The URL as stored (normalised by the URL parser), or 400 `url_not_allowed` naming `/url`. */
function allowedUrl(ctx: ServiceContext, url: string): string {
  const verdict = webhookUrlVerdict(ctx, url);
  if (verdict.ok) return verdict.url;
  const detail = `The URL ${verdict.reason}.`;
  throw new ProblemError({
    status: 400,
    code: "url_not_allowed",
    detail,
    errors: [{ pointer: "/url", detail }],
  });
}

export const endpointNotFound = () => problems.notFound("webhook endpoint");

export async function findEndpoint(octx: OrgContext, endpointId: string): Promise<WebhookEndpoint> {
  const row = await octx.db
    .select()
    .from(webhookEndpoints)
    .where(and(ownedBy(octx, webhookEndpoints.organizationId), eq(webhookEndpoints.id, endpointId)))
    .get();
  if (!row) throw endpointNotFound();
  return row;
}

const creatorOf = (octx: OrgContext) => (octx.actor.kind === "member" ? octx.actor.userId : null);

export type EndpointWithSecret = { endpoint: WebhookEndpoint; secret: string };

export async function createEndpoint(
  octx: OrgContext,
  input: CreateEndpointInput,
): Promise<EndpointWithSecret> {
  const url = allowedUrl(octx, input.url);
  // Checked before the insert: two concurrent creations may both pass at 19; the cap bounds
  // fan-out cost, so one endpoint over it is harmless.
  const [existing] = await octx.db
    .select({ value: count() })
    .from(webhookEndpoints)
    .where(ownedBy(octx, webhookEndpoints.organizationId));
  if ((existing?.value ?? 0) >= MAX_ENDPOINTS_PER_ORGANIZATION) {
    throw problems.conflict(
      "webhook_endpoint_limit",
      `An organization may have at most ${MAX_ENDPOINTS_PER_ORGANIZATION} webhook endpoints; delete one first.`,
    );
  }
  const now = new Date();
  const id = uuidv7(now.getTime());
  const secret = generateWebhookSecret();
  const secretCiphertext = await sealSecret(octx, id, secret);
  const [[endpoint]] = await octx.db.batch([
    octx.db
      .insert(webhookEndpoints)
      .values({
        id,
        organizationId: octx.organization.id,
        url,
        description: input.description || null,
        eventTypes: input.event_types,
        enabled: input.enabled,
        disabledAt: input.enabled ? null : now,
        disabledReason: input.enabled ? null : "manual",
        secretCiphertext,
        createdBy: creatorOf(octx),
        createdAt: now,
        updatedAt: now,
      })
      .returning(),
    auditStatement(octx, {
      action: "webhook_endpoint.create",
      target: { type: "webhook_endpoint", id },
      after: {
        organization_id: octx.organization.id,
        url,
        event_types: input.event_types,
        enabled: input.enabled,
      },
    }),
  ]);
  if (!endpoint) throw new Error("createEndpoint: the insert returned no row");
  octx.logger.info("webhook endpoint created", { endpoint_id: id, organization_id: octx.organization.id });
  return { endpoint, secret };
}

export async function listEndpoints(
  octx: OrgContext,
  query: { limit: number; cursor?: string; sort: SortTerm[]; enabled?: boolean },
): Promise<Page<EndpointDto>> {
  const page = keysetPage<WebhookEndpoint>({
    sort: query.sort,
    columns: { created_at: { column: webhookEndpoints.createdAt, read: (row) => row.createdAt.getTime() } },
    tiebreaker: { column: webhookEndpoints.id, read: (row) => row.id },
    limit: query.limit,
    cursor: query.cursor,
  });
  const filters: SQL[] = [ownedBy(octx, webhookEndpoints.organizationId)];
  if (query.enabled !== undefined) filters.push(eq(webhookEndpoints.enabled, query.enabled));
  const result = await listPage(octx.db, page, {
    rows: octx.db.select().from(webhookEndpoints).$dynamic(),
    countFrom: webhookEndpoints,
    where: and(...filters),
  });
  const now = Date.now();
  return { data: result.data.map((row) => toEndpointDto(row, now)), meta: result.meta };
}

export async function updateEndpoint(
  octx: OrgContext,
  endpointId: string,
  input: UpdateEndpointInput,
): Promise<WebhookEndpoint> {
  const endpoint = await findEndpoint(octx, endpointId);
  const changes: Partial<typeof webhookEndpoints.$inferInsert> = {};
  if (input.url !== undefined) changes.url = allowedUrl(octx, input.url);
  if (input.description !== undefined) changes.description = input.description || null;
  if (input.event_types !== undefined) changes.eventTypes = input.event_types;
  const now = new Date();
  if (input.enabled === true && !endpoint.enabled) {
    // Turned back on: its past failures no longer count towards the 5-day rule.
    Object.assign(changes, { enabled: true, disabledAt: null, disabledReason: null, failingSince: null });
  } else if (input.enabled === false && endpoint.enabled) {
    Object.assign(changes, { enabled: false, disabledAt: now, disabledReason: "manual" });
  }
  if (Object.keys(changes).length === 0) return endpoint;
  const [[updated]] = await octx.db.batch([
    octx.db
      .update(webhookEndpoints)
      .set({ ...changes, updatedAt: now })
      .where(and(ownedBy(octx, webhookEndpoints.organizationId), eq(webhookEndpoints.id, endpointId)))
      .returning(),
    auditStatement(
      octx,
      {
        action: "webhook_endpoint.update",
        target: { type: "webhook_endpoint", id: endpointId },
        before: toEndpointDto(endpoint),
        after: toEndpointDto({ ...endpoint, ...changes, updatedAt: now } as WebhookEndpoint),
      },
      { when: AFTER_CHANGE },
    ),
  ]);
  if (!updated) throw endpointNotFound();
  return updated;
}

/** DELETE: the endpoint and its delivery log go; deliveries on their way are dropped. */
export async function deleteEndpoint(octx: OrgContext, endpointId: string): Promise<void> {
  const endpoint = await findEndpoint(octx, endpointId);
  const [deleted] = await octx.db.batch([
    octx.db
      .delete(webhookEndpoints)
      .where(and(ownedBy(octx, webhookEndpoints.organizationId), eq(webhookEndpoints.id, endpointId)))
      .returning({ id: webhookEndpoints.id }),
    auditStatement(
      octx,
      {
        action: "webhook_endpoint.delete",
        target: { type: "webhook_endpoint", id: endpointId },
        before: toEndpointDto(endpoint),
      },
      { when: AFTER_CHANGE },
    ),
  ]);
  if (deleted.length === 0) throw endpointNotFound();
  octx.logger.info("webhook endpoint deleted", { endpoint_id: endpointId });
}

/**
 * A new secret, answered once. The current one becomes the previous one and keeps
 * signing every delivery beside it for 24 hours, so a receiver can deploy the new
 * secret without dropping a delivery. Rotating again within the overlap retires the
 * older previous secret at once (only two ever sign).
 */
export async function rotateEndpointSecret(
  octx: OrgContext,
  endpointId: string,
): Promise<EndpointWithSecret> {
  const endpoint = await findEndpoint(octx, endpointId);
  const secret = generateWebhookSecret();
  const secretCiphertext = await sealSecret(octx, endpoint.id, secret);
  const now = new Date();
  const until = new Date(now.getTime() + SECRET_OVERLAP_MS);
  const [[rotated]] = await octx.db.batch([
    octx.db
      .update(webhookEndpoints)
      .set({
        secretCiphertext,
        previousSecretCiphertext: endpoint.secretCiphertext,
        previousSecretExpiresAt: until,
        updatedAt: now,
      })
      .where(
        and(
          ownedBy(octx, webhookEndpoints.organizationId),
          eq(webhookEndpoints.id, endpoint.id),
          // Two rotations at once: only the first replaces the secret it read.
          eq(webhookEndpoints.secretCiphertext, endpoint.secretCiphertext),
        ),
      )
      .returning(),
    auditStatement(
      octx,
      {
        action: "webhook_endpoint.rotate_secret",
        target: { type: "webhook_endpoint", id: endpoint.id },
        after: { previous_secret_expires_at: until.toISOString() },
      },
      { when: AFTER_CHANGE },
    ),
  ]);
  if (!rotated) {
    throw problems.conflict(
      "conflict",
      "The secret was rotated by another request at the same moment; read the endpoint and rotate again if needed.",
    );
  }
  octx.logger.info("webhook secret rotated", { endpoint_id: endpoint.id });
  return { endpoint: rotated, secret };
}
