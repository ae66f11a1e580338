/**
 * Thin typed access to the METRICS Durable Object. One object for the whole
 * deployment: metrics traffic is a batch per isolate every few seconds, far below
 * what one object serves, and one object makes the totals exact.
 */
import type { Bindings } from "../../env";

export const METRICS_OBJECT_NAME = "global";

export function metricsCollector(env: Pick<Bindings, "METRICS">) {
  return env.METRICS.get(env.METRICS.idFromName(METRICS_OBJECT_NAME));
}
