/**
 * A strict parser of the Prometheus text exposition format 0.0.4, written from the
 * format's specification (https://prometheus.io/docs/instrumenting/exposition_formats/).
 * It throws, naming the line, on anything a scraper could reject or misread:
 *
 * - metric and label names outside [a-zA-Z_:][a-zA-Z0-9_:]* / [a-zA-Z_][a-zA-Z0-9_]*;
 * - label values with an escape other than \\, \" and \n, or unterminated;
 * - a label repeated in one sample, a sample repeated (same name and labels);
 * - values Go's ParseFloat would refuse; timestamps that are not integers;
 * - HELP or TYPE given twice for a name, TYPE after the family's first sample, an
 *   unknown type, a family whose samples are not one contiguous group;
 * - histograms: a `_bucket` without `le`, buckets out of order or not cumulative, no
 *   `le="+Inf"` bucket, `_count` missing or different from the +Inf bucket, `_sum`
 *   missing; counters that are negative or NaN;
 * - text that does not end with a newline.
 */

export type Labels = Record<string, string>;
export type Sample = { name: string; labels: Labels; value: number; timestamp?: number };
export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";
export type Family = { name: string; type: MetricType; help?: string; samples: Sample[] };

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|Inf|inf|NaN|nan)$/;
const TYPES: readonly MetricType[] = ["counter", "gauge", "histogram", "summary", "untyped"];

export class PrometheusFormatError extends Error {
  constructor(line: number, message: string, text?: string) {
    super(`line ${line}: ${message}${text === undefined ? "" : ` (${JSON.stringify(text)})`}`);
    this.name = "PrometheusFormatError";
  }
}

export function parseFloatStrict(raw: string): number | null {
  if (!FLOAT.test(raw)) return null;
  const lower = raw.toLowerCase();
  if (lower === "nan" || lower === "+nan" || lower === "-nan") return Number.NaN;
  if (lower === "inf" || lower === "+inf") return Number.POSITIVE_INFINITY;
  if (lower === "-inf") return Number.NEGATIVE_INFINITY;
  return Number(raw);
}

/** Reads `{a="x",b="y"}` starting at `start` (the `{`); returns the labels and the index after `}`. */
function readLabels(text: string, start: number, lineNo: number): { labels: Labels; end: number } {
  const labels: Labels = {};
  let i = start + 1;
  const skipBlanks = () => {
    while (text[i] === " " || text[i] === "\t") i++;
  };
  skipBlanks();
  if (text[i] === "}") return { labels, end: i + 1 };
  for (;;) {
    skipBlanks();
    const nameStart = i;
    while (i < text.length && /[a-zA-Z0-9_]/.test(text[i] ?? "")) i++;
    const name = text.slice(nameStart, i);
    if (!LABEL_NAME.test(name)) throw new PrometheusFormatError(lineNo, "invalid label name", name);
    if (Object.hasOwn(labels, name)) throw new PrometheusFormatError(lineNo, "label repeated", name);
    skipBlanks();
    if (text[i] !== "=") throw new PrometheusFormatError(lineNo, `expected "=" after label ${name}`);
    i++;
    skipBlanks();
    if (text[i] !== '"') throw new PrometheusFormatError(lineNo, `label ${name}: value must be quoted`);
    i++;
    let value = "";
    for (;;) {
      const ch = text[i];
      if (ch === undefined) throw new PrometheusFormatError(lineNo, `label ${name}: unterminated value`);
      if (ch === '"') break;
      if (ch === "\\") {
        const next = text[i + 1];
        if (next === "\\") value += "\\";
        else if (next === '"') value += '"';
        else if (next === "n") value += "\n";
        else throw new PrometheusFormatError(lineNo, `label ${name}: invalid escape \\${next ?? ""}`);
        i += 2;
        continue;
      }
      value += ch;
      i++;
    }
    i++;
    labels[name] = value;
    skipBlanks();
    if (text[i] === ",") {
      i++;
      skipBlanks();
      if (text[i] === "}") return { labels, end: i + 1 };
      continue;
    }
    if (text[i] === "}") return { labels, end: i + 1 };
    throw new PrometheusFormatError(lineNo, `expected "," or "}" after label ${name}`);
  }
}

