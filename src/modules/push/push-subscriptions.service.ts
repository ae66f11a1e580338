/**
 * The caller's devices that receive push notifications: registered, listed and
 * removed under /users/me/push-subscriptions. A device is its endpoint (Web Push) or
 * token (FCM), unique across accounts, so registering it again updates the one row,
 * and the account that registered it last is the one it receives for. Each row is
 * tied to the session that registered it (signing out stops the pushes), and a user
 * keeps at most MAX_PUSH_SUBSCRIPTIONS_PER_USER devices: the least recently
 * registered one makes room for a new one.
 */
import { and, eq, inArray, notInArray, sql } from "drizzle-orm";
import { chunk, D1_IDS_PER_STATEMENT } from "../../db/batch";
import { type PushSubscription, pushSubscriptions } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { base64urlDecode } from "../../lib/crypto";
import { uuidv7 } from "../../lib/ids";
import type { SortTerm } from "../../lib/list-query";
import { outboundUrlRefusal } from "../../lib/outbound-url";
import { keysetPage, listPage, type Page } from "../../lib/pagination";
import { currentUser } from "../../lib/principal";
import { problems } from "../../lib/problem";
import type { CreatePushSubscriptionInput, PushSubscriptionDto } from "./push.schemas";
import { MAX_PUSH_SUBSCRIPTIONS_PER_USER } from "./push-limits";
import { pushNotConfigured } from "./vapid";

export function toPushSubscriptionDto(row: PushSubscription): PushSubscriptionDto {
  return {
    id: row.id,
    type: row.type,
    endpoint: row.type === "webpush" ? row.target : null,
    token: row.type === "fcm" ? row.target : null,
    user_agent: row.userAgent,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    last_delivered_at: row.lastDeliveredAt?.toISOString() ?? null,
  };
}

/** A P-256 point Web Crypto accepts: a string of the right length can still be off the curve. */
async function isP256PublicKey(base64url: string): Promise<boolean> {
  try {
    await crypto.subtle.importKey(
      "raw",
      base64urlDecode(base64url.replace(/=+$/, "")),
      { name: "ECDH", namedCurve: "P-256" },
      false,
      [],
    );
    return true;
  } catch {
    return false;
  }
}

/** The checks that need the configuration or Web Crypto: each refusal names its field, like a schema's. */
async function checkSubscription(ctx: ServiceContext, input: CreatePushSubscriptionInput): Promise<void> {
  if (input.type === "fcm") {
    if (!ctx.config.FCM_SERVICE_ACCOUNT) {
      throw pushNotConfigured("FCM is not configured on this server: FCM_SERVICE_ACCOUNT is not set.");
    }
    return;
  }
  if (!ctx.config.VAPID_PRIVATE_KEY) {
    throw pushNotConfigured("Web Push is not configured on this server: VAPID_PRIVATE_KEY is not set.");
  }
  const refusal = outboundUrlRefusal(new URL(input.endpoint), { production: ctx.config.isProduction });
  if (refusal) throw problems.validation([{ pointer: "/endpoint", detail: `The endpoint ${refusal}.` }]);
  if (!(await isP256PublicKey(input.keys.p256dh))) {
    throw problems.validation([
      { pointer: "/keys/p256dh", detail: "The key is not a point on the P-256 curve." },
    ]);
  }
}

/**
 * POST /users/me/push-subscriptions. Returns the row and whether it is new (201) or a
 * device registered before, now updated and possibly moved to this account (200).
 */
