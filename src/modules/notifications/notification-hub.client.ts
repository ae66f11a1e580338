/**
 * Thin typed access to a user's NotificationHub (one Durable Object per user,
 * addressed by idFromName(userId)). Everything outside the hub goes through here.
 */
import type { Bindings } from "../../env";
import type { HubEvent } from "./notification-hub.protocol";

/** What the Worker tells the hub about a socket it has authenticated. */
export type HubConnection = {
  userId: string;
  sessionId: string;
  /** Replay notifications created after this id before live events. */
  since?: string;
  /**
   * The D1 bookmark of the request that authorised the socket (`ctx.dbSession.bookmark()`):
   * the hub reads the unread count and the replay at least as fresh as that request did.
   */
  d1Bookmark?: string | null;
  /**
   * NOTIFICATIONS_MAX_SOCKETS_PER_USER of the Worker's parsed configuration: the most sockets the
   * user may hold; connecting one more closes the oldest. Sent with each connection rather than
   * read by the hub, so the one validated configuration of the request decides.
   */
  maxSockets: number;
};

const CONNECT_URL = "https://notification-hub.internal/connect";

function stub(env: Pick<Bindings, "NOTIFICATION_HUB">, userId: string) {
  return env.NOTIFICATION_HUB.get(env.NOTIFICATION_HUB.idFromName(userId));
}

export function notificationHub(env: Pick<Bindings, "NOTIFICATION_HUB">, userId: string) {
  const hub = stub(env, userId);
  return {
    /** Sends the event to every open socket of the user; resolves to how many sockets got it. */
    publish: (event: HubEvent): Promise<number> => hub.publish(event),
    /** Closes the sockets opened with these sessions (every socket when `sessionIds` is null). */
    close: (sessionIds: string[] | null, code: number, reason: string): Promise<number> =>
      hub.closeSockets(sessionIds, code, reason),
    /**
     * Records a WebSocket ticket as spent. The hub is one strongly consistent object per
     * user, so this is exact where the KV delete is only eventually consistent.
     */
    claimTicket: (ticketHash: string, expiresAt: number, now: number): Promise<boolean> =>
      hub.claimTicket(ticketHash, expiresAt, now),
    connectionCount: (): Promise<number> => hub.connectionCount(),
    /**
     * Hands an authenticated upgrade to the hub. A fresh request is built so that nothing
     * the client sent (headers, query) reaches the hub except what was checked here.
     */
    connect: (connection: HubConnection): Promise<Response> => {
      const url = new URL(CONNECT_URL);
      url.searchParams.set("user_id", connection.userId);
      url.searchParams.set("session_id", connection.sessionId);
      url.searchParams.set("max_sockets", String(connection.maxSockets));
      if (connection.since) url.searchParams.set("since", connection.since);
      if (connection.d1Bookmark) url.searchParams.set("d1_bookmark", connection.d1Bookmark);
      return hub.fetch(url.toString(), { headers: { Upgrade: "websocket" } });
    },
  };
}
