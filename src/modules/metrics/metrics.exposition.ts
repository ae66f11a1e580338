/**
 * Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/): per family one
 * `# HELP` and one `# TYPE` line, then its samples; histograms as cumulative
 * `_bucket` samples ending with `le="+Inf"`, then `_sum` and `_count`.
 */

export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export type Labels = Record<string, string>;
export type ScalarSeries = { labels: Labels; value: number };
export type HistogramSeries = {
  labels: Labels;
  /** Observations per bucket, not cumulative: one per bound, then one for +Inf. */
  buckets: number[];
  sum: number;
  count: number;
};

export type MetricFamily =
  | { name: string; help: string; type: "counter" | "gauge"; series: ScalarSeries[] }
  | { name: string; help: string; type: "histogram"; bounds: readonly number[]; series: HistogramSeries[] };

/** Go's ParseFloat reads these; +Inf/-Inf/NaN are spelled the way the format says. */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

const escapeLabelValue = (value: string) =>
  value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
const escapeHelp = (text: string) => text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");

function labelBlock(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels);
  if (extra) pairs.push(extra);
  if (pairs.length === 0) return "";
  return `{${pairs.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(",")}}`;
}

const byLabels = (a: { labels: Labels }, b: { labels: Labels }) => {
  const left = JSON.stringify(Object.entries(a.labels));
  const right = JSON.stringify(Object.entries(b.labels));
  return left < right ? -1 : left > right ? 1 : 0;
};

export function renderExposition(families: MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    if (family.type === "histogram") {
      for (const series of [...family.series].sort(byLabels)) {
        let cumulative = 0;
        family.bounds.forEach((bound, i) => {
          cumulative += series.buckets[i] ?? 0;
          lines.push(
            `${family.name}_bucket${labelBlock(series.labels, ["le", formatNumber(bound)])} ${cumulative}`,
          );
        });
        cumulative += series.buckets[family.bounds.length] ?? 0;
        lines.push(`${family.name}_bucket${labelBlock(series.labels, ["le", "+Inf"])} ${cumulative}`);
        lines.push(`${family.name}_sum${labelBlock(series.labels)} ${formatNumber(series.sum)}`);
        lines.push(`${family.name}_count${labelBlock(series.labels)} ${series.count}`);
      }
    } else {
      for (const series of [...family.series].sort(byLabels)) {
        lines.push(`${family.name}${labelBlock(series.labels)} ${formatNumber(series.value)}`);
      }
    }
  }
  return `${lines.join("\n")}\n`;
}
