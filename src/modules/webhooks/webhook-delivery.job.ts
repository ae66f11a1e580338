/**
 * The `webhooks.deliver` queue handler: one attempt of one delivery, off the request
 * path. Delivery is at-least-once, so nothing here trusts the message:
 *
 * 1. The delivery is read; a finished one, or one whose next attempt is not due yet (a
 *    duplicate or superseded message), is left alone.
 * 2. The attempt is claimed by a conditional UPDATE on (id, status, attempts): two
 *    messages for one attempt run it once. The claim pushes `next_attempt_at` a lease
 *    ahead, so a worker that dies mid-attempt leaves a row the cron sweep picks up.
 * 3. POST to the endpoint: signed (Standard Webhooks, by the current secret and, during
 *    a rotation's overlap, the previous one too), `redirect: "manual"` (a 3xx is a
 *    failure: a redirect is never followed, so it cannot lead to a private host), the
 *    URL checked against the SSRF rules again, and a 15-second timeout for the whole
 *    exchange. The first 4 KiB of the answer are kept; the rest is never read.
 * 4. The outcome is recorded (conditional on the claimed attempt): a 2xx succeeds and
 *    clears the endpoint's failure streak; anything else is retried after the schedule
 *    (delivery-schedule.ts) with a delayed queue message, until the 8th attempt fails
 *    (`failed`). A failure may disable the endpoint (endpoint-health.ts).
 *
 * Receiver failures never throw (they are outcomes); only D1 or queue trouble does, and
 * then the consumer's own retry and the cron sweep take over.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import {
  type WebhookDelivery,
  type WebhookEndpoint,
  webhookDeliveries,
  webhookEndpoints,
  webhookEvents,
} from "../../db/schema";
import type { QueueHandlerDeps } from "../../jobs/queue-handler";
import type { ServiceContext } from "../../lib/context";
import { serializeError } from "../../lib/logger";
import { countWebhookDelivery, type WebhookDeliveryOutcome } from "../metrics/metrics.recorder";
import { sendDeliveryMessage } from "./delivery-queue";
import { DELIVERY_TIMEOUT_MS, retryDelayMs } from "./delivery-schedule";
import { announceEndpointDisabled, disableWhenFailingTooLong } from "./endpoint-health";
import { webhookUrlVerdict } from "./webhook-endpoints.service";
import { openSecret, signatureHeaders } from "./webhook-signing";
import type { WebhookDeliverMessage } from "./webhooks.messages";

/** How much of a receiver's answer is kept for the delivery log. */
export const RESPONSE_BODY_LIMIT = 4096;
/** How long a claimed attempt owns its delivery: the timeout, and time to record the outcome. */
const ATTEMPT_LEASE_MS = DELIVERY_TIMEOUT_MS + 45_000;
/** A message may arrive this much before `next_attempt_at` (clocks disagree slightly) and still run. */
const EARLY_TOLERANCE_MS = 2_000;
const USER_AGENT = "EdgeApiPlatform-Webhooks/1.0 (+https://www.standardwebhooks.com/)";

type Outcome = {
  succeeded: boolean;
  /** No later attempt can do better (the URL is refused, the endpoint is off): `failed` at once. */
  final: boolean;
  /** Whether the attempt reached the receiver (or tried to): only those count towards the 5-day rule. */
  countsAgainstEndpoint: boolean;
  responseStatus: number | null;
  responseMs: number | null;
  responseBody: string | null;
  error: string | null;
};

const skipped = (error: string, final: boolean): Outcome => ({
  succeeded: false,
  final,
  countsAgainstEndpoint: error !== "endpoint_disabled",
  responseStatus: null,
  responseMs: null,
  responseBody: null,
  error,
});

