/**
 * The clock and the sleep every part of the task system reads. They are methods of
 * one object so that tests replace them (`vi.spyOn(taskRuntime, "now")`) and drive
 * scheduling, time limits and the `sleep` task without waiting for real time.
 */
export const taskRuntime = {
  /** Milliseconds since the epoch. */
  now(): number {
    return Date.now();
  },

  /** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  },
};
