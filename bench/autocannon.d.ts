/** The part of autocannon 9's programmatic API the benchmark uses (the package ships no types). */
declare module "autocannon" {
  interface AutocannonRequest {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    /** Called before each request is sent; what it returns is sent (autocannon's per-request hook). */
    setupRequest?: (request: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest;
  }

  interface AutocannonOptions extends AutocannonRequest {
    url: string;
    connections?: number;
    /** Seconds. */
    duration?: number;
    /** Send exactly this many requests (in place of `duration`); the run ends when all are answered. */
    amount?: number;
    /**
     * Milliseconds between samples (default 1000). A run ends at the sample after its last response
     * or its duration, and its reported `duration` includes the wait.
     */
    sampleInt?: number;
    pipelining?: number;
    /** Seconds before a request counts as a timeout. */
    timeout?: number;
    /** Cycled through by every connection. */
    requests?: AutocannonRequest[];
    /** Default false: latencies of non-2xx responses are recorded too. */
    excludeErrorStats?: boolean;
  }

  /** Percentiles in milliseconds (latency) or per second (requests, throughput). */
  interface Histogram {
    average: number;
    mean: number;
    stddev: number;
    min: number;
    max: number;
    total: number;
    p50: number;
    p90: number;
    p97_5: number;
    p99: number;
  }

  interface AutocannonResult {
    /** Seconds actually run. */
    duration: number;
    latency: Histogram;
    requests: Histogram & { sent: number };
    throughput: Histogram;
    errors: number;
    timeouts: number;
    non2xx: number;
    resets: number;
    "2xx": number;
    statusCodeStats: Record<string, { count: number }>;
  }

  function autocannon(options: AutocannonOptions): Promise<AutocannonResult>;

  export type { AutocannonOptions, AutocannonRequest, AutocannonResult, Histogram };
  export default autocannon;
}