export async function deliverWebhookMessage(
  message: WebhookDeliverMessage,
  deps: QueueHandlerDeps,
): Promise<void> {
  const logger = deps.logger.child({ delivery_id: message.delivery_id });
  const ctx: ServiceContext = { ...deps.ctx, logger };
  const now = Date.now();
  const row = await ctx.db
    .select({ delivery: webhookDeliveries, endpoint: webhookEndpoints, body: webhookEvents.payload })
    .from(webhookDeliveries)
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
    .innerJoin(webhookEvents, eq(webhookEvents.id, webhookDeliveries.eventId))
    .where(eq(webhookDeliveries.id, message.delivery_id))
    .get();
  if (!row) {
    logger.info("webhook delivery no longer exists (endpoint deleted); message dropped");
    return;
  }
  const { delivery, endpoint, body } = row;
  if (delivery.status === "succeeded" || delivery.status === "failed") {
    logger.info("webhook delivery already finished; message ignored", { status: delivery.status });
    return;
  }
  if (delivery.nextAttemptAt && delivery.nextAttemptAt.getTime() > now + EARLY_TOLERANCE_MS) {
    logger.info("webhook delivery not due; message ignored", { next_attempt_at: delivery.nextAttemptAt });
    return;
  }
  const claimed = await claim(ctx, delivery, now);
  if (!claimed) {
    logger.info("webhook delivery attempt claimed by another message; ignored");
    return;
  }
  const outcome = await attempt(ctx, claimed, endpoint, body);
  await record(ctx, claimed, endpoint, outcome, Date.now());
}

async function claim(ctx: ServiceContext, delivery: WebhookDelivery, now: number) {
  return ctx.db
    .update(webhookDeliveries)
    .set({
      attempts: delivery.attempts + 1,
      lastAttemptAt: new Date(now),
      nextAttemptAt: new Date(now + ATTEMPT_LEASE_MS),
      enqueuedAt: new Date(now),
      updatedAt: new Date(now),
    })
    .where(
      and(
        eq(webhookDeliveries.id, delivery.id),
        inArray(webhookDeliveries.status, ["pending", "retrying"]),
        eq(webhookDeliveries.attempts, delivery.attempts),
      ),
    )
    .returning()
    .get();
}

/** The secrets that sign now: the current one, and the previous one during a rotation's overlap. */
async function signingSecrets(
  ctx: ServiceContext,
  endpoint: WebhookEndpoint,
  now: number,
): Promise<string[] | null> {
  const current = await openSecret(ctx, endpoint.id, endpoint.secretCiphertext);
  if (!current) return null;
  const overlapping =
    endpoint.previousSecretCiphertext &&
    endpoint.previousSecretExpiresAt &&
    endpoint.previousSecretExpiresAt.getTime() > now;
  const previous = overlapping
    ? await openSecret(ctx, endpoint.id, endpoint.previousSecretCiphertext as string)
    : null;
  return previous ? [current, previous] : [current];
}

async function attempt(
  ctx: ServiceContext,
  delivery: WebhookDelivery,
  endpoint: WebhookEndpoint,
  body: string,
): Promise<Outcome> {
  if (!endpoint.enabled) return skipped("endpoint_disabled", true);
  const verdict = webhookUrlVerdict(ctx, endpoint.url);
  if (!verdict.ok) {
    ctx.logger.warn("webhook URL refused at delivery", { endpoint_id: endpoint.id, reason: verdict.reason });
    return skipped("url_not_allowed", true);
  }
  let secrets: string[] | null;
  try {
    secrets = await signingSecrets(ctx, endpoint, Date.now());
  } catch (error) {
    ctx.logger.error("webhook secret unavailable", {
      endpoint_id: endpoint.id,
      error: serializeError(error),
    });
    secrets = null;
  }
  // Retried like a receiver failure: the key may be restored before the schedule runs out.
  if (!secrets) return skipped("secret_unavailable", false);

  const sentAt = new Date();
  const signal = AbortSignal.timeout(DELIVERY_TIMEOUT_MS);
  const started = Date.now();
  try {
    const response = await fetch(verdict.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        ...signatureHeaders(delivery.eventId, sentAt, body, secrets),
      },
      body,
      redirect: "manual",
      signal,
    });
    const responseBody = await readPrefix(response, RESPONSE_BODY_LIMIT);
    const status = response.status;
    const succeeded = status >= 200 && status < 300;
    return {
      succeeded,
      final: false,
      countsAgainstEndpoint: true,
      responseStatus: status,
      responseMs: Date.now() - started,
      responseBody,
      error: succeeded ? null : status >= 300 && status < 400 ? "redirect" : null,
    };
  } catch (error) {
    const timedOut = signal.aborted;
    ctx.logger.info("webhook attempt failed without an answer", {
      endpoint_id: endpoint.id,
      timed_out: timedOut,
      error: serializeError(error),
    });
    return {
      succeeded: false,
      final: false,
      countsAgainstEndpoint: true,
      responseStatus: null,
      responseMs: Date.now() - started,
      responseBody: null,
      error: timedOut ? "timeout" : "network_error",
    };
  }
}

