import { z } from "@hono/zod-openapi";
import { defineRoute, problemResponse } from "../../lib/openapi";
import { EXPOSITION_CONTENT_TYPE } from "./metrics.exposition";
import { METRICS } from "./metrics.registry";

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
    "(`http_requests_total`; the pattern of the route that answered: `/api/v1/users/me`, never",
    "`/api/v1/users/:id` for it), latency histograms (`http_request_duration_seconds`), task runs by outcome",
    "(`task_runs_total`), queue messages by queue and outcome (`queue_messages_total`: `ack`, `retry`,",
    "`dead_letter`), emails sent and failed (`emails_sent_total`, `emails_failed_total`), webhook events received",
    "(`webhook_events_total`), outbound webhook attempts by outcome (`webhook_deliveries_total`: `succeeded`,",
    "`retrying`, `failed`, `refused`, `skipped`) and tasks by current status (`tasks_in_status`, read from D1 at",
    "scrape time).",
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
            `# HELP queue_messages_total ${METRICS.queue_messages_total.help}`,
            "# TYPE queue_messages_total counter",
            'queue_messages_total{queue="edge-api-jobs",outcome="ack"} 118',
            'queue_messages_total{queue="edge-api-jobs",outcome="retry"} 3',
            'queue_messages_total{queue="edge-api-jobs",outcome="dead_letter"} 1',
            `# HELP webhook_deliveries_total ${METRICS.webhook_deliveries_total.help}`,
            "# TYPE webhook_deliveries_total counter",
            'webhook_deliveries_total{outcome="succeeded"} 97',
            'webhook_deliveries_total{outcome="retrying"} 4',
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
