/**
 * What one push to one device came to, whichever service carried it, and the one
 * way both senders call a push service (a timeout; no answer is a retry, never a throw).
 */

export type PushOutcome =
  /** The push service accepted it (it delivers when the device is online, within the TTL). */
  | { result: "delivered" }
  /** The device is gone (404/410, FCM UNREGISTERED …): its subscription is removed. */
  | { result: "gone"; status: number | null; reason: string }
  /** Worth another try later (429, 5xx, no answer): the queue tries this device again. */
  | { result: "retry"; status: number | null; reason: string; retryAfterSeconds?: number }
  /** Refused for a reason a retry would not change (our key, our payload): logged, device kept. */
  | { result: "failed"; status: number | null; reason: string };

/** Longer than a push service takes to accept one message; short enough for 20 devices in one job. */
export const PUSH_TIMEOUT_MS = 10_000;

/** A POST to a push service (or its OAuth endpoint): the answer, or a `retry` outcome when none came. */
export async function callPushService(url: string, init: RequestInit): Promise<Response | PushOutcome> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(PUSH_TIMEOUT_MS) });
  } catch (error) {
    const timedOut = error instanceof Error && error.name === "TimeoutError";
    return {
      result: "retry",
      status: null,
      reason: timedOut
        ? `no answer within ${PUSH_TIMEOUT_MS} ms`
        : `network: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

/** `Retry-After` in seconds (delta or HTTP date), when the service sent one. */
export function retryAfterSeconds(response: Response, now = Date.now()): number | undefined {
  const value = response.headers.get("retry-after");
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** The start of an error answer's body, for the log: push services explain refusals in a line or two. */
export async function answerExcerpt(response: Response): Promise<string> {
  const text = await response.text().catch(() => "");
  return `${response.status}${text ? ` ${text.slice(0, 300)}` : ""}`;
}
