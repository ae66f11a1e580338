/**
 * Keys an isolate remembers until a moment each, at most `limit` of them. Isolates live for
 * many requests, so anything kept per isolate must be bounded: when full, expired keys and then
 * the oldest-added go first (a Map iterates in insertion order, and `add` re-inserts).
 */
export class ExpiringSet {
  private readonly until = new Map<string, number>();

  constructor(readonly limit: number) {}

  get size(): number {
    return this.until.size;
  }

  /** True while `key` was added with a moment still after `now`; an expired key is dropped. */
  has(key: string, now: number): boolean {
    const until = this.until.get(key);
    if (until === undefined) return false;
    if (until > now) return true;
    this.until.delete(key);
    return false;
  }

  add(key: string, untilMs: number, now: number): void {
    this.until.delete(key);
    for (const [oldest, oldestUntil] of this.until) {
      if (this.until.size < this.limit && oldestUntil > now) break;
      this.until.delete(oldest);
    }
    this.until.set(key, untilMs);
  }

  delete(key: string): void {
    this.until.delete(key);
  }

  clear(): void {
    this.until.clear();
  }
}
