/**
 * Every metric the isolates record, declared once: name, help text, type, label
 * names and (histograms) bucket bounds. The recorder refuses anything not declared
 * here and the collector validates each flushed batch against it, so neither a typo
 * nor a forged RPC can invent a metric, a label name or an unbounded label set.
 *
 * Label values are bounded at the source (route patterns, never paths; status
 * classes, never codes; known methods) and again in the collector, which folds any
 * label set beyond MAX_SERIES_PER_METRIC into one `_overflow` series.
 */

export type CounterDef = { type: "counter"; help: string; labels: readonly string[] };
export type HistogramDef = {
  type: "histogram";
  help: string;
  labels: readonly string[];
  /** Upper bounds in ascending order; `+Inf` is implied. */
  buckets: readonly number[];
};
export type MetricDef = CounterDef | HistogramDef;

/** Seconds; from 5 ms (a KV read) to 10 s (a slow D1 batch). */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

export const METRICS = {
  http_requests_total: {
    type: "counter",
    help: "HTTP requests answered, by method, route pattern and status class.",
    labels: ["method", "route", "status_class"],
  },
  http_request_duration_seconds: {
    type: "histogram",
    help: "Time from the first middleware to the response, by method and route pattern.",
    labels: ["method", "route"],
    buckets: LATENCY_BUCKETS,
  },
  task_runs_total: {
    type: "counter",
    help: "Background task runs that ended, by task type and the status the run left the task in.",
    labels: ["type", "status"],
  },
  emails_sent_total: {
    type: "counter",
    help: "Emails the provider accepted, by template and provider.",
    labels: ["template", "provider"],
  },
  emails_failed_total: {
    type: "counter",
    help: "Email delivery attempts that failed, by template and whether it was the last attempt (dead-lettered next).",
    labels: ["template", "final"],
  },
  webhook_events_total: {
    type: "counter",
    help: "Webhook events received, by provider, event type and outcome.",
    labels: ["provider", "type", "outcome"],
  },
  queue_messages_total: {
    type: "counter",
    help: "Queue messages consumed, by queue (its wrangler.toml name without the environment suffix; other for a queue not configured) and outcome: ack (done, or dropped as malformed), retry (delivered again later) or dead_letter (failed its last attempt: moved to the dead-letter queue).",
    labels: ["queue", "outcome"],
  },
  webhook_deliveries_total: {
    type: "counter",
    help: "Outbound webhook delivery attempts, by outcome: succeeded (2xx), retrying (failed, another attempt scheduled), failed (failed, none left: schedule exhausted or a manual retry), refused (not sent: the URL broke the SSRF rules) or skipped (not sent: the endpoint is disabled).",
    labels: ["outcome"],
  },
} as const satisfies Record<string, MetricDef>;

export type MetricName = keyof typeof METRICS;
export type CounterName = {
  [K in MetricName]: (typeof METRICS)[K]["type"] extends "counter" ? K : never;
}[MetricName];
export type HistogramName = {
  [K in MetricName]: (typeof METRICS)[K]["type"] extends "histogram" ? K : never;
}[MetricName];
export type LabelsOf<N extends MetricName> = Record<(typeof METRICS)[N]["labels"][number], string>;

/** Distinct label sets kept per metric; more are folded into one `_overflow` series. */
export const MAX_SERIES_PER_METRIC = 2_000;
export const OVERFLOW_LABEL_VALUE = "_overflow";
export const MAX_LABEL_VALUE_LENGTH = 128;

export function isMetricName(name: string): name is MetricName {
  return Object.hasOwn(METRICS, name);
}

/**
 * A label value safe to keep: printable, at most MAX_LABEL_VALUE_LENGTH characters.
 * Control characters become "_" (the exposition escapes quotes and backslashes itself).
 */
export function boundLabelValue(value: string): string {
  const printable = value.replace(/\p{Cc}/gu, "_");
  return printable.length > MAX_LABEL_VALUE_LENGTH ? printable.slice(0, MAX_LABEL_VALUE_LENGTH) : printable;
}

/** A stable key for one label set of one metric (values in the metric's declared label order). */
export function seriesKey(name: MetricName, values: readonly string[]): string {
  return JSON.stringify([name, ...values]);
}
