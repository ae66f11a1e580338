import { DurableObject } from "cloudflare:workers";

/**
 * One instance per user (idFromName(userId)): that user's open WebSockets and
 * the fan-out of their notifications. The realtime issue fills in the socket
 * handling; until then it only answers the liveness RPC that tests and health use.
 */
export class NotificationHub extends DurableObject<Cloudflare.Env> {
  /** Proves the namespace binding and the class are wired. */
  async ping(): Promise<"pong"> {
    return "pong";
  }
}