function parseSample(line: string, lineNo: number): Sample {
  let i = 0;
  while (i < line.length && /[a-zA-Z0-9_:]/.test(line[i] ?? "")) i++;
  const name = line.slice(0, i);
  if (!METRIC_NAME.test(name)) throw new PrometheusFormatError(lineNo, "invalid metric name", name);
  let labels: Labels = {};
  if (line[i] === "{") {
    const read = readLabels(line, i, lineNo);
    labels = read.labels;
    i = read.end;
  }
  const rest = line.slice(i);
  if (!/^[ \t]/.test(rest))
    throw new PrometheusFormatError(lineNo, "expected a blank before the value", line);
  const tokens = rest.trim().split(/[ \t]+/);
  if (tokens.length < 1 || tokens.length > 2) {
    throw new PrometheusFormatError(lineNo, "expected a value and an optional timestamp", line);
  }
  const value = parseFloatStrict(tokens[0] ?? "");
  if (value === null) throw new PrometheusFormatError(lineNo, "invalid value", tokens[0]);
  const sample: Sample = { name, labels, value };
  if (tokens[1] !== undefined) {
    if (!/^-?\d+$/.test(tokens[1])) throw new PrometheusFormatError(lineNo, "invalid timestamp", tokens[1]);
    sample.timestamp = Number(tokens[1]);
  }
  return sample;
}

const unescapeHelp = (text: string, lineNo: number) =>
  text.replace(/\\(.?)/g, (_, ch: string) => {
    if (ch === "\\") return "\\";
    if (ch === "n") return "\n";
    throw new PrometheusFormatError(lineNo, `invalid escape in HELP: \\${ch}`);
  });

/** The family a sample belongs to: `x_bucket`/`x_sum`/`x_count` of a histogram (or summary) `x`, else itself. */
function familyOf(name: string, types: Map<string, MetricType>): string {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const type = types.get(base);
    if (type === "histogram" || (type === "summary" && suffix !== "_bucket")) return base;
  }
  return name;
}

const labelKey = (labels: Labels, without?: string) =>
  JSON.stringify(
    Object.entries(labels)
      .filter(([name]) => name !== without)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );

function checkHistogram(family: Family): void {
  const groups = new Map<string, { buckets: Array<[number, number]>; sum?: number; count?: number }>();
  for (const sample of family.samples) {
    const group = groups.get(labelKey(sample.labels, "le")) ?? { buckets: [] };
    groups.set(labelKey(sample.labels, "le"), group);
    if (sample.name === `${family.name}_bucket`) {
      const le = sample.labels.le;
      if (le === undefined) throw new Error(`${family.name}: a _bucket sample has no le label`);
      const bound = parseFloatStrict(le);
      if (bound === null || Number.isNaN(bound)) throw new Error(`${family.name}: invalid le "${le}"`);
      group.buckets.push([bound, sample.value]);
    } else if (sample.name === `${family.name}_sum`) {
      group.sum = sample.value;
    } else if (sample.name === `${family.name}_count`) {
      group.count = sample.value;
    } else {
      throw new Error(`${family.name}: unexpected sample ${sample.name} in a histogram`);
    }
  }
  for (const [key, group] of groups) {
    const where = `${family.name}${key}`;
    if (group.buckets.length === 0) throw new Error(`${where}: no buckets`);
    for (let i = 1; i < group.buckets.length; i++) {
      const [prevBound, prevCount] = group.buckets[i - 1] as [number, number];
      const [bound, bucketCount] = group.buckets[i] as [number, number];
      if (!(bound > prevBound)) throw new Error(`${where}: buckets not in increasing le order`);
      if (bucketCount < prevCount) throw new Error(`${where}: buckets are not cumulative`);
    }
    const last = group.buckets.at(-1) as [number, number];
    if (last[0] !== Number.POSITIVE_INFINITY) throw new Error(`${where}: no le="+Inf" bucket`);
    if (group.sum === undefined) throw new Error(`${where}: no _sum`);
    if (group.count === undefined) throw new Error(`${where}: no _count`);
    if (group.count !== last[1]) throw new Error(`${where}: _count ${group.count} ≠ +Inf bucket ${last[1]}`);
  }
}

