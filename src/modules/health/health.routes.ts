import { defineRoute, jsonContent, problemResponse } from "../../lib/openapi";
import { HealthReportSchema, healthExample, LivenessSchema, ServiceInfoSchema } from "./health.schemas";

const tags = ["Operations"];

export const serviceInfo = defineRoute({
  method: "get",
  path: "/",
  tags,
  summary: "Service name, version and links",
  responses: {
    200: jsonContent(ServiceInfoSchema, "What this service is and where its docs live.", {
      name: "Edge API Platform",
      version: "0.1.0",
      environment: "production",
      links: { health: "/health", openapi: "/api/openapi.json", docs: "/api/docs", redoc: "/api/redoc" },
    }),
  },
});

const healthResponses = {
  200: jsonContent(HealthReportSchema, "Every dependency answered.", healthExample),
  503: {
    description: "At least one dependency is down; `checks` says which.",
    content: {
      "application/json": {
        schema: HealthReportSchema,
        example: {
          ...healthExample,
          status: "down",
          checks: {
            ...healthExample.checks,
            d1: { status: "down", latency_ms: 3000.4, error: "timed out after 3000 ms" },
          },
        },
      },
    },
  },
};

export const health = defineRoute({
  method: "get",
  path: "/health",
  tags,
  summary: "Check D1, both KV namespaces, R2, both queue producers and the email provider's settings",
  description:
    "Exercises each binding (a D1 query, KV reads, an R2 head, a queue send) with a 3 s timeout each. `email_provider` is down when EMAIL_PROVIDER lacks its key or binding (the error names it); the provider's API itself is not called. Use /health/live for frequent load-balancer probes: it touches nothing.",
  responses: healthResponses,
});

export const liveness = defineRoute({
  method: "get",
  path: "/health/live",
  tags,
  summary: "Liveness: the Worker answers (no dependencies touched)",
  responses: { 200: jsonContent(LivenessSchema, "Alive.", { status: "ok" }), 500: problemResponse(500) },
});

export const readiness = defineRoute({
  method: "get",
  path: "/health/ready",
  tags,
  summary: "Readiness: same checks as /health",
  responses: healthResponses,
});
