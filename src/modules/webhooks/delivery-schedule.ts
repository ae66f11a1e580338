/**
 * When a failed delivery is tried again: the contract's schedule, with ±10% jitter so
 * that the deliveries of one outage (every event an endpoint missed) do not all come
 * back in the same second. The longest gap (10 h) is inside the Queues delay limit
 * (12 h), so every retry is one delayed queue message; no cron hand-off is needed.
 *
 * | attempt | after the previous one |
 * |---------|------------------------|
 * | 1       | at once                |
 * | 2       | 5 s                    |
 * | 3       | 5 min                  |
 * | 4       | 30 min                 |
 * | 5       | 2 h                    |
 * | 6       | 5 h                    |
 * | 7       | 10 h                   |
 * | 8       | 10 h                   |
 *
 * The 8th failure is final (`failed`), about 27.6 hours after the event.
 */

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Delay before attempt n + 2, after attempt n + 1 failed. */
export const RETRY_DELAYS_MS = [
  5 * SECOND,
  5 * MINUTE,
  30 * MINUTE,
  2 * HOUR,
  5 * HOUR,
  10 * HOUR,
  10 * HOUR,
] as const;

export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;
export const JITTER = 0.1;

/** A receiver gets this long to answer (connection, headers and the body we read). */
export const DELIVERY_TIMEOUT_MS = 15 * SECOND;

/** An endpoint whose deliveries have failed without a success for this long is disabled. */
export const DISABLE_AFTER_FAILING_MS = 5 * 24 * HOUR;

/**
 * The delay before the next attempt, after `attempts` attempts failed; null when that was
 * the last one. `random` is in [0, 1) (Math.random unless a test pins it).
 */
export function retryDelayMs(attempts: number, random: number = Math.random()): number | null {
  const base = RETRY_DELAYS_MS[attempts - 1];
  if (base === undefined) return null;
  return Math.round(base * (1 - JITTER + 2 * JITTER * random));
}
