/**
 * What notifications does when other modules act on a user: revoked sessions lose
 * their sockets, an erased account loses its notifications. Registered from
 * notifications.index.ts.
 */
import { eq } from "drizzle-orm";
import { notifications } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import type { AccountErasureStep } from "../auth/accounts";
import type { RevocationReason, SessionRevocationHook } from "../auth/sessions.service";
import { notificationHub } from "./notification-hub.client";
import { CLOSE_CODES } from "./notification-hub.protocol";

const ACCOUNT_CLOSED: readonly RevocationReason[] = ["account_deleted", "account_disabled"];

/**
 * Revoked session → its sockets close with 4001 and the revocation reason; a deleted or
 * disabled account → every socket of the user closes with 4003.
 */
export const closeRevokedSockets: SessionRevocationHook = async (ctx, revoked) => {
  const hub = notificationHub(ctx.env, revoked.userId);
  const closed = ACCOUNT_CLOSED.includes(revoked.reason)
    ? await hub.close(null, CLOSE_CODES.accountClosed, revoked.reason)
    : await hub.close(revoked.sessionIds, CLOSE_CODES.sessionRevoked, revoked.reason);
  if (closed > 0) {
    ctx.logger.info("closed sockets of revoked sessions", {
      user_id: revoked.userId,
      reason: revoked.reason,
      sockets: closed,
    });
  }
};

/** In the account-erasure batch (the foreign key cascades too; this keeps the erasure explicit). */
export const eraseNotifications: AccountErasureStep = async (ctx: ServiceContext, userId: string) => [
  ctx.db.delete(notifications).where(eq(notifications.userId, userId)),
];
