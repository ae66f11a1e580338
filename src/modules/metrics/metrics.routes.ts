import { z } from "@hono/zod-openapi";
import { defineRoute, problemResponse } from "../../lib/openapi";
import { EXPOSITION_CONTENT_TYPE } from "./metrics.exposition";

export const METRICS_SECURITY_SCHEME = {
  type: "http",
  scheme: "bearer",
  description:
    "The METRICS_TOKEN secret, as `Authorization: Bearer <token>`. Required only when the deployment sets METRICS_TOKEN.",
} as const;

export const scrape = defineRoute({
  method: "get",
  path: "/metrics",
  tags: ["Operations"],
  summary: "Prometheus metrics",
  description: [
    "Prometheus text exposition format 0.0.4: requests by method, route pattern and status class",
    "(`http_requests_total`), latency histograms (`http_request_duration_seconds`), task runs by outcome",
    "(`task_runs_total`), emails sent and failed (`emails_sent_total`, `emails_failed_total`), webhook events",
    "(`webhook_events_total`) and tasks by current status (`tasks_in_status`, read from D1 at scrape time).",
    "Totals are aggregated across every isolate by the METRICS Durable Object; isolates flush in batches, so a",
    "scrape may miss up to 10 s of other isolates' traffic. Requires `Bearer <METRICS_TOKEN>` when that secret is",
    "set. Scrapes are not counted in the request metrics; they are rate limited like any anonymous request (per IP).",
  ].join(" "),
  security: [{ metricsToken: [] }],
  responses: {
    200: {
      description: "The metrics.",
      content: {
        [EXPOSITION_CONTENT_TYPE]: {
          schema: z.string(),
          example: [
            "# HELP http_requests_total HTTP requests answered, by method, route pattern and status class.",
            "# TYPE http_requests_total counter",
            'http_requests_total{method="GET",route="/api/v1/tasks/:id",status_class="2xx"} 42',
            "# HELP http_request_duration_seconds Time from the first middleware to the response, by method and route pattern.",
            "# TYPE http_request_duration_seconds histogram",
            'http_request_duration_seconds_bucket{method="GET",route="/api/v1/tasks/:id",le="0.005"} 30',
            'http_request_duration_seconds_bucket{method="GET",route="/api/v1/tasks/:id",le="+Inf"} 42',
            'http_request_duration_seconds_sum{method="GET",route="/api/v1/tasks/:id"} 0.318',
            'http_request_duration_seconds_count{method="GET",route="/api/v1/tasks/:id"} 42',
            "",
          ].join("\n"),
        },
      },
    },
    401: problemResponse(401, "METRICS_TOKEN is set and the request did not carry it."),
    429: problemResponse(429),
    503: problemResponse(503, "The metrics collector (Durable Object) did not answer."),
  },
});
