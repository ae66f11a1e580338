/**
 * What a device is sent for one notification, and its two encodings: the JSON a
 * browser's Service Worker reads from a Web Push message, and an FCM HTTP v1 message.
 * Push services take about 4 KB, notifications up to 11 KB, so the Web Push JSON
 * drops `data` and then shortens `body` until it fits; the whole notification is one
 * GET /notifications/{id} away.
 */

export type PushContent = {
  /** The notification id: also the Web Push `Topic` and the FCM tag, so a repeated push replaces, never doubles. */
  id: string;
  type: string;
  title: string;
  body: string;
  /** Where tapping it leads: an absolute URL, or null. */
  url: string | null;
  data: Record<string, unknown>;
  created_at: string;
  /** `high` wakes a sleeping device at once (RFC 8030 Urgency, FCM/APNs priority). */
  urgency: "normal" | "high";
};

/** RFC 8291 with one 4096-byte record: 4096 − 86 header bytes − 16 tag − 1 padding delimiter. */
export const WEB_PUSH_MAX_PLAINTEXT = 3993;

/** How long a push service keeps a notification for an offline device. */
export const PUSH_TTL_SECONDS = 24 * 60 * 60;

const encoder = new TextEncoder();

/** The Web Push message body (UTF-8 JSON), at most WEB_PUSH_MAX_PLAINTEXT bytes. */
export function webPushPayload(content: PushContent): Uint8Array {
  const json = (body: string, data: Record<string, unknown> | undefined) =>
    encoder.encode(
      JSON.stringify({
        id: content.id,
        type: content.type,
        title: content.title,
        body,
        url: content.url,
        ...(data ? { data } : {}),
        created_at: content.created_at,
      }),
    );
  let encoded = json(content.body, content.data);
  if (encoded.byteLength <= WEB_PUSH_MAX_PLAINTEXT) return encoded;
  encoded = json(content.body, undefined);
  let body = content.body;
  while (encoded.byteLength > WEB_PUSH_MAX_PLAINTEXT && body.length > 0) {
    // Cut by the overshoot (at least one character), then mark the cut.
    const over = encoded.byteLength - WEB_PUSH_MAX_PLAINTEXT;
    body = Array.from(body)
      .slice(0, Math.max(0, Array.from(body).length - over - 1))
      .join("");
    encoded = json(`${body}…`, undefined);
  }
  return encoded;
}

/** The `message` of an FCM HTTP v1 send for `token` (data values must be strings). */
export function fcmMessage(content: PushContent, token: string) {
  return {
    token,
    notification: { title: content.title, body: content.body.slice(0, 1000) },
    data: {
      notification_id: content.id,
      type: content.type,
      created_at: content.created_at,
      ...(content.url ? { url: content.url } : {}),
    },
    android: {
      priority: content.urgency === "high" ? "high" : "normal",
      ttl: `${PUSH_TTL_SECONDS}s`,
      notification: { tag: content.id },
    },
    apns: {
      headers: {
        "apns-priority": content.urgency === "high" ? "10" : "5",
        "apns-collapse-id": content.id,
        "apns-expiration": String(Math.floor(Date.now() / 1000) + PUSH_TTL_SECONDS),
      },
    },
  };
}
