import { DurableObject } from "cloudflare:workers";

/**
 * Aggregates the counters and histograms that isolates flush in batches, and
 * renders them for GET /metrics. The metrics issue fills it in; until then it
 * only answers the liveness RPC.
 */
export class MetricsCollector extends DurableObject<Cloudflare.Env> {
  async ping(): Promise<"pong"> {
    return "pong";
  }
}
