import { z } from "@hono/zod-openapi";

export const CheckResultSchema = z
  .object({
    status: z.enum(["ok", "down"]),
    latency_ms: z.number().openapi({ example: 1.27 }),
    error: z.string().optional().openapi({ example: "timed out after 3000 ms" }),
  })
  .openapi("HealthCheck");

export const HealthReportSchema = z
  .object({
    status: z.enum(["ok", "down"]),
    version: z.string().openapi({ example: "0.1.0" }),
    environment: z.string().openapi({ example: "production" }),
    time: z.iso.datetime(),
    checks: z.record(z.string(), CheckResultSchema),
  })
  .openapi("HealthReport");

const okCheck = { status: "ok", latency_ms: 1.2 };
export const healthExample = {
  status: "ok",
  version: "0.1.0",
  environment: "production",
  time: "2026-11-21T12:00:00.000Z",
  checks: {
    d1: okCheck,
    auth_kv: okCheck,
    rate_limit_kv: okCheck,
    r2: okCheck,
    jobs_queue: okCheck,
    email_queue: okCheck,
    email_provider: okCheck,
  },
};

export const LivenessSchema = z.object({ status: z.literal("ok") }).openapi("Liveness");

export const ServiceInfoSchema = z
  .object({
    name: z.string().openapi({ example: "Edge API Platform" }),
    version: z.string().openapi({ example: "0.1.0" }),
    environment: z.string().openapi({ example: "development" }),
    links: z.object({
      health: z.string().openapi({ example: "/health" }),
      openapi: z.string().nullable().openapi({ example: "/api/openapi.json" }),
      docs: z.string().nullable().openapi({ example: "/api/docs" }),
      redoc: z.string().nullable().openapi({ example: "/api/redoc" }),
    }),
  })
  .openapi("ServiceInfo");
