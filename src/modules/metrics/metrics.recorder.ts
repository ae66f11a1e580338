/**
 * The isolate side of metrics: observations are aggregated in memory (one cell per
 * label set) and flushed to the METRICS Durable Object in batches, so a request
 * costs a few map updates, not a Durable Object call.
 *
 * A batch is flushed when it is FLUSH_AFTER_MS old or holds FLUSH_AFTER_OBSERVATIONS
 * observations (checked after each request, sent with waitUntil), at the end of every
 * queue batch, and before GET /metrics reads the totals. The buffer is swapped out
 * before the send, so two flushes never send the same observations; a send that
 * fails is merged back and retried with the next flush. An isolate that is evicted
 * with a batch not yet flushed loses it: at most FLUSH_AFTER_MS of its traffic.
 */
import type { EmailEvent } from "../../email/events";
import type { Bindings } from "../../env";
import type { Logger } from "../../lib/logger";
import { serializeError } from "../../lib/logger";
import type { CounterDelta, HistogramDelta, MetricsBatch } from "./metrics.batch";
import { metricsCollector } from "./metrics.client";
import {
  boundLabelValue,
  type CounterName,
  type HistogramDef,
  type HistogramName,
  type LabelsOf,
  METRICS,
  seriesKey,
} from "./metrics.registry";
import type { IngestResult } from "./metrics-collector.do";

export const FLUSH_AFTER_MS = 10_000;
export const FLUSH_AFTER_OBSERVATIONS = 500;
/** Distinct label sets held between flushes; beyond it new ones are dropped (and counted in the log). */
export const MAX_BUFFERED_SERIES = 5_000;

/** The clock and the transport, as methods of objects so tests can replace them with vi.spyOn. */
export const metricsClock = { now: (): number => Date.now() };
export const metricsSink = {
  send(env: Pick<Bindings, "METRICS">, batch: MetricsBatch): Promise<IngestResult> {
    return metricsCollector(env).ingest(batch);
  },
};

type Buffer = {
  counters: Map<string, CounterDelta>;
  histograms: Map<string, HistogramDelta>;
  observations: number;
  /** When the oldest observation of this batch was made. */
  startedAt: number | null;
  dropped: number;
};

const emptyBuffer = (): Buffer => ({
  counters: new Map(),
  histograms: new Map(),
  observations: 0,
  startedAt: null,
  dropped: 0,
});

let buffer = emptyBuffer();

function labelValues<N extends CounterName | HistogramName>(name: N, labels: LabelsOf<N>): string[] {
  const values = labels as Record<string, string>;
  return METRICS[name].labels.map((label) => boundLabelValue(values[label] ?? ""));
}

function touch(): boolean {
  if (buffer.counters.size + buffer.histograms.size >= MAX_BUFFERED_SERIES) {
    buffer.dropped += 1;
    return false;
  }
  return true;
}

function observed(): void {
  buffer.observations += 1;
  buffer.startedAt ??= metricsClock.now();
}

export function incrementCounter<N extends CounterName>(name: N, labels: LabelsOf<N>, by = 1): void {
  if (!(by > 0) || !Number.isFinite(by)) return;
  const values = labelValues(name, labels);
  const key = seriesKey(name, values);
  const cell = buffer.counters.get(key);
  if (cell) cell.value += by;
  else if (touch()) buffer.counters.set(key, { name, labels: values, value: by });
  else return;
  observed();
}

export function observeHistogram<N extends HistogramName>(name: N, labels: LabelsOf<N>, value: number): void {
  if (!Number.isFinite(value)) return;
  const def = METRICS[name] as HistogramDef;
  const values = labelValues(name, labels);
  const key = seriesKey(name, values);
  let cell = buffer.histograms.get(key);
  if (!cell) {
    if (!touch()) return;
    cell = { name, labels: values, buckets: new Array(def.buckets.length + 1).fill(0), sum: 0, count: 0 };
    buffer.histograms.set(key, cell);
  }
  const index = def.buckets.findIndex((bound) => value <= bound);
  const slot = index === -1 ? def.buckets.length : index;
  cell.buckets[slot] = (cell.buckets[slot] ?? 0) + 1;
  cell.sum += value;
  cell.count += 1;
  observed();
}

// ---------------------------------------------------------------------------
// What the rest of the code records

const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** One answered request. `route` must be the matched pattern (e.g. /api/v1/tasks/:id), never the path. */
export function recordRequest(request: {
  method: string;
  route: string;
  status: number;
  durationMs: number;
}) {
  const method = KNOWN_METHODS.has(request.method) ? request.method : "OTHER";
  const statusClass =
    request.status >= 100 && request.status < 600 ? `${Math.floor(request.status / 100)}xx` : "other";
  incrementCounter("http_requests_total", { method, route: request.route, status_class: statusClass });
  observeHistogram(
    "http_request_duration_seconds",
    { method, route: request.route },
    request.durationMs / 1000,
  );
}

/** A task run ended and left the task in `status` (SUCCESS, RETRY, FAILURE or REVOKED). */
export function countTaskRun(type: string, status: string): void {
  incrementCounter("task_runs_total", { type, status });
}

/** The onEmailEvent listener: one count per delivery attempt. */
export function countEmailEvent(event: EmailEvent): void {
  if (event.outcome === "sent") {
    incrementCounter("emails_sent_total", { template: event.template, provider: event.provider });
  } else {
    incrementCounter("emails_failed_total", { template: event.template, final: String(event.final) });
  }
}

