/**
 * Who may open GET /api/v1/notifications/ws. Decided before the upgrade is handed to
 * the hub, so a refused client gets a plain 401/403 problem and no socket ever opens.
 */
import type { ServiceContext } from "../../lib/context";
import type { ProblemError } from "../../lib/problem";
import { problems } from "../../lib/problem";
import { redeemWsTicket } from "./ws-ticket";

export type SocketCredentials = {
  /** Why the request's Authorization header was refused, when it was (authenticate middleware). */
  authFailure?: ProblemError;
  ticket?: string;
};

/**
 * The user and session the socket belongs to:
 * - a valid Bearer access token (servers, mobile apps) → its session;
 * - a ticket (browsers) → the session it was issued for, ticket spent;
 * - both → they must name the same user (a ticket cannot be used to reach another account);
 * - a refused Authorization header is refused even with a good ticket (credentials never
 *   silently downgrade); an API key is 403 (organizations have no notifications).
 */
export async function authorizeSocket(
  ctx: ServiceContext,
  credentials: SocketCredentials,
  now = Date.now(),
): Promise<{ userId: string; sessionId: string }> {
  if (credentials.authFailure) throw credentials.authFailure;
  const principal = ctx.principal;
  if (principal.kind === "api_key" || principal.kind === "system") {
    throw problems.forbidden("Notification sockets are for signed-in users; API keys cannot open them.");
  }
  if (credentials.ticket !== undefined) {
    const owner = await redeemWsTicket(ctx, credentials.ticket, now);
    if (principal.kind === "user" && principal.userId !== owner.userId) {
      throw problems.unauthorized("The ticket was issued to another account.", "invalid_ws_ticket");
    }
    return owner;
  }
  if (principal.kind === "user") return { userId: principal.userId, sessionId: principal.sessionId };
  throw problems.unauthorized(
    "Send `Authorization: Bearer <access token>` or `?ticket=` from POST /api/v1/notifications/ws-ticket.",
  );
}
