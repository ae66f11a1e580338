/**
 * The delivery log of an endpoint (list, detail), a manual retry, and the test event.
 * Reads go through the endpoint, which is found in the caller's organization first, so
 * another organization's endpoint or delivery is a 404.
 *
 * The receiver's answer (`response_body`, the first 4 KiB) may hold whatever the
 * integrator's server prints (error pages, stack traces): it is shown to the
 * organization's owners and admins only, never to an API key, whatever its scopes.
 */
import { and, eq, type SQL } from "drizzle-orm";
import {
  type WebhookDelivery,
  type WebhookEndpoint,
  webhookDeliveries,
  webhookEvents,
} from "../../db/schema";
import { uuidv7 } from "../../lib/ids";
import type { SortTerm } from "../../lib/list-query";
import { keysetPage, listPage, type Page } from "../../lib/pagination";
import { problems } from "../../lib/problem";
import { type OrgContext, ownedBy } from "../orgs/org-context";
import { sendDeliveryMessage } from "./delivery-queue";
import type { WebhookEventData } from "./event-catalog";
import { findEndpoint } from "./webhook-endpoints.service";
import type { DeliveryDetailDto, DeliveryDto } from "./webhooks.schemas";

const iso = (date: Date | null) => date?.toISOString() ?? null;

export function toDeliveryDto(row: WebhookDelivery): DeliveryDto {
  return {
    id: row.id,
    endpoint_id: row.endpointId,
    event_id: row.eventId,
    event_type: row.eventType,
    status: row.status,
    attempts: row.attempts,
    response_status: row.responseStatus,
    response_ms: row.responseMs,
    error: row.error,
    next_attempt_at: iso(row.nextAttemptAt),
    last_attempt_at: iso(row.lastAttemptAt),
    created_at: row.createdAt.toISOString(),
  };
}

const deliveryNotFound = () => problems.notFound("webhook delivery");

const endpointDisabled = () =>
  problems.conflict(
    "webhook_endpoint_disabled",
    "The endpoint is disabled: turn it back on (PATCH `enabled: true`) before sending it anything.",
  );

export async function listDeliveries(
  octx: OrgContext,
  endpointId: string,
  query: { limit: number; cursor?: string; sort: SortTerm[]; status?: WebhookDelivery["status"] },
): Promise<Page<DeliveryDto>> {
  const endpoint = await findEndpoint(octx, endpointId);
  const page = keysetPage<WebhookDelivery>({
    sort: query.sort,
    columns: { created_at: { column: webhookDeliveries.createdAt, read: (row) => row.createdAt.getTime() } },
    tiebreaker: { column: webhookDeliveries.id, read: (row) => row.id },
    limit: query.limit,
    cursor: query.cursor,
  });
  const filters: SQL[] = [
    ownedBy(octx, webhookDeliveries.organizationId),
    eq(webhookDeliveries.endpointId, endpoint.id),
  ];
  if (query.status) filters.push(eq(webhookDeliveries.status, query.status));
  const result = await listPage(octx.db, page, {
    rows: octx.db.select().from(webhookDeliveries).$dynamic(),
    countFrom: webhookDeliveries,
    where: and(...filters),
  });
  return { data: result.data.map(toDeliveryDto), meta: result.meta };
}

function findDelivery(octx: OrgContext, endpoint: WebhookEndpoint, deliveryId: string) {
  return octx.db
    .select({ delivery: webhookDeliveries, requestBody: webhookEvents.payload })
    .from(webhookDeliveries)
    .innerJoin(webhookEvents, eq(webhookEvents.id, webhookDeliveries.eventId))
    .where(
      and(
        ownedBy(octx, webhookDeliveries.organizationId),
        eq(webhookDeliveries.endpointId, endpoint.id),
        eq(webhookDeliveries.id, deliveryId),
      ),
    )
    .get();
}

/** Owners and admins (the only roles holding `webhooks:read`) see the receiver's answer; API keys never do. */
const seesResponseBodies = (octx: OrgContext) => octx.actor.kind === "member";

