import { DurableObject } from "cloudflare:workers";
import { assertValidHit, type RateLimitCount } from "./store";

type CurrentWindow = { start: number; count: number };

const WINDOW_KEY = "window";

/**
 * One instance per limited key (DurableObjectRateLimitStore addresses it with
 * idFromName(key)): the key's current fixed window, `{ start, count }`, in the
 * object's SQLite-backed storage. A Durable Object runs one event at a time and
 * the synchronous storage API has no await between the read and the write, so
 * concurrent hits are counted exactly.
 *
 * Storage does not grow: each new window (re)sets an alarm for when it ends, and
 * the alarm deletes everything, so an idle key leaves nothing behind. The alarm
 * is set on the object's own clock for the window's length, while windows are
 * measured on the caller's clock (`now`), so a test that moves its clock cannot
 * make the alarm fire early.
 */
export class RateLimiter extends DurableObject<Cloudflare.Env> {
  async hit(limit: number, windowSeconds: number, now: number): Promise<RateLimitCount> {
    assertValidHit({ key: WINDOW_KEY, limit, windowSeconds, now });
    const storage = this.ctx.storage;
    const windowMs = windowSeconds * 1000;
    const current = storage.kv.get<CurrentWindow>(WINDOW_KEY);

    if (!current || now >= current.start + windowMs) {
      storage.kv.put<CurrentWindow>(WINDOW_KEY, { start: now, count: 1 });
      await storage.setAlarm(Date.now() + windowMs);
      return { allowed: true, count: 1, resetAt: now + windowMs };
    }

    const resetAt = current.start + windowMs;
    if (current.count >= limit) return { allowed: false, count: current.count, resetAt };
    storage.kv.put<CurrentWindow>(WINDOW_KEY, { start: current.start, count: current.count + 1 });
    return { allowed: true, count: current.count + 1, resetAt };
  }

  /** The window is over: forget the key entirely. */
  override async alarm(): Promise<void> {
    await this.ctx.storage.deleteAll();
  }
}
