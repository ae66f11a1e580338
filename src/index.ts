/**
 * Worker entry: HTTP (the Hono app), queues, cron, and the Durable Object classes.
 */
import { createApp } from "./app";
import type { Bindings } from "./env";
import { handleQueueBatch } from "./jobs/consumer";
import { flushMetrics } from "./modules/metrics/metrics.recorder";
import { runScheduled } from "./scheduled";

export { RateLimiter } from "./lib/rate-limit/rate-limiter.do";
export { SignInThrottle } from "./modules/auth/sign-in-throttle.do";
export { MetricsCollector } from "./modules/metrics/metrics-collector.do";
export { NotificationHub } from "./modules/notifications/notification-hub.do";

const app = createApp();

export default {
  fetch: app.fetch,
  async queue(batch, env, ctx) {
    await handleQueueBatch(batch, env);
    // Task runs and email deliveries counted during the batch; a queue-only isolate may see no request to flush them.
    ctx.waitUntil(flushMetrics(env));
  },
  async scheduled(controller, env, ctx) {
    ctx.waitUntil(runScheduled(controller, env));
  },
} satisfies ExportedHandler<Bindings, unknown>;
