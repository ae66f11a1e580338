/**
 * Receiving a Stripe webhook: verify, record, hand off, answer fast.
 *
 * 1. The signature (`Stripe-Signature: t=…,v1=…`, HMAC-SHA256 of `t.body` with the
 *    endpoint's secret) is checked by the SDK on the raw body, byte for byte as
 *    received, before anything parses it; a timestamp more than 5 minutes away is
 *    refused too (replays). Anything wrong → 400 `invalid_signature`, no effect.
 * 2. The event is recorded under its id (primary key) before anything else: a second
 *    delivery of the same event, even at the same moment, conflicts and is
 *    acknowledged as a duplicate with no further effect.
 * 3. The work is a `billing.stripe_event` queue message; the answer (200) goes back
 *    at once, well inside Stripe's timeout. If the queue refuses the message the
 *    record is removed and the answer is 503, so Stripe delivers the event again.
 */

import { and, eq, isNull } from "drizzle-orm";
import { stripeEvents } from "../../db/schema";
import { enqueue } from "../../jobs/enqueue";
import type { ServiceContext } from "../../lib/context";
import { serializeError } from "../../lib/logger";
import { ProblemError, problems } from "../../lib/problem";
import { toFieldErrors } from "../../lib/validation";
import { countWebhookEvent } from "../metrics/metrics.recorder";
import { billingNotConfigured, invalidSignature } from "./billing.problems";
import { loadStripeSdk } from "./stripe.client";
import { stripeEventEnvelope } from "./stripe.objects";
import { isHandledEventType } from "./stripe-events.job";

/** Seconds a signature's timestamp may be from now: Stripe's recommended (and the SDK's default) 5 minutes. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

export type WebhookReceipt = { event_id: string; duplicate: boolean };

export async function receiveStripeWebhook(
  ctx: ServiceContext,
  body: Uint8Array,
  signature: string | undefined,
): Promise<WebhookReceipt> {
  const secret = ctx.config.STRIPE_WEBHOOK_SECRET;
  if (!secret) {
    ctx.logger.error("stripe webhook refused: STRIPE_WEBHOOK_SECRET is missing");
    throw billingNotConfigured();
  }
  if (!signature) throw invalidSignature("The Stripe-Signature header is missing.");
  let payload: string;
  try {
    payload = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(body);
  } catch {
    throw invalidSignature("The body is not UTF-8, so it cannot be an event Stripe signed.");
  }

  const Stripe = await loadStripeSdk();
  let verified: unknown;
  try {
    verified = await Stripe.webhooks.constructEventAsync(
      payload,
      signature,
      secret,
      SIGNATURE_TOLERANCE_SECONDS,
      Stripe.createSubtleCryptoProvider(),
    );
  } catch (error) {
    ctx.logger.warn("stripe webhook signature refused", { error: serializeError(error) });
    throw invalidSignature(
      "The Stripe-Signature header does not match the body: wrong signing secret, an altered body, or a timestamp more than 5 minutes away.",
    );
  }
  const parsed = stripeEventEnvelope.safeParse(verified);
  if (!parsed.success) {
    // Signed by Stripe, yet not an event we can record and apply: a thin event, another API
    // family, an id longer than the queue message carries, a `created` no Date can hold.
    // Refused before any write, so each redelivery costs nothing, and logged as an error:
    // Stripe retries a non-2xx for days and shows the failures on the endpoint's dashboard,
    // which is where an operator should see an event this code cannot read.
    ctx.logger.error("signed stripe webhook is not an event this API can apply", {
      issues: parsed.error.issues,
    });
    throw new ProblemError({
      status: 400,
      code: "invalid_event",
      detail: "The body is not a Stripe event object this API can record.",
      errors: toFieldErrors(parsed.error.issues, "json"),
    });
  }
  const event = parsed.data;
  const handled = isHandledEventType(event.type);
  const now = new Date();
  const inserted = await ctx.db
    .insert(stripeEvents)
    .values({
      id: event.id,
      type: event.type,
      livemode: event.livemode,
      stripeCreatedAt: new Date(event.created * 1000),
      payload,
      createdAt: now,
      dispatches: handled ? 1 : 0,
      // Types we do not act on are recorded (and counted) as done.
      processedAt: handled ? null : now,
      outcome: handled ? null : "ignored",
    })
    .onConflictDoNothing()
    .run();
  if (inserted.meta.changes !== 1) {
    ctx.logger.info("stripe event received again; acknowledged, ignored", {
      event_id: event.id,
      type: event.type,
    });
    countWebhookEvent(event.type, "duplicate");
    return { event_id: event.id, duplicate: true };
  }
  if (handled) {
    try {
      await enqueue(
        ctx.env.JOBS_QUEUE,
        { type: "billing.stripe_event", event_id: event.id },
        { d1Session: ctx.dbSession },
      );
    } catch (error) {
      ctx.logger.error("could not queue a stripe event; Stripe will deliver it again", {
        event_id: event.id,
        error: serializeError(error),
      });
      await ctx.db
        .delete(stripeEvents)
        .where(and(eq(stripeEvents.id, event.id), isNull(stripeEvents.processedAt)))
        .run();
      countWebhookEvent(event.type, "failed");
      throw problems.serviceUnavailable(
        "The event could not be queued; it will be accepted on Stripe's retry.",
      );
    }
  }
  countWebhookEvent(event.type, handled ? "processed" : "ignored");
  ctx.logger.info("stripe event received", { event_id: event.id, type: event.type, handled });
  return { event_id: event.id, duplicate: false };
}
