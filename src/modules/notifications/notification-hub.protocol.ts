/**
 * The WebSocket protocol of GET /api/v1/notifications/ws: every frame is one JSON text
 * message with a `type`. Shared by the hub (which sends and parses) and the tests.
 */
import { z } from "zod";
import type { NotificationDto } from "./notifications.schemas";

/** Server → client. */
export type ServerMessage =
  /** First frame on every socket. `replay` is null without `?since=`. */
  | {
      type: "hello";
      unread_count: number;
      replay: { count: number; truncated: boolean } | null;
    }
  /** A new notification (live, or replayed after `hello` when `?since=` was given). */
  | { type: "notification"; data: NotificationDto; unread_count: number; replayed?: true }
  /** These ids were marked read (on any device, this one included). */
  | { type: "read"; ids: string[]; unread_count: number }
  /** The count changed for another reason (marked unread, deleted, all read). */
  | { type: "unread_count"; unread_count: number }
  /** The client's last frame was refused; the socket stays open. */
  | { type: "error"; code: ClientFrameErrorCode; detail: string }
  | { type: "pong" };

export type ClientFrameErrorCode =
  | "unsupported_frame"
  | "frame_too_large"
  | "invalid_json"
  | "invalid_message"
  | "rate_limited";

/** Client → server (`{"type":"ping"}` is answered by the runtime without waking the hub). */
export const MAX_MARK_READ_IDS = 100;
export const clientMessage = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("ping") }),
  z.strictObject({ type: z.literal("mark_read"), ids: z.array(z.uuid()).min(1).max(MAX_MARK_READ_IDS) }),
]);
export type ClientMessage = z.infer<typeof clientMessage>;

/** Exact frames for setWebSocketAutoResponse: answered while the hub hibernates. */
export const PING_FRAME = '{"type":"ping"}';
export const PONG_FRAME = '{"type":"pong"}';

/** Text frames larger than this are refused unparsed. */
export const MAX_CLIENT_FRAME_BYTES = 16 * 1024;

/**
 * Close codes (4000–4999 are for applications, RFC 6455 §7.4.2). The close reason
 * carries the detail (e.g. the revocation reason).
 */
export const CLOSE_CODES = {
  /** The session the socket was opened with was revoked (logout, device revoked, password change, refresh-token reuse). */
  sessionRevoked: 4001,
  /** The account was deleted or disabled. */
  accountClosed: 4003,
  /** The user opened more sockets than NOTIFICATIONS_MAX_SOCKETS_PER_USER allows; the oldest are closed. */
  tooManyConnections: 4008,
} as const;

/** What the Worker publishes to a user's hub. */
export type HubEvent =
  | { kind: "notification"; notification: NotificationDto; unread_count: number }
  | { kind: "read"; ids: string[]; unread_count: number }
  | { kind: "unread_count"; unread_count: number };

/**
 * The notification socket is never compressed. Browsers and Node offer permessage-deflate, and
 * workerd accepts it unless the Worker's 101 names the extensions it wants. Our frames are a few
 * hundred bytes of JSON, so deflate saves little, and it costs a zlib state per socket (about
 * 230 KB with context takeover: 1,000 sockets in bare workerd took 233 MB instead of 9) and a
 * compress on the server plus an inflate on the client for every frame (bench/README.md
 * "Fan-out"). The runtime documents an empty value for "no compression", but an empty header
 * reads as absent in its HTTP layer (checked on workerd 2026-10-23: it still negotiated
 * deflate). A value that offers no permessage-deflate makes the negotiation find no agreement,
 * and the runtime then sends no Sec-WebSocket-Extensions at all, which is how RFC 7692 says a
 * server declines. test/notifications.realtime.test.ts checks the header; the fan-out benches record
 * what their clients negotiated.
 */
export const REFUSE_WEBSOCKET_COMPRESSION = "none";
