/**
 * GET /metrics: this isolate's pending batch is flushed first (so a scrape always
 * includes what this isolate saw), then the collector's totals are rendered together
 * with gauges read from D1 at scrape time.
 */
import { count } from "drizzle-orm";
import { type TaskStatus, taskStatuses, tasks } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { sha256Hex, timingSafeEqual } from "../../lib/crypto";
import { serializeError } from "../../lib/logger";
import { problems } from "../../lib/problem";
import { metricsCollector } from "./metrics.client";
import { type MetricFamily, renderExposition } from "./metrics.exposition";
import { flushMetrics } from "./metrics.recorder";

/**
 * When METRICS_TOKEN is set, the request must carry `Authorization: Bearer <token>`.
 * Both sides are hashed first, so the comparison is constant-time and of equal length.
 */
export async function assertMetricsAccess(ctx: ServiceContext, authorization: string | undefined) {
  const expected = ctx.config.METRICS_TOKEN;
  if (!expected) return;
  const presented = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? "")?.[1];
  if (!presented) {
    throw problems.unauthorized("GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`.");
  }
  const [left, right] = await Promise.all([sha256Hex(presented), sha256Hex(expected)]);
  if (!timingSafeEqual(left, right)) {
    throw problems.unauthorized("The metrics token is not valid.", "invalid_token");
  }
}

/** Every status with its number of tasks (0 for statuses no task is in). */
export async function tasksByStatus(ctx: ServiceContext): Promise<Record<TaskStatus, number>> {
  const rows = await ctx.db
    .select({ status: tasks.status, value: count() })
    .from(tasks)
    .groupBy(tasks.status);
  const counts = Object.fromEntries(taskStatuses.map((status) => [status, 0])) as Record<TaskStatus, number>;
  for (const row of rows) counts[row.status] = row.value;
  return counts;
}

export async function scrapeMetrics(ctx: ServiceContext): Promise<string> {
  await flushMetrics(ctx.env, ctx.logger);
  let stored: MetricFamily[];
  try {
    stored = await metricsCollector(ctx.env).families();
  } catch (error) {
    ctx.logger.error("metrics collector unavailable", { error: serializeError(error) });
    throw problems.serviceUnavailable("The metrics collector did not answer; try the scrape again.");
  }
  const byStatus = await tasksByStatus(ctx);
  const gauges: MetricFamily[] = [
    {
      name: "tasks_in_status",
      help: "Background tasks in D1 by current status, read at scrape time.",
      type: "gauge",
      series: taskStatuses.map((status) => ({ labels: { status }, value: byStatus[status] })),
    },
  ];
  return renderExposition([...stored, ...gauges]);
}
