/**
 * One Web Push message (RFC 8030) to one browser: the payload encrypted for the
 * subscriber with `aes128gcm` (RFC 8291, by @block65/webcrypto-web-push on Web Crypto),
 * VAPID authorization (RFC 8292, vapid.ts), TTL, Urgency and Topic. The push service
 * answers 201; 404/410 mean the subscription is gone for good.
 */
import { encryptNotification } from "@block65/webcrypto-web-push";
import { PUSH_TTL_SECONDS, type PushContent, webPushPayload } from "./push-content";
import { answerExcerpt, callPushService, type PushOutcome, retryAfterSeconds } from "./push-outcome";
import { type VapidKeys, vapidAuthorization } from "./vapid";

export type WebPushTarget = { endpoint: string; p256dh: string; auth: string };

export async function sendWebPush(
  target: WebPushTarget,
  content: PushContent,
  vapid: { keys: VapidKeys; subject: string },
): Promise<PushOutcome> {
  const endpoint = new URL(target.endpoint);
  let body: Uint8Array;
  try {
    body = await encryptNotification(
      { endpoint: target.endpoint, expirationTime: null, keys: { p256dh: target.p256dh, auth: target.auth } },
      webPushPayload(content),
    );
  } catch (error) {
    // Keys are checked when a device subscribes, so this is a row from before that check.
    return { result: "gone", status: null, reason: `unusable keys: ${(error as Error).message}` };
  }
  const answer = await callPushService(endpoint.href, {
    method: "POST",
    headers: {
      Authorization: await vapidAuthorization(vapid.keys, endpoint, vapid.subject),
      "Content-Encoding": "aes128gcm",
      "Content-Type": "application/octet-stream",
      TTL: String(PUSH_TTL_SECONDS),
      Urgency: content.urgency,
      // A retried push of the same notification replaces the one still waiting at the push service.
      Topic: content.id.replaceAll("-", ""),
    },
    body,
  });
  if (!(answer instanceof Response)) return answer;
  if (answer.ok) {
    await answer.body?.cancel();
    return { result: "delivered" };
  }
  const reason = await answerExcerpt(answer);
  if (answer.status === 404 || answer.status === 410)
    return { result: "gone", status: answer.status, reason };
  if (answer.status === 429 || answer.status >= 500) {
    return { result: "retry", status: answer.status, reason, retryAfterSeconds: retryAfterSeconds(answer) };
  }
  // 400 (a header it refuses), 401/403 (a VAPID key this subscription was not made with), 413.
  return { result: "failed", status: answer.status, reason };
}
