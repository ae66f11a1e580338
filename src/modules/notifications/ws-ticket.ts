/**
 * WebSocket tickets: browsers cannot put an Authorization header on a WebSocket, so
 * they trade their access token for a ticket (POST /ws-ticket) and open
 * `/ws?ticket=…`. A ticket is 32 random bytes, valid for 30 seconds, good for one
 * connection, and bound to the session that asked for it (revoking the session
 * voids it).
 *
 * Stored in AUTH_KV under the SHA-256 of the ticket (a leaked KV listing holds
 * nothing usable). KV refuses TTLs under 60 s, so the entry lives 60 s and carries
 * its own 30-second expiry, which redemption enforces.
 *
 * Single use: redemption deletes the KV entry at once, but KV is eventually
 * consistent: for up to about a minute another Cloudflare location may still read
 * the entry. So the ticket is also claimed in the user's NotificationHub (one
 * strongly consistent object per user), which refuses a second claim wherever it
 * comes from. The KV delete keeps the common case cheap; the hub makes it exact.
 */
import { z } from "zod";
import type { ServiceContext } from "../../lib/context";
import { randomToken, sha256Hex } from "../../lib/crypto";
import { serializeError } from "../../lib/logger";
import { problems } from "../../lib/problem";
import { isSessionRevoked, KV_MIN_TTL_SECONDS } from "../auth/sessions.service";
import { notificationHub } from "./notification-hub.client";

export const WS_TICKET_TTL_SECONDS = 30;
const TICKET_PREFIX = "wst_";
/** `wst_` + 32 bytes in base64url (43 characters). */
const TICKET_PATTERN = /^wst_[A-Za-z0-9_-]{43}$/;
const KV_PREFIX = "ws-ticket:";

const storedTicket = z.object({
  user_id: z.string(),
  session_id: z.string(),
  expires_at: z.number(),
});

export type WsTicket = { ticket: string; expiresAt: Date };

const invalidTicket = (detail: string) => problems.unauthorized(detail, "invalid_ws_ticket");

const kvKey = (hash: string) => `${KV_PREFIX}${hash}`;

/** A ticket for the signed-in caller's session. `now` is injectable so tests can age a ticket. */
export async function issueWsTicket(ctx: ServiceContext, now = Date.now()): Promise<WsTicket> {
  if (ctx.principal.kind !== "user") throw problems.unauthorized();
  const ticket = `${TICKET_PREFIX}${randomToken(32)}`;
  const expiresAt = now + WS_TICKET_TTL_SECONDS * 1000;
  const value: z.infer<typeof storedTicket> = {
    user_id: ctx.principal.userId,
    session_id: ctx.principal.sessionId,
    expires_at: expiresAt,
  };
  try {
    await ctx.env.AUTH_KV.put(kvKey(await sha256Hex(ticket)), JSON.stringify(value), {
      expirationTtl: KV_MIN_TTL_SECONDS,
    });
  } catch (error) {
    ctx.logger.error("could not store a WebSocket ticket", { error: serializeError(error) });
    throw problems.serviceUnavailable(
      "Tickets cannot be issued right now; retry, or connect with a Bearer header.",
    );
  }
  return { ticket, expiresAt: new Date(expiresAt) };
}

/**
 * The session a ticket was issued for, spending the ticket. Any failure is the same
 * 401 `invalid_ws_ticket` (with a detail saying which), before any socket opens.
 */
export async function redeemWsTicket(
  ctx: ServiceContext,
  ticket: string,
  now = Date.now(),
): Promise<{ userId: string; sessionId: string }> {
  if (!TICKET_PATTERN.test(ticket)) throw invalidTicket("The ticket is malformed.");
  const hash = await sha256Hex(ticket);
  let raw: string | null;
  try {
    raw = await ctx.env.AUTH_KV.get(kvKey(hash));
  } catch (error) {
    ctx.logger.error("could not read a WebSocket ticket", { error: serializeError(error) });
    throw problems.serviceUnavailable("Tickets cannot be checked right now; retry shortly.");
  }
  const parsed = raw === null ? null : storedTicket.safeParse(safeJson(raw));
  if (!parsed?.success) throw invalidTicket("The ticket is unknown, already used or expired.");
  const stored = parsed.data;

  // Spent whatever happens next: a ticket is never good for a second try.
  try {
    await ctx.env.AUTH_KV.delete(kvKey(hash));
  } catch (error) {
    ctx.logger.warn("could not delete a spent WebSocket ticket", { error: serializeError(error) });
  }
  if (stored.expires_at <= now) throw invalidTicket("The ticket has expired; tickets last 30 seconds.");
  const claimed = await notificationHub(ctx.env, stored.user_id).claimTicket(hash, stored.expires_at, now);
  if (!claimed) throw invalidTicket("The ticket was already used.");
  if (await isSessionRevoked(ctx, stored.session_id, now)) {
    throw invalidTicket("The session the ticket was issued for has been revoked.");
  }
  return { userId: stored.user_id, sessionId: stored.session_id };
}

function safeJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return null;
  }
}
