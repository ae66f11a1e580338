/**
 * Exact rate-limit counters: one RateLimiter Durable Object per limited key
 * (addressed by idFromName(key), so every location reaches the same instance),
 * which handles that key's hits one at a time. Costs a round trip to the
 * object's home location per request; no approximation under concurrency.
 */
import type { RateLimiter } from "./rate-limiter.do";
import type { RateLimitCount, RateLimitHit, RateLimitStore } from "./store";

export class DurableObjectRateLimitStore implements RateLimitStore {
  readonly kind = "durable_object" as const;

  constructor(private readonly namespace: DurableObjectNamespace<RateLimiter>) {}

  async hit(input: RateLimitHit): Promise<RateLimitCount> {
    // The object validates its input itself: it is the one that must never store nonsense.
    const stub = this.namespace.get(this.namespace.idFromName(input.key));
    return stub.hit(input.limit, input.windowSeconds, input.now);
  }
}
