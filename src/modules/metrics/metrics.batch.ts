/**
 * What an isolate flushes to the METRICS collector: its counter increments and
 * histogram observations since the last flush, already aggregated per label set.
 * Label values travel as arrays in the metric's declared label order.
 */
import { z } from "zod";
import { METRICS, type MetricName } from "./metrics.registry";

export type CounterDelta = { name: MetricName; labels: string[]; value: number };
export type HistogramDelta = {
  name: MetricName;
  labels: string[];
  /** Observations per bucket, NOT cumulative: one entry per bound, then one for +Inf. */
  buckets: number[];
  sum: number;
  count: number;
};
export type MetricsBatch = { counters: CounterDelta[]; histograms: HistogramDelta[] };

const MAX_DELTAS = 10_000;
const labelValues = z.array(z.string().max(256)).max(8);
const count = z.number().finite().nonnegative();

const batchSchema = z.object({
  counters: z.array(z.object({ name: z.string(), labels: labelValues, value: count })).max(MAX_DELTAS),
  histograms: z
    .array(
      z.object({
        name: z.string(),
        labels: labelValues,
        buckets: z.array(z.number().int().nonnegative()).max(64),
        sum: z.number().finite(),
        count: z.number().int().nonnegative(),
      }),
    )
    .max(MAX_DELTAS),
});

/**
 * Checks a batch against the registry: known names of the right type, the declared
 * number of labels, bucket arrays of the declared length whose total is `count`.
 * Returns the batch, or a message saying what is wrong.
 */
export function validateBatch(input: unknown): MetricsBatch | string {
  const parsed = batchSchema.safeParse(input);
  if (!parsed.success) return `malformed batch: ${parsed.error.issues[0]?.message ?? "invalid"}`;
  for (const delta of parsed.data.counters) {
    const def = (METRICS as Record<string, (typeof METRICS)[MetricName]>)[delta.name];
    if (def?.type !== "counter") return `unknown counter ${delta.name}`;
    if (delta.labels.length !== def.labels.length) return `wrong label count for ${delta.name}`;
  }
  for (const delta of parsed.data.histograms) {
    const def = (METRICS as Record<string, (typeof METRICS)[MetricName]>)[delta.name];
    if (def?.type !== "histogram") return `unknown histogram ${delta.name}`;
    if (delta.labels.length !== def.labels.length) return `wrong label count for ${delta.name}`;
    if (delta.buckets.length !== def.buckets.length + 1) return `wrong bucket count for ${delta.name}`;
    if (delta.buckets.reduce((total, n) => total + n, 0) !== delta.count) {
      return `bucket counts of ${delta.name} do not add up to its count`;
    }
  }
  return parsed.data as MetricsBatch;
}
