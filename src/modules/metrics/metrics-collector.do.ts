import { DurableObject } from "cloudflare:workers";
import { type MetricsBatch, validateBatch } from "./metrics.batch";
import type { HistogramSeries, MetricFamily, ScalarSeries } from "./metrics.exposition";
import {
  type HistogramDef,
  MAX_SERIES_PER_METRIC,
  METRICS,
  type MetricName,
  OVERFLOW_LABEL_VALUE,
} from "./metrics.registry";

type Def = (typeof METRICS)[MetricName];

export type IngestResult =
  | { accepted: true; counters: number; histograms: number }
  | { accepted: false; error: string };

/**
 * One object (idFromName("global")) that every isolate flushes its batches to and
 * GET /metrics reads from. Totals live in the object's SQLite storage, so they
 * survive the object being evicted or moved; each batch is applied in one
 * synchronous transaction (no await inside), so concurrent flushes never lose an
 * increment. A label set beyond MAX_SERIES_PER_METRIC for its metric is counted in
 * one `_overflow` series instead: the exposition's size stays bounded whatever the
 * isolates send.
 */
export class MetricsCollector extends DurableObject<Cloudflare.Env> {
  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS counters (
      name TEXT NOT NULL, labels TEXT NOT NULL, value REAL NOT NULL, PRIMARY KEY (name, labels))`);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS histograms (
      name TEXT NOT NULL, labels TEXT NOT NULL, buckets TEXT NOT NULL, sum REAL NOT NULL,
      count INTEGER NOT NULL, PRIMARY KEY (name, labels))`);
  }

  async ping(): Promise<"pong"> {
    return "pong";
  }

  /**
   * Adds an isolate's batch to the totals, or refuses all of it (nothing applied) when
   * it does not fit the registry. A refusal is an answer, not a thrown error: the
   * caller logs it, and retrying the same batch could never succeed.
   */
  async ingest(input: unknown): Promise<IngestResult> {
    const batch = validateBatch(input);
    if (typeof batch === "string") return { accepted: false, error: batch };
    this.ctx.storage.transactionSync(() => this.apply(batch));
    return { accepted: true, counters: batch.counters.length, histograms: batch.histograms.length };
  }

  /** Every registered metric with its stored series, ready to render. */
  async families(): Promise<MetricFamily[]> {
    const sql = this.ctx.storage.sql;
    const counters = sql
      .exec<{ name: string; labels: string; value: number }>("SELECT name, labels, value FROM counters")
      .toArray();
    const histograms = sql
      .exec<{ name: string; labels: string; buckets: string; sum: number; count: number }>(
        "SELECT name, labels, buckets, sum, count FROM histograms",
      )
      .toArray();
    return (Object.entries(METRICS) as Array<[MetricName, Def]>).map(([name, def]) => {
      const named = (values: string) => labelObject(def, JSON.parse(values) as string[]);
      if (def.type === "histogram") {
        const series: HistogramSeries[] = histograms
          .filter((row) => row.name === name)
          .map((row) => ({
            labels: named(row.labels),
            buckets: JSON.parse(row.buckets) as number[],
            sum: row.sum,
            count: row.count,
          }));
        return { name, help: def.help, type: "histogram", bounds: def.buckets, series };
      }
      const series: ScalarSeries[] = counters
        .filter((row) => row.name === name)
        .map((row) => ({ labels: named(row.labels), value: row.value }));
      return { name, help: def.help, type: "counter", series };
    });
  }

  private apply(batch: MetricsBatch): void {
    const sql = this.ctx.storage.sql;
    for (const delta of batch.counters) {
      const labels = this.admit("counters", delta.name, delta.labels);
      sql.exec(
        `INSERT INTO counters (name, labels, value) VALUES (?, ?, ?)
         ON CONFLICT (name, labels) DO UPDATE SET value = value + excluded.value`,
        delta.name,
        labels,
        delta.value,
      );
    }
    for (const delta of batch.histograms) {
      const def = METRICS[delta.name] as HistogramDef;
      const labels = this.admit("histograms", delta.name, delta.labels);
      const stored = sql
        .exec<{ buckets: string; sum: number; count: number }>(
          "SELECT buckets, sum, count FROM histograms WHERE name = ? AND labels = ?",
          delta.name,
          labels,
        )
        .toArray()[0];
      const previous = stored ? (JSON.parse(stored.buckets) as number[]) : [];
      // Bucket bounds changed by a deploy: the series restarts (Prometheus treats it as a reset).
      const keep = previous.length === def.buckets.length + 1;
      const buckets = delta.buckets.map((n, i) => n + (keep ? (previous[i] ?? 0) : 0));
      sql.exec(
        `INSERT INTO histograms (name, labels, buckets, sum, count) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (name, labels) DO UPDATE SET buckets = excluded.buckets, sum = excluded.sum, count = excluded.count`,
        delta.name,
        labels,
        JSON.stringify(buckets),
        delta.sum + (keep && stored ? stored.sum : 0),
        delta.count + (keep && stored ? stored.count : 0),
      );
    }
  }

  /** The stored label key for `values`: itself when the series exists or fits, else the overflow series. */
  private admit(table: "counters" | "histograms", name: MetricName, values: string[]): string {
    const key = JSON.stringify(values);
    const sql = this.ctx.storage.sql;
    const exists = sql.exec(`SELECT 1 FROM ${table} WHERE name = ? AND labels = ?`, name, key).toArray();
    if (exists.length > 0) return key;
    const [row] = sql
      .exec<{ n: number }>(`SELECT count(*) AS n FROM ${table} WHERE name = ?`, name)
      .toArray();
    if ((row?.n ?? 0) < MAX_SERIES_PER_METRIC) return key;
    return JSON.stringify(values.map(() => OVERFLOW_LABEL_VALUE));
  }
}

function labelObject(def: Def, values: string[]): Record<string, string> {
  return Object.fromEntries(def.labels.map((label, i) => [label, values[i] ?? ""]));
}