/**
 * The first `limit` bytes of the body as text, the rest left unread (and the stream
 * cancelled). A body cut short by the timeout keeps what arrived: the status already
 * decided the outcome.
 */
async function readPrefix(response: Response, limit: number): Promise<string | null> {
  if (!response.body) return null;
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // The timeout (or the receiver) cut the body short.
  } finally {
    reader.cancel().catch(() => undefined);
  }
  const bytes = new Uint8Array(Math.min(size, limit));
  let offset = 0;
  for (const chunk of chunks) {
    if (offset >= bytes.length) break;
    const part = chunk.subarray(0, bytes.length - offset);
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/**
 * The webhook_deliveries_total outcome of a recorded attempt: the status it left, except
 * when nothing was sent and nothing later could change that, which the metric names apart
 * from receivers that failed. A missing secret is not among them: it is retried.
 */
function metricOutcome(
  outcome: Outcome,
  status: "succeeded" | "retrying" | "failed",
): WebhookDeliveryOutcome {
  if (outcome.error === "url_not_allowed") return "refused";
  if (outcome.error === "endpoint_disabled") return "skipped";
  return status;
}

async function record(
  ctx: ServiceContext,
  delivery: WebhookDelivery,
  endpoint: WebhookEndpoint,
  outcome: Outcome,
  now: number,
): Promise<void> {
  const delay =
    outcome.succeeded || outcome.final || delivery.manual ? null : retryDelayMs(delivery.attempts);
  const status = outcome.succeeded ? "succeeded" : delay === null ? "failed" : "retrying";
  const nextAttemptAt = delay === null ? null : new Date(now + delay);
  const attemptedAt = delivery.lastAttemptAt ?? new Date(now);
  const markDelivery = ctx.db
    .update(webhookDeliveries)
    .set({
      status,
      nextAttemptAt,
      // The retry's message is sent below: claimed now, released if the send fails.
      enqueuedAt: nextAttemptAt ? new Date(now) : null,
      responseStatus: outcome.responseStatus,
      responseMs: outcome.responseMs,
      responseBody: outcome.responseBody,
      error: outcome.error,
      updatedAt: new Date(now),
    })
    .where(and(eq(webhookDeliveries.id, delivery.id), eq(webhookDeliveries.attempts, delivery.attempts)))
    .returning({ id: webhookDeliveries.id });
  // The endpoint's health moves only when the row above was still this attempt's (changes() = 1).
  const markEndpoint = ctx.db
    .update(webhookEndpoints)
    .set(
      outcome.succeeded
        ? { failingSince: null }
        : { failingSince: sql`coalesce(${webhookEndpoints.failingSince}, ${attemptedAt.getTime()})` },
    )
    .where(and(eq(webhookEndpoints.id, endpoint.id), sql`changes() = 1`));
  const [[recorded]] = outcome.countsAgainstEndpoint
    ? await ctx.db.batch([markDelivery, markEndpoint])
    : await ctx.db.batch([markDelivery]);
  if (!recorded) {
    ctx.logger.warn("webhook delivery changed during the attempt (retried by hand?); outcome dropped");
    return;
  }
  countWebhookDelivery(metricOutcome(outcome, status));
  ctx.logger.info("webhook attempt recorded", {
    endpoint_id: endpoint.id,
    status,
    attempts: delivery.attempts,
    response_status: outcome.responseStatus,
    error: outcome.error,
    next_attempt_at: nextAttemptAt?.toISOString(),
  });
  if (nextAttemptAt) await sendDeliveryMessage(ctx, delivery.id, nextAttemptAt, now);
  if (!outcome.succeeded && outcome.countsAgainstEndpoint) {
    const disabled = await disableWhenFailingTooLong(ctx, endpoint.id, now);
    if (disabled) {
      const lastFailure = outcome.responseStatus
        ? `HTTP ${outcome.responseStatus}`
        : (outcome.error ?? undefined);
      await announceEndpointDisabled(ctx, disabled, lastFailure);
    }
  }
}
