/**
 * Background work driven from tests. The queue handler gets a batch built with
 * createMessageBatch exactly as the queue would deliver it, so retries, backoff and dead
 * letters are exercised without waiting on the queue's timers; the cron handler runs at
 * a moment the test picks.
 */
import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { vi } from "vitest";
import type { Bindings } from "../../src/env";
import worker from "../../src/index";
import type { MaintenanceJob } from "../../src/jobs/maintenance-job";
import { runScheduled } from "../../src/scheduled";

/** One message of a test batch: its id, its body, and which delivery of it this is (1 unless given). */
export type TestMessage = { id: string; body: unknown; attempts?: number };

/**
 * Runs the Worker's queue handler on `messages` as one batch from `queue` (with `bindings`),
 * and returns which were acked or retried (getQueueResult) and, per message, the options
 * each `retry()` was called with: getQueueResult does not report the backoff a handler asked for.
 */
export async function runQueueBatch(queue: string, messages: TestMessage[], bindings: Bindings = env) {
  const batch = createMessageBatch(
    queue,
    messages.map(({ id, body, attempts = 1 }) => ({ id, timestamp: new Date(), attempts, body })),
  );
  const retries = batch.messages.map((message) => vi.spyOn(message, "retry"));
  const ctx = createExecutionContext();
  await worker.queue(batch, bindings, ctx);
  const result = await getQueueResult(batch, ctx);
  return { result, retryOptions: retries.map((retry) => retry.mock.calls.map(([options]) => options)) };
}

/**
 * Runs the cron handler as if fired at `scheduledTime`: every maintenance job due then
 * (of `jobs`, all of them unless given), with the test bindings unless `bindings` are given.
 */
export function runCron(
  scheduledTime: number,
  options: { bindings?: Bindings; jobs?: MaintenanceJob[] } = {},
) {
  return runScheduled(
    createScheduledController({ scheduledTime, cron: "* * * * *" }),
    options.bindings ?? env,
    options.jobs,
  );
}
