import { DurableObject } from "cloudflare:workers";
import { parseBookmark } from "../../db/bookmarks";
import { openDatabaseSession } from "../../db/client";
import { getConfig } from "../../env";
import { createLogger, type Logger, type LogLevel, serializeError } from "../../lib/logger";
import {
  CLOSE_CODES,
  type ClientFrameErrorCode,
  clientMessage,
  type HubEvent,
  MAX_CLIENT_FRAME_BYTES,
  PING_FRAME,
  PONG_FRAME,
  type ServerMessage,
} from "./notification-hub.protocol";
import {
  markIdsRead,
  notificationsSince,
  toNotificationDto,
  unreadCountQuery,
} from "./notifications.queries";

/** Kept on each socket (serializeAttachment), so it survives hibernation. */
type SocketAttachment = {
  userId: string;
  sessionId: string;
  connectedAt: number;
  /** Newest notification id replayed on connect: a live copy of it (or older) is not sent again. */
  replayedThrough: string | null;
};

/** At most this many missed notifications are replayed; `hello.replay.truncated` tells the client to refetch. */
export const REPLAY_LIMIT = 100;
/** Frames that touch D1 (mark_read), per socket per window: a flood of them must not become a flood of writes. */
const FRAME_BUDGET = { limit: 20, windowMs: 10_000 };
const TICKET_KEY_PREFIX = "ticket:";

const sessionTag = (sessionId: string) => `session:${sessionId}`;

/** `max_sockets` of a connect URL: a whole number from 1 (the Worker sends its validated setting). */
function parseMaxSockets(value: string | null): number | null {
  if (value === null || !/^[1-9][0-9]{0,5}$/.test(value)) return null;
  return Number(value);
}

/**
 * One instance per user (idFromName(userId)): that user's open WebSockets, on the
 * Hibernation API. The runtime holds the sockets while the object is evicted from
 * memory, answers `{"type":"ping"}` itself (setWebSocketAutoResponse), and wakes the
 * object only for a real frame, a close, or an RPC from the Worker (publish, close).
 * So idle connections cost no duration.
 *
 * Sockets are tagged `session:<id>` so that revoking a session closes exactly the
 * sockets opened with it. The object's SQLite storage holds only spent WebSocket
 * tickets (exact single use; see claimTicket). D1 stays the truth for notifications.
 */