export async function subscribeDevice(
  ctx: ServiceContext,
  input: CreatePushSubscriptionInput,
  userAgent: string | null,
): Promise<{ subscription: PushSubscription; created: boolean }> {
  const me = currentUser(ctx);
  await checkSubscription(ctx, input);
  const id = uuidv7();
  const now = new Date();
  const fields = {
    userId: me.userId,
    sessionId: me.sessionId,
    type: input.type,
    target: input.type === "webpush" ? input.endpoint : input.token,
    p256dh: input.type === "webpush" ? input.keys.p256dh.replace(/=+$/, "") : null,
    auth: input.type === "webpush" ? input.keys.auth.replace(/=+$/, "") : null,
    userAgent: userAgent?.slice(0, 512) ?? null,
    updatedAt: now,
  };
  // One batch (one transaction): the upsert, then the user's oldest registrations beyond the cap.
  const newest = ctx.db
    .select({ id: pushSubscriptions.id })
    .from(pushSubscriptions)
    .where(eq(pushSubscriptions.userId, me.userId))
    .orderBy(sql`${pushSubscriptions.updatedAt} desc`, sql`${pushSubscriptions.id} desc`)
    .limit(MAX_PUSH_SUBSCRIPTIONS_PER_USER);
  const [[row]] = await ctx.db.batch([
    ctx.db
      .insert(pushSubscriptions)
      .values({ id, createdAt: now, ...fields })
      .onConflictDoUpdate({
        target: pushSubscriptions.target,
        set: {
          ...fields,
          // A device that changes hands starts afresh; its own user re-registering keeps its history.
          createdAt: sql`case when ${pushSubscriptions.userId} = ${me.userId} then ${pushSubscriptions.createdAt} else ${now.getTime()} end`,
          lastDeliveredAt: sql`case when ${pushSubscriptions.userId} = ${me.userId} then ${pushSubscriptions.lastDeliveredAt} else null end`,
        },
      })
      .returning(),
    ctx.db
      .delete(pushSubscriptions)
      .where(and(eq(pushSubscriptions.userId, me.userId), notInArray(pushSubscriptions.id, newest))),
  ]);
  if (!row) throw new Error("subscribeDevice(): the upsert returned no row");
  ctx.logger.info("push subscription registered", {
    subscription_id: row.id,
    type: row.type,
    created: row.id === id,
  });
  return { subscription: row, created: row.id === id };
}

export async function listDevices(
  ctx: ServiceContext,
  query: { limit: number; cursor?: string; sort: SortTerm[] },
): Promise<Page<PushSubscriptionDto>> {
  const me = currentUser(ctx);
  const page = keysetPage<PushSubscription>({
    sort: query.sort,
    columns: {
      created_at: { column: pushSubscriptions.createdAt, read: (row) => row.createdAt.getTime() },
    },
    tiebreaker: { column: pushSubscriptions.id, read: (row) => row.id },
    limit: query.limit,
    cursor: query.cursor,
  });
  const result = await listPage(ctx.db, page, {
    rows: ctx.db.select().from(pushSubscriptions).$dynamic(),
    countFrom: pushSubscriptions,
    where: eq(pushSubscriptions.userId, me.userId),
  });
  return { data: result.data.map(toPushSubscriptionDto), meta: result.meta };
}

/** DELETE /users/me/push-subscriptions/{id}: another user's id is a 404, like one that does not exist. */
export async function removeDevice(ctx: ServiceContext, id: string): Promise<void> {
  const me = currentUser(ctx);
  const deleted = await ctx.db
    .delete(pushSubscriptions)
    .where(and(eq(pushSubscriptions.id, id), eq(pushSubscriptions.userId, me.userId)))
    .returning({ id: pushSubscriptions.id });
  if (deleted.length === 0) throw problems.notFound("push subscription");
}

// ---------------------------------------------------------------------------
// For delivery

/** The user's devices (only `ids` of them when given). */
export function devicesOf(ctx: ServiceContext, userId: string, ids?: string[]): Promise<PushSubscription[]> {
  return ctx.db
    .select()
    .from(pushSubscriptions)
    .where(
      and(
        eq(pushSubscriptions.userId, userId),
        ids && ids.length > 0 ? inArray(pushSubscriptions.id, ids) : undefined,
      ),
    );
}

/** Which of `userIds` have at least one device: the others are never sent a push job. */
export async function usersWithDevices(ctx: ServiceContext, userIds: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (const ids of chunk([...new Set(userIds)], D1_IDS_PER_STATEMENT)) {
    const rows = await ctx.db
      .selectDistinct({ userId: pushSubscriptions.userId })
      .from(pushSubscriptions)
      .where(inArray(pushSubscriptions.userId, ids));
    for (const row of rows) found.add(row.userId);
  }
  return found;
}