export async function getDelivery(
  octx: OrgContext,
  endpointId: string,
  deliveryId: string,
): Promise<DeliveryDetailDto> {
  const endpoint = await findEndpoint(octx, endpointId);
  const row = await findDelivery(octx, endpoint, deliveryId);
  if (!row) throw deliveryNotFound();
  return {
    ...toDeliveryDto(row.delivery),
    request_body: row.requestBody,
    response_body: seesResponseBodies(octx) ? row.delivery.responseBody : null,
  };
}

/**
 * POST …/retry: an attempt now. A delivery still on the schedule (pending, retrying) just
 * has its next attempt moved to now. A finished one (succeeded, failed) gets one more
 * attempt, marked `manual`: if it fails it is `failed` again at once (no schedule), and can
 * be retried again by hand. The webhook-id stays the event id, so receivers de-duplicate.
 */
export async function retryDelivery(
  octx: OrgContext,
  endpointId: string,
  deliveryId: string,
): Promise<WebhookDelivery> {
  const endpoint = await findEndpoint(octx, endpointId);
  if (!endpoint.enabled) throw endpointDisabled();
  const found = await findDelivery(octx, endpoint, deliveryId);
  if (!found) throw deliveryNotFound();
  const delivery = found.delivery;
  const now = new Date();
  const finished = delivery.status === "succeeded" || delivery.status === "failed";
  const [updated] = await octx.db
    .update(webhookDeliveries)
    .set({
      ...(finished ? { status: "pending" as const, manual: true } : {}),
      nextAttemptAt: now,
      enqueuedAt: now,
      updatedAt: now,
    })
    .where(
      and(
        ownedBy(octx, webhookDeliveries.organizationId),
        eq(webhookDeliveries.id, delivery.id),
        // Nobody changed it since it was read (an attempt finishing, another retry).
        eq(webhookDeliveries.status, delivery.status),
        eq(webhookDeliveries.attempts, delivery.attempts),
      ),
    )
    .returning();
  if (!updated) {
    // An attempt or another retry got there first: answer the delivery as it is now.
    const current = await findDelivery(octx, endpoint, deliveryId);
    if (!current) throw deliveryNotFound();
    return current.delivery;
  }
  await sendDeliveryMessage(octx, updated.id, now, now.getTime());
  octx.logger.info("webhook delivery retried by hand", { delivery_id: updated.id, status: delivery.status });
  return updated;
}

/**
 * POST …/test: a `webhook.test` event for this endpoint alone (whatever it subscribes
 * to), written and given its delivery in one batch, then sent at once.
 */
export async function sendTestEvent(octx: OrgContext, endpointId: string): Promise<WebhookDelivery> {
  const endpoint = await findEndpoint(octx, endpointId);
  if (!endpoint.enabled) throw endpointDisabled();
  const now = new Date();
  const eventId = uuidv7(now.getTime());
  const data: WebhookEventData<"webhook.test"> = {
    organization_id: octx.organization.id,
    endpoint_id: endpoint.id,
    message: `A test event from ${octx.config.APP_NAME}: if your endpoint verified its signature, it is ready.`,
  };
  const payload = JSON.stringify({ type: "webhook.test", timestamp: now.toISOString(), data });
  const [, [delivery]] = await octx.db.batch([
    octx.db.insert(webhookEvents).values({
      id: eventId,
      organizationId: octx.organization.id,
      type: "webhook.test",
      payload,
      createdAt: now,
      dispatchedAt: now,
    }),
    octx.db
      .insert(webhookDeliveries)
      .values({
        id: uuidv7(now.getTime()),
        organizationId: octx.organization.id,
        endpointId: endpoint.id,
        eventId,
        eventType: "webhook.test",
        nextAttemptAt: now,
        enqueuedAt: now,
        createdAt: now,
        updatedAt: now,
      })
      .returning(),
  ]);
  if (!delivery) throw new Error("sendTestEvent: the insert returned no row");
  await sendDeliveryMessage(octx, delivery.id, now, now.getTime());
  return delivery;
}