export function parsePrometheusText(text: string): Map<string, Family> {
  if (text.length > 0 && !text.endsWith("\n")) throw new PrometheusFormatError(0, "must end with a newline");
  const lines = text.split("\n");
  lines.pop(); // the empty string after the final newline
  const types = new Map<string, MetricType>();
  const helps = new Map<string, string>();
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  let current: string | null = null;
  const closed = new Set<string>();

  const family = (name: string): Family => {
    let found = families.get(name);
    if (!found) {
      found = { name, type: types.get(name) ?? "untyped", help: helps.get(name), samples: [] };
      families.set(name, found);
    }
    return found;
  };

  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.replace(/^[ \t]+/, "");
    if (line.trim() === "") return;
    if (line.startsWith("#")) {
      const match = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
      if (!match) return; // a plain comment
      const [, keyword, name = "", rest = ""] = match;
      if (!METRIC_NAME.test(name)) throw new PrometheusFormatError(lineNo, "invalid metric name", name);
      if (keyword === "HELP") {
        if (helps.has(name)) throw new PrometheusFormatError(lineNo, "HELP given twice", name);
        helps.set(name, unescapeHelp(rest, lineNo));
        const existing = families.get(name);
        if (existing) existing.help = helps.get(name);
        return;
      }
      if (types.has(name)) throw new PrometheusFormatError(lineNo, "TYPE given twice", name);
      if (families.get(name)?.samples.length) {
        throw new PrometheusFormatError(lineNo, "TYPE after the family's first sample", name);
      }
      const type = rest.trim() as MetricType;
      if (!TYPES.includes(type)) throw new PrometheusFormatError(lineNo, "unknown metric type", rest);
      types.set(name, type);
      family(name).type = type;
      return;
    }
    const sample = parseSample(line, lineNo);
    const name = familyOf(sample.name, types);
    if (current !== name) {
      if (closed.has(name))
        throw new PrometheusFormatError(lineNo, "family samples are not contiguous", name);
      if (current !== null) closed.add(current);
      current = name;
    }
    const key = `${sample.name}${labelKey(sample.labels)}`;
    if (seen.has(key)) throw new PrometheusFormatError(lineNo, "sample repeated", key);
    seen.add(key);
    const owner = family(name);
    if (owner.type === "counter" && (Number.isNaN(sample.value) || sample.value < 0)) {
      throw new PrometheusFormatError(lineNo, "a counter must be a non-negative number", line);
    }
    owner.samples.push(sample);
  });

  for (const owner of families.values()) if (owner.type === "histogram") checkHistogram(owner);
  return families;
}

const sameLabels = (a: Labels, b: Labels) => labelKey(a) === labelKey(b);

/** The value of the sample `name` with exactly `labels`, or undefined. */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Labels = {},
): number | undefined {
  for (const owner of families.values()) {
    const found = owner.samples.find((sample) => sample.name === name && sameLabels(sample.labels, labels));
    if (found) return found.value;
  }
  return undefined;
}

/** A histogram series: cumulative counts by `le`, `_sum` and `_count`; undefined when absent. */
export function histogramSeries(families: Map<string, Family>, name: string, labels: Labels) {
  const owner = families.get(name);
  if (owner?.type !== "histogram") return undefined;
  const buckets = new Map<string, number>();
  for (const sample of owner.samples) {
    if (sample.name !== `${name}_bucket`) continue;
    const { le, ...rest } = sample.labels;
    if (le !== undefined && sameLabels(rest, labels)) buckets.set(le, sample.value);
  }
  if (buckets.size === 0) return undefined;
  return {
    buckets,
    sum: sampleValue(families, `${name}_sum`, labels) ?? Number.NaN,
    count: sampleValue(families, `${name}_count`, labels) ?? Number.NaN,
  };
}