export class NotificationHub extends DurableObject<Cloudflare.Env> {
  /** Per-socket frame budget. In memory only: it is lost on hibernation, which happens only when idle. */
  private readonly budgets = new WeakMap<WebSocket, { start: number; count: number }>();
  /**
   * Each socket's attachment, read once per wake-up: deserializeAttachment() is a structured-clone
   * copy, and a publish to 1,000 sockets would otherwise make 1,000 of them. The runtime hands out
   * new WebSocket objects after hibernation, so an entry never outlives the wake-up it was read in.
   */
  private readonly attachments = new WeakMap<WebSocket, SocketAttachment | null>();
  private readonly logger: Logger;

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
    let level: LogLevel = "info";
    try {
      level = getConfig(env).LOG_LEVEL;
    } catch {
      // A broken configuration must not stop sockets from being served; log at info.
    }
    this.logger = createLogger(level, { durable_object: "NotificationHub" });
  }

  /** The upgrade the Worker has already authenticated (notification-hub.client.ts `connect`). */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const userId = url.searchParams.get("user_id");
    const sessionId = url.searchParams.get("session_id");
    const since = url.searchParams.get("since");
    // The caller's bookmark: the greeting reads at least what the request that opened the
    // socket had seen. Without one it reads the primary: a notification published before the
    // socket existed reaches it only through this replay, so a lagging replica would lose it.
    const bookmark = parseBookmark(url.searchParams.get("d1_bookmark"));
    const maxSockets = parseMaxSockets(url.searchParams.get("max_sockets"));
    if (
      url.pathname !== "/connect" ||
      request.headers.get("Upgrade")?.toLowerCase() !== "websocket" ||
      !userId ||
      !sessionId ||
      maxSockets === null
    ) {
      return new Response("Not found", { status: 404 });
    }

    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    // Nothing else runs on this object until the socket has its hello and replay: a
    // notification published meanwhile waits and then arrives after them, in order.
    await this.ctx.blockConcurrencyWhile(async () => {
      this.ctx.acceptWebSocket(server, [sessionTag(sessionId)]);
      const attachment: SocketAttachment = {
        userId,
        sessionId,
        connectedAt: Date.now(),
        replayedThrough: null,
      };
      this.attach(server, attachment);
      this.closeOldestOverLimit(server, maxSockets);
      try {
        const { db } = openDatabaseSession(this.env.DB, bookmark ?? "first-primary");
        const [[unread], missed] = await Promise.all([
          unreadCountQuery(db, userId),
          since ? notificationsSince(db, userId, since, REPLAY_LIMIT + 1) : Promise.resolve(null),
        ]);
        const unreadCount = unread?.value ?? 0;
        const replay = missed?.slice(0, REPLAY_LIMIT) ?? [];
        send(server, {
          type: "hello",
          unread_count: unreadCount,
          replay: missed ? { count: replay.length, truncated: missed.length > REPLAY_LIMIT } : null,
        });
        for (const row of replay) {
          send(server, {
            type: "notification",
            data: toNotificationDto(row),
            unread_count: unreadCount,
            replayed: true,
          });
        }
        const last = replay.at(-1);
        if (last) this.attach(server, { ...attachment, replayedThrough: last.id });
      } catch (error) {
        // The client reconnects with the same `since`; nothing is lost.
        this.logger.error("could not greet a socket", { user_id: userId, error: serializeError(error) });
        server.close(1011, "could not load notifications");
      }
    });
    return new Response(null, { status: 101, webSocket: client });
  }

  /**
   * Sends one event to every open socket of the user; returns how many sockets it reached.
   * It runs once per event for up to NOTIFICATIONS_MAX_SOCKETS_PER_USER sockets, so the loop does
   * only what differs per socket: the frame is serialised once, nothing is awaited, and the
   * attachments come from memory after the first event of a wake-up.
   */
  async publish(event: HubEvent): Promise<number> {
    const frame = JSON.stringify(toServerMessage(event));
    const notificationId = event.kind === "notification" ? event.notification.id : null;
    let delivered = 0;
    for (const ws of this.ctx.getWebSockets()) {
      if (notificationId !== null) {
        const replayedThrough = this.attachmentOf(ws)?.replayedThrough;
        if (replayedThrough && notificationId <= replayedThrough) continue;
      }
      if (sendFrame(ws, frame)) delivered += 1;
    }
    return delivered;
  }

  /** Closes the sockets opened with these sessions, or every socket when `sessionIds` is null. */
  async closeSockets(sessionIds: string[] | null, code: number, reason: string): Promise<number> {
    const sockets =
      sessionIds === null
        ? this.ctx.getWebSockets()
        : sessionIds.flatMap((id) => this.ctx.getWebSockets(sessionTag(id)));
    for (const ws of sockets) closeQuietly(ws, code, reason);
    return sockets.length;
  }

  async connectionCount(): Promise<number> {
    return this.ctx.getWebSockets().length;
  }

  /**
   * Marks a WebSocket ticket spent; false when it already was. KV (where tickets live)
   * is eventually consistent, so a ticket deleted at one location may still be read at
   * another for a while; this object is the single, strongly consistent place per user
   * that makes "single use" exact. Entries go once the ticket has expired anyway.
   */
  async claimTicket(ticketHash: string, expiresAt: number, now: number): Promise<boolean> {
    const storage = this.ctx.storage;
    for (const [key, until] of storage.kv.list<number>({ prefix: TICKET_KEY_PREFIX })) {
      if (until <= now) storage.kv.delete(key);
    }
    const key = `${TICKET_KEY_PREFIX}${ticketHash}`;
    if (storage.kv.get<number>(key) !== undefined) return false;
    storage.kv.put(key, expiresAt);
    // Leave nothing behind for a user who never connects again.
    if ((await storage.getAlarm()) === null) await storage.setAlarm(Date.now() + 60_000);
    return true;
  }

  override async alarm(): Promise<void> {
    const storage = this.ctx.storage;
    const now = Date.now();
    let remaining = 0;
    for (const [key, until] of storage.kv.list<number>({ prefix: TICKET_KEY_PREFIX })) {
      if (until <= now) storage.kv.delete(key);
      else remaining += 1;
    }
    if (remaining > 0) await storage.setAlarm(now + 60_000);
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (typeof message !== "string") {
      return refuse(ws, "unsupported_frame", "Binary frames are not accepted; send JSON text.");
    }
    if (message.length > MAX_CLIENT_FRAME_BYTES) {
      return refuse(ws, "frame_too_large", `Frames are limited to ${MAX_CLIENT_FRAME_BYTES} characters.`);
    }
    let json: unknown;
    try {
      json = JSON.parse(message);
    } catch {
      return refuse(ws, "invalid_json", "The frame is not valid JSON.");
    }
    const parsed = clientMessage.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? ` (${issue.path.join(".")})` : "";
      return refuse(ws, "invalid_message", `${issue?.message ?? "Not a known message"}${where}.`);
    }
    const frame = parsed.data;
    if (frame.type === "ping") {
      // Only the exact frame is auto-answered; the same message spelled differently lands here.
      sendFrame(ws, PONG_FRAME);
      return;
    }
    if (!this.spendBudget(ws)) {
      return refuse(ws, "rate_limited", "Too many frames; slow down.");
    }
    const attachment = this.attachmentOf(ws);
    if (!attachment) return;
    try {
      // A write from the socket, in a session of its own that starts on the primary.
      const { db } = openDatabaseSession(this.env.DB, "first-primary");
      const result = await markIdsRead(db, attachment.userId, frame.ids, new Date());
      if (result.ids.length > 0) {
        await this.publish({ kind: "read", ids: result.ids, unread_count: result.unreadCount });
      } else {
        // Nothing changed (already read, or not this user's): confirm to the sender only.
        send(ws, { type: "read", ids: [], unread_count: result.unreadCount });
      }
    } catch (error) {
      this.logger.error("mark_read from a socket failed", {
        user_id: attachment.userId,
        error: serializeError(error),
      });
      send(ws, { type: "error", code: "invalid_message", detail: "Could not mark read; try again." });
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    // 1005/1006 mean "no code" and may not be sent back; the runtime may have replied already.
    closeQuietly(ws, code === 1005 || code === 1006 ? 1000 : code, reason);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    this.logger.warn("socket error", {
      user_id: this.attachmentOf(ws)?.userId,
      error: serializeError(error),
    });
  }

  private spendBudget(ws: WebSocket): boolean {
    const now = Date.now();
    const budget = this.budgets.get(ws);
    if (!budget || now - budget.start >= FRAME_BUDGET.windowMs) {
      this.budgets.set(ws, { start: now, count: 1 });
      return true;
    }
    budget.count += 1;
    return budget.count <= FRAME_BUDGET.limit;
  }

  /** Keeps the attachment on the socket (it survives hibernation) and in memory (publish reads it). */
  private attach(ws: WebSocket, attachment: SocketAttachment): void {
    ws.serializeAttachment(attachment);
    this.attachments.set(ws, attachment);
  }

  private attachmentOf(ws: WebSocket): SocketAttachment | null {
    let attachment = this.attachments.get(ws);
    if (attachment === undefined) {
      attachment = (ws.deserializeAttachment() as SocketAttachment | null) ?? null;
      this.attachments.set(ws, attachment);
    }
    return attachment;
  }

  /**
   * Closes the oldest of the user's open sockets beyond `limit` with 4008; runs as `newest` is accepted.
   * Only OPEN sockets count: one already closed stays in getWebSockets() until its client answers
   * the close, and must not cost a live socket its place. The socket being accepted is never a
   * candidate: sockets accepted within the same millisecond tie on connectedAt.
   */
  private closeOldestOverLimit(newest: WebSocket, limit: number): void {
    const open = this.ctx.getWebSockets().filter((ws) => ws.readyState === WebSocket.OPEN);
    const excess = open.length - limit;
    if (excess <= 0) return;
    const oldestFirst = open
      .filter((ws) => ws !== newest)
      .map((ws) => ({ ws, at: this.attachmentOf(ws)?.connectedAt ?? 0 }))
      .sort((a, b) => a.at - b.at);
    for (const { ws } of oldestFirst.slice(0, excess)) {
      closeQuietly(ws, CLOSE_CODES.tooManyConnections, "too many connections");
    }
  }
}

function toServerMessage(event: HubEvent): ServerMessage {
  switch (event.kind) {
    case "notification":
      return { type: "notification", data: event.notification, unread_count: event.unread_count };
    case "read":
      return { type: "read", ids: event.ids, unread_count: event.unread_count };
    case "unread_count":
      return { type: "unread_count", unread_count: event.unread_count };
  }
}

/** A socket that is closing throws on send; the others must still get the frame. */
function sendFrame(ws: WebSocket, frame: string): boolean {
  try {
    ws.send(frame);
    return true;
  } catch {
    return false;
  }
}

function send(ws: WebSocket, message: ServerMessage): void {
  sendFrame(ws, JSON.stringify(message));
}

function refuse(ws: WebSocket, code: ClientFrameErrorCode, detail: string): void {
  send(ws, { type: "error", code, detail });
}

function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  try {
    // The reason is limited to 123 bytes by RFC 6455.
    ws.close(code, reason.slice(0, 120));
  } catch {
    // Already closed or closing.
  }
}
