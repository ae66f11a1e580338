/**
 * Worker entry: HTTP (the Hono app), queues, cron, and the Durable Object classes.
 */
import { createApp } from "./app";
import { handleQueueBatch } from "./jobs/consumer";
import { trackDurableObject, withErrorTracking } from "./lib/error-tracking";
import { RateLimiter as RateLimiterObject } from "./lib/rate-limit/rate-limiter.do";
import { SignInThrottle as SignInThrottleObject } from "./modules/auth/sign-in-throttle.do";
import { flushMetrics } from "./modules/metrics/metrics.recorder";
import { MetricsCollector as MetricsCollectorObject } from "./modules/metrics/metrics-collector.do";
import { NotificationHub as NotificationHubObject } from "./modules/notifications/notification-hub.do";
import { runScheduled } from "./scheduled";

// Each Durable Object reports its own unexpected errors when SENTRY_DSN is set (src/lib/error-tracking.ts).
export const RateLimiter = trackDurableObject(RateLimiterObject);
export const SignInThrottle = trackDurableObject(SignInThrottleObject);
export const MetricsCollector = trackDurableObject(MetricsCollectorObject);
export const NotificationHub = trackDurableObject(NotificationHubObject);
// The same names as types, for the bindings' stub types (worker-configuration.d.ts).
export type RateLimiter = RateLimiterObject;
export type SignInThrottle = SignInThrottleObject;
export type MetricsCollector = MetricsCollectorObject;
export type NotificationHub = NotificationHubObject;

const app = createApp();

// Wrapped by Sentry only for invocations whose environment has a SENTRY_DSN.
export default withErrorTracking({
  fetch: app.fetch,
  async queue(batch, env, ctx) {
    await handleQueueBatch(batch, env);
    // Task runs and email deliveries counted during the batch; a queue-only isolate may see no request to flush them.
    ctx.waitUntil(flushMetrics(env));
  },
  async scheduled(controller, env) {
    // Awaited, not waitUntil: the invocation (and its error tracking) ends when the jobs do.
    await runScheduled(controller, env);
  },
});
