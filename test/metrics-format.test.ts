/**
 * The text exposition renderer and the strict parser the /metrics tests read it with:
 * the parser is only worth trusting if it refuses what the format forbids.
 */
import { describe, expect, it } from "vitest";
import { type MetricFamily, renderExposition } from "../src/modules/metrics/metrics.exposition";
import { histogramSeries, parsePrometheusText, sampleValue } from "./support/prometheus";

const VALID = [
  "# A plain comment",
  "# HELP http_requests_total Requests.\\nSecond line with a \\\\ backslash.",
  "# TYPE http_requests_total counter",
  'http_requests_total{method="GET",route="/a"} 3',
  'http_requests_total{method="POST",route="/a\\"b\\\\c\\nd"} 1e3 1700000000000',
  "",
  "# TYPE latency histogram",
  'latency_bucket{route="/a",le="0.1"} 1',
  'latency_bucket{route="/a",le="1"} 3',
  'latency_bucket{route="/a",le="+Inf"} 4',
  'latency_sum{route="/a"} 2.5',
  'latency_count{route="/a"} 4',
  "# TYPE temperature gauge",
  "temperature -12.5",
  'temperature_other{a="x",} NaN',
  "",
].join("\n");

describe("the strict parser", () => {
  it("reads a valid exposition: HELP escapes, label escapes, timestamps, histograms", () => {
    const families = parsePrometheusText(VALID);
    expect(families.get("http_requests_total")).toMatchObject({
      type: "counter",
      help: "Requests.\nSecond line with a \\ backslash.",
    });
    expect(sampleValue(families, "http_requests_total", { method: "POST", route: '/a"b\\c\nd' })).toBe(1000);
    expect(families.get("http_requests_total")?.samples[1]?.timestamp).toBe(1700000000000);
    const latency = histogramSeries(families, "latency", { route: "/a" });
    expect(latency?.count).toBe(4);
    expect(latency?.sum).toBe(2.5);
    expect([...(latency?.buckets.entries() ?? [])]).toEqual([
      ["0.1", 1],
      ["1", 3],
      ["+Inf", 4],
    ]);
    expect(sampleValue(families, "temperature")).toBe(-12.5);
    expect(Number.isNaN(sampleValue(families, "temperature_other", { a: "x" }))).toBe(true);
  });

  /** [what is wrong, the text, what the error must say]: each refused for the intended reason. */
  const broken: Array<[string, string, RegExp]> = [
    ["no final newline", "x 1", /newline/],
    ["bad metric name", "1x 1\n", /invalid metric name/],
    ["bad label name", 'x{1a="b"} 1\n', /invalid label name/],
    ["unquoted label value", "x{a=b} 1\n", /must be quoted/],
    ["unterminated label value", 'x{a="b} 1\n', /unterminated/],
    ["invalid escape", 'x{a="\\t"} 1\n', /invalid escape/],
    ["repeated label", 'x{a="1",a="2"} 1\n', /label repeated/],
    ["missing value", 'x{a="1"}\n', /blank before the value/],
    ["bad value", "x one\n", /invalid value/],
    ["bad timestamp", "x 1 1.5\n", /invalid timestamp/],
    ["repeated sample", "x 1\nx 2\n", /sample repeated/],
    ["HELP twice", "# HELP x a\n# HELP x b\nx 1\n", /HELP given twice/],
    ["TYPE twice", "# TYPE x counter\n# TYPE x gauge\nx 1\n", /TYPE given twice/],
    ["TYPE after samples", "x 1\n# TYPE x counter\n", /TYPE after/],
    ["unknown type", "# TYPE x timer\nx 1\n", /unknown metric type/],
    ["interleaved families", '# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{z="1"} 2\n', /not contiguous/],
    ["negative counter", "# TYPE x counter\nx -1\n", /non-negative/],
    ["bucket without le", '# TYPE h histogram\nh_bucket{a="1"} 1\nh_sum 1\nh_count 1\n', /no le label/],
    [
      "buckets not cumulative",
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
      /not cumulative/,
    ],
    ["no +Inf bucket", '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', /\+Inf/],
    [
      "count differs from +Inf",
      '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n',
      /_count 3/,
    ],
    ["no _sum", '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_count 1\n', /no _sum/],
    [
      "buckets out of order",
      '# TYPE h histogram\nh_bucket{le="2"} 1\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
      /increasing le order/,
    ],
  ];

  it.each(broken)("refuses: %s", (_, text, reason) => {
    expect(() => parsePrometheusText(text)).toThrow(reason);
  });
});

describe("renderExposition", () => {
  const families: MetricFamily[] = [
    {
      name: "requests_total",
      help: 'Requests with "quotes", a \\ and a\nnewline.',
      type: "counter",
      series: [
        { labels: { route: '/a"b', method: "GET" }, value: 2 },
        { labels: { route: "/c\\d\ne", method: "GET" }, value: 5 },
      ],
    },
    {
      name: "latency_seconds",
      help: "Latency.",
      type: "histogram",
      bounds: [0.005, 0.5, 10],
      series: [{ labels: { route: "/a" }, buckets: [1, 0, 2, 1], sum: 12.75, count: 4 }],
    },
    { name: "empty_total", help: "Declared, nothing observed yet.", type: "counter", series: [] },
    { name: "queue_depth", help: "A gauge.", type: "gauge", series: [{ labels: {}, value: 0 }] },
  ];

  it("renders what the strict parser reads back exactly, escapes included", () => {
    const text = renderExposition(families);
    const parsed = parsePrometheusText(text);
    expect(parsed.get("requests_total")?.help).toBe('Requests with "quotes", a \\ and a\nnewline.');
    expect(sampleValue(parsed, "requests_total", { route: '/a"b', method: "GET" })).toBe(2);
    expect(sampleValue(parsed, "requests_total", { route: "/c\\d\ne", method: "GET" })).toBe(5);
    const latency = histogramSeries(parsed, "latency_seconds", { route: "/a" });
    expect([...(latency?.buckets.entries() ?? [])]).toEqual([
      ["0.005", 1],
      ["0.5", 1],
      ["10", 3],
      ["+Inf", 4],
    ]);
    expect(latency).toMatchObject({ sum: 12.75, count: 4 });
    expect(parsed.get("empty_total")).toMatchObject({ type: "counter", samples: [] });
    expect(sampleValue(parsed, "queue_depth")).toBe(0);
    expect(text.endsWith("\n")).toBe(true);
  });
});
