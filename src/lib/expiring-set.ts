/**
 * Values an isolate remembers until a moment each, at most `limit` of them. Isolates live for
 * many requests, so anything kept per isolate must be bounded: when full, expired entries and
 * then the oldest-added go first (a Map iterates in insertion order, and `set` re-inserts).
 */
export class ExpiringMap<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();

  constructor(readonly limit: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** The value while `key` was set with a moment still after `now`; an expired entry is dropped. */
  get(key: string, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until > now) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, value: V, untilMs: number, now: number): void {
    this.entries.delete(key);
    for (const [oldest, { until }] of this.entries) {
      if (this.entries.size < this.limit && until > now) break;
      this.entries.delete(oldest);
    }
    this.entries.set(key, { value, until: untilMs });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}

/** Keys an isolate remembers until a moment each, bounded as ExpiringMap is. */
export class ExpiringSet {
  private readonly keys: ExpiringMap<true>;

  constructor(readonly limit: number) {
    this.keys = new ExpiringMap<true>(limit);
  }

  get size(): number {
    return this.keys.size;
  }

  /** True while `key` was added with a moment still after `now`; an expired key is dropped. */
  has(key: string, now: number): boolean {
    return this.keys.get(key, now) === true;
  }

  add(key: string, untilMs: number, now: number): void {
    this.keys.set(key, true, untilMs, now);
  }

  delete(key: string): void {
    this.keys.delete(key);
  }

  clear(): void {
    this.keys.clear();
  }
}
