/**
 * One notification to every device of one user, side by side: Web Push for browsers,
 * FCM for apps. Devices the push service says are gone (404/410, UNREGISTERED …) are
 * removed; devices that took it get `last_delivered_at`; the ids of devices worth
 * another try come back to the caller (the push job), which has them tried again.
 * Endpoints and tokens are capabilities (whoever has one can push to that device), so
 * logs name a device by its id and its push service's host, never by its URL or token.
 */
import { inArray } from "drizzle-orm";
import { type PushSubscription, pushSubscriptions } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import { outboundUrlRefusal } from "../../lib/outbound-url";
import { sendFcm } from "./fcm";
import type { PushContent } from "./push-content";
import type { PushOutcome } from "./push-outcome";
import { devicesOf } from "./push-subscriptions.service";
import { vapidKeys, vapidSubject } from "./vapid";
import { sendWebPush } from "./web-push";

export type DevicesReport = {
  /** Devices tried. */
  attempted: number;
  delivered: number;
  /** Removed: the push service said the device is gone. */
  pruned: number;
  /** Refused for good this time (kept: the cause is ours, e.g. a rotated VAPID key). */
  failed: number;
  /** Ids of the devices worth another try, and the longest Retry-After their services asked for. */
  retry: string[];
  retryAfterSeconds?: number;
};

export async function pushToDevices(
  ctx: ServiceContext,
  userId: string,
  content: PushContent,
  onlyIds?: string[],
): Promise<DevicesReport> {
  const devices = await devicesOf(ctx, userId, onlyIds);
  const report: DevicesReport = { attempted: devices.length, delivered: 0, pruned: 0, failed: 0, retry: [] };
  if (devices.length === 0) return report;

  const outcomes = await Promise.all(
    devices.map(async (device) => [device, await pushToDevice(ctx, device, content)] as const),
  );
  const gone: string[] = [];
  const delivered: string[] = [];
  for (const [device, outcome] of outcomes) {
    if (outcome.result === "delivered") {
      delivered.push(device.id);
      continue;
    }
    const where = {
      subscription_id: device.id,
      type: device.type,
      push_service: device.type === "webpush" ? new URL(device.target).host : "fcm.googleapis.com",
      status: outcome.status,
      reason: outcome.reason,
    };
    if (outcome.result === "gone") {
      gone.push(device.id);
      ctx.logger.info("push subscription gone; removed", where);
    } else if (outcome.result === "retry") {
      report.retry.push(device.id);
      report.retryAfterSeconds = Math.max(report.retryAfterSeconds ?? 0, outcome.retryAfterSeconds ?? 0);
      ctx.logger.warn("push not accepted; will retry", where);
    } else {
      report.failed += 1;
      ctx.logger.error("push refused; not retried", where);
    }
  }
  report.delivered = delivered.length;
  report.pruned = gone.length;
  const writes = [
    ...(gone.length > 0 ? [ctx.db.delete(pushSubscriptions).where(inArray(pushSubscriptions.id, gone))] : []),
    ...(delivered.length > 0
      ? [
          ctx.db
            .update(pushSubscriptions)
            .set({ lastDeliveredAt: new Date() })
            .where(inArray(pushSubscriptions.id, delivered)),
        ]
      : []),
  ];
  const [first, ...rest] = writes;
  if (first) await ctx.db.batch([first, ...rest]);
  return report;
}

async function pushToDevice(
  ctx: ServiceContext,
  device: PushSubscription,
  content: PushContent,
): Promise<PushOutcome> {
  if (device.type === "fcm") {
    const account = ctx.config.FCM_SERVICE_ACCOUNT;
    if (!account) return { result: "failed", status: null, reason: "FCM_SERVICE_ACCOUNT is not set" };
    return sendFcm(account, device.target, content);
  }
  // Checked at registration too; checked again here because the rules of this environment may be stricter
  // than those of the one that wrote the row (a database copied from development).
  const refusal = outboundUrlRefusal(new URL(device.target), { production: ctx.config.isProduction });
  if (refusal) return { result: "gone", status: null, reason: `endpoint ${refusal}` };
  if (!device.p256dh || !device.auth) return { result: "gone", status: null, reason: "no encryption keys" };
  if (!ctx.config.VAPID_PRIVATE_KEY) {
    return { result: "failed", status: null, reason: "VAPID_PRIVATE_KEY is not set" };
  }
  const keys = await vapidKeys(ctx.config);
  return sendWebPush({ endpoint: device.target, p256dh: device.p256dh, auth: device.auth }, content, {
    keys,
    subject: vapidSubject(ctx.config),
  });
}