export const webhookOutcomes = ["processed", "duplicate", "ignored", "failed"] as const;
export type WebhookOutcome = (typeof webhookOutcomes)[number];

/** Event types look like `checkout.session.completed`; anything else is counted as `_invalid`. */
const EVENT_TYPE = /^[a-z0-9_]+(\.[a-z0-9_]+)*$/;

/**
 * The webhook seam: call once per webhook event received (after its signature is
 * verified), e.g. `countWebhookEvent("invoice.paid")`, or with the outcome
 * `duplicate` for an event id already processed. Stripe by default.
 */
export function countWebhookEvent(
  type: string,
  outcome: WebhookOutcome = "processed",
  provider: "stripe" = "stripe",
): void {
  const eventType = type.length <= 100 && EVENT_TYPE.test(type) ? type : "_invalid";
  incrementCounter("webhook_events_total", { provider, type: eventType, outcome });
}

/**
 * What became of one outbound webhook attempt (src/modules/webhooks): the delivery
 * status it left (`succeeded`, `retrying`, `failed`), except for the two final
 * outcomes where nothing was sent, which would otherwise hide among receiver failures:
 * `refused` (the URL broke the SSRF rules at delivery time) and `skipped` (the
 * endpoint is disabled). Both leave the delivery `failed`.
 */
export const webhookDeliveryOutcomes = ["succeeded", "retrying", "failed", "refused", "skipped"] as const;
export type WebhookDeliveryOutcome = (typeof webhookDeliveryOutcomes)[number];

export function countWebhookDelivery(outcome: WebhookDeliveryOutcome): void {
  incrementCounter("webhook_deliveries_total", { outcome });
}

/**
 * What the consumer did with one queue message: `ack` (handled, or dropped because no
 * handler could ever accept it), `retry` (delivered again after a backoff) or
 * `dead_letter` (failed on its last attempt, so the queue moves it to its dead-letter
 * queue).
 */
export const queueOutcomes = ["ack", "retry", "dead_letter"] as const;
export type QueueOutcome = (typeof queueOutcomes)[number];

/** `queue` must come from a fixed list (the consumer's queueLabel()), never a raw name. */
export function countQueueMessage(queue: string, outcome: QueueOutcome): void {
  incrementCounter("queue_messages_total", { queue, outcome });
}

// ---------------------------------------------------------------------------
// Flushing

type Taken = { batch: MetricsBatch; observations: number; dropped: number };

/** Swaps the buffer out and returns its contents, or null when there is nothing to send. */
function takeBatch(): Taken | null {
  if (buffer.observations === 0 && buffer.dropped === 0) return null;
  const taken = buffer;
  buffer = emptyBuffer();
  return {
    batch: { counters: [...taken.counters.values()], histograms: [...taken.histograms.values()] },
    observations: taken.observations,
    dropped: taken.dropped,
  };
}

/** A batch whose send failed goes back into the buffer, to be sent with the next one. */
function mergeBack({ batch, observations }: Taken): void {
  buffer.observations += observations;
  buffer.startedAt ??= metricsClock.now();
  for (const delta of batch.counters) {
    const key = seriesKey(delta.name, delta.labels);
    const cell = buffer.counters.get(key);
    if (cell) cell.value += delta.value;
    else if (touch()) buffer.counters.set(key, { ...delta, labels: [...delta.labels] });
  }
  for (const delta of batch.histograms) {
    const key = seriesKey(delta.name, delta.labels);
    const cell = buffer.histograms.get(key);
    if (cell) {
      delta.buckets.forEach((n, i) => {
        cell.buckets[i] = (cell.buckets[i] ?? 0) + n;
      });
      cell.sum += delta.sum;
      cell.count += delta.count;
    } else if (touch()) {
      buffer.histograms.set(key, { ...delta, buckets: [...delta.buckets] });
    }
  }
}

/** Whether the current batch should be sent now. */
export function flushDue(now = metricsClock.now()): boolean {
  if (buffer.observations === 0) return false;
  return buffer.observations >= FLUSH_AFTER_OBSERVATIONS || now - (buffer.startedAt ?? now) >= FLUSH_AFTER_MS;
}

/**
 * Sends whatever is buffered. Never throws: a send that fails (the collector did not
 * answer) is logged and merged back; a batch the collector refuses (it does not fit
 * the registry, a bug) is logged and dropped, since sending it again cannot succeed.
 */
export async function flushMetrics(env: Pick<Bindings, "METRICS">, logger?: Logger): Promise<void> {
  const taken = takeBatch();
  if (!taken) return;
  if (taken.dropped > 0) {
    logger?.warn("metrics buffer full; observations of new label sets dropped", { dropped: taken.dropped });
  }
  if (taken.batch.counters.length === 0 && taken.batch.histograms.length === 0) return;
  let result: IngestResult;
  try {
    result = await metricsSink.send(env, taken.batch);
  } catch (error) {
    mergeBack(taken);
    logger?.error("metrics flush failed; kept for the next flush", { error: serializeError(error) });
    return;
  }
  if (!result.accepted)
    logger?.error("metrics batch refused by the collector; dropped", { error: result.error });
}

/** The flush to hand to waitUntil when the batch is due, or null. */
export function flushMetricsIfDue(env: Pick<Bindings, "METRICS">, logger?: Logger): Promise<void> | null {
  return flushDue() ? flushMetrics(env, logger) : null;
}

/** Test hook: what is buffered right now (observations and distinct series). */
export function bufferedObservations(): number {
  return buffer.observations;
}
