/**
 * The admin broadcast hook through JOBS_QUEUE, and notification retention on cron.
 * broadcastSystemNotification() puts real messages on the real local queue; the tests
 * hand those exact bodies to the Worker's queue handler (createMessageBatch), so batches,
 * redelivery and paging are driven without waiting on the queue's timers.
 */
import { env } from "cloudflare:workers";
import { and, eq, inArray } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { notifications, users } from "../src/db/schema";
import { uuidv7 } from "../src/lib/ids";
import {
  BROADCAST_MAX_USER_IDS,
  broadcastSystemNotification,
} from "../src/modules/notifications/notifications.broadcast";
import { BROADCAST_BATCH_SIZE } from "../src/modules/notifications/notifications.broadcast-message";
import { NOTIFICATION_RETENTION_DAYS, uuidv7Floor } from "../src/modules/notifications/notifications.cron";
import { runCron, runQueueBatch } from "./support/background";
import { createUser, serviceContext, signIn } from "./support/factories";
import { openSocket } from "./support/sockets";

vi.setConfig({ testTimeout: 30_000 });
const db = getDb(env);
const JOBS_QUEUE = "edge-api-jobs";

afterEach(() => vi.restoreAllMocks());

/** Runs broadcastSystemNotification and returns the bodies it put on JOBS_QUEUE. */
async function queueBroadcast(input: Parameters<typeof broadcastSystemNotification>[1]) {
  const send = vi.spyOn(env.JOBS_QUEUE, "send");
  const result = await broadcastSystemNotification(serviceContext(), input);
  const bodies = send.mock.calls.map(([body]) => body);
  send.mockRestore();
  return { ...result, bodies };
}

let seq = 0;
/** The Worker's queue handler on these bodies; returns the acks/retries and what it queued next. */
async function consume(bodies: unknown[]) {
  const send = vi.spyOn(env.JOBS_QUEUE, "send");
  const { result } = await runQueueBatch(
    JOBS_QUEUE,
    bodies.map((body) => ({ id: `b-${++seq}`, body })),
  );
  const queued = send.mock.calls.map(([body]) => body);
  send.mockRestore();
  return { result, queued };
}

const rowsOf = (broadcastId: string) =>
  db.select().from(notifications).where(eq(notifications.broadcastId, broadcastId));

describe("broadcast to named users", () => {
  it("sends one system notification per active user, in batches, pushed live", async () => {
    const people = [];
    for (let i = 0; i < BROADCAST_BATCH_SIZE + 20; i++) people.push((await createUser()).user);
    const inactive = (await createUser({ isActive: false })).user;
    const watcher = people[0];
    if (!watcher) throw new Error("no users");
    const socket = await openSocket("", { token: (await signIn(watcher)).accessToken });
    await socket.next("hello");

    const ids = [...people.map((p) => p.id), inactive.id, people[1]?.id as string];
    const { broadcastId, messages, bodies } = await queueBroadcast({
      title: "Scheduled maintenance",
      message: "The API will be read-only on Sunday 02:00–02:30 UTC.",
      target_url: "/status",
      user_ids: ids,
    });
    expect(messages).toBe(2);
    expect(bodies).toHaveLength(2);
    expect(bodies[0]).toMatchObject({
      type: "notifications.broadcast",
      broadcast_id: broadcastId,
      audience: { kind: "users" },
      notification: { title: "Scheduled maintenance", target_url: "/status" },
    });

    const { result } = await consume(bodies);
    expect(result.retryMessages).toEqual([]);
    const rows = await rowsOf(broadcastId);
    expect(rows).toHaveLength(people.length); // the duplicate id and the inactive user got nothing
    expect(new Set(rows.map((row) => row.userId))).toEqual(new Set(people.map((p) => p.id)));
    expect(rows.every((row) => row.type === "system" && row.readAt === null)).toBe(true);
    const pushed = await socket.next("notification");
    expect(pushed.data).toMatchObject({
      type: "system",
      title: "Scheduled maintenance",
      target_url: "/status",
    });

    // Redelivery (at-least-once) inserts and pushes nothing twice.
    expect((await consume(bodies)).result.retryMessages).toEqual([]);
    expect(await rowsOf(broadcastId)).toHaveLength(people.length);
    expect(socket.received.filter((frame) => frame.type === "notification")).toHaveLength(1);
    socket.close();
  });

  it("refuses input a caller should never send", async () => {
    const ctx = serviceContext();
    await expect(broadcastSystemNotification(ctx, { title: "", message: "x" })).rejects.toThrow(/title/);
    await expect(
      broadcastSystemNotification(ctx, { title: "t", message: "m", user_ids: [] }),
    ).rejects.toThrow(RangeError);
    const tooMany = Array.from({ length: BROADCAST_MAX_USER_IDS + 1 }, () => uuidv7());
    await expect(
      broadcastSystemNotification(ctx, { title: "t", message: "m", user_ids: tooMany }),
    ).rejects.toThrow(RangeError);
    // A malformed message never reaches a handler: enqueue refuses it.
    await expect(
      broadcastSystemNotification(ctx, { title: "t", message: "m", user_ids: ["not-a-uuid"] }),
    ).rejects.toThrow();
  });
});

describe("broadcast to everyone", () => {
  it("pages through every active user, each batch queueing the next", async () => {
    for (let i = 0; i < BROADCAST_BATCH_SIZE + 5; i++) await createUser();
    await createUser({ isActive: false });
    const { broadcastId, bodies } = await queueBroadcast({ title: "Hello all", message: "Welcome to v2." });
    expect(bodies).toEqual([expect.objectContaining({ audience: { kind: "all_active", after: null } })]);

    let pending = bodies;
    let rounds = 0;
    while (pending.length > 0 && rounds < 10) {
      const { result, queued } = await consume(pending);
      expect(result.retryMessages).toEqual([]);
      pending = queued.filter((body) => (body as { broadcast_id?: string }).broadcast_id === broadcastId);
      rounds += 1;
    }
    const active = await db.select({ id: users.id }).from(users).where(eq(users.isActive, true));
    const rows = await rowsOf(broadcastId);
    expect(rows).toHaveLength(active.length);
    expect(rounds).toBe(Math.floor(active.length / BROADCAST_BATCH_SIZE) + 1);
  });
});

/**
 * A UUIDv7 for a past instant. uuidv7(now) never goes back in time within an isolate (it
 * keeps ids monotonic), so the timestamp field is written here directly.
 */
function idAt(ms: number): string {
  const hex = ms.toString(16).padStart(12, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}${uuidv7().slice(13)}`;
}

describe("retention", () => {
  it("deletes notifications older than the retention period on the daily cron run", async () => {
    const { user } = await createUser();
    const day = 24 * 60 * 60 * 1000;
    const midnight = Math.floor(Date.now() / day) * day;
    const oldAt = midnight - (NOTIFICATION_RETENTION_DAYS + 1) * day;
    const recentAt = midnight - (NOTIFICATION_RETENTION_DAYS - 1) * day;
    const old = idAt(oldAt);
    const recent = idAt(recentAt);
    await db.insert(notifications).values([
      { id: old, userId: user.id, type: "system", title: "Old", message: "…", createdAt: new Date(oldAt) },
      {
        id: recent,
        userId: user.id,
        type: "system",
        title: "Recent",
        message: "…",
        createdAt: new Date(recentAt),
      },
    ]);
    expect(uuidv7Floor(oldAt + 1) > old).toBe(true);

    const outcomes = await runCron(midnight);
    expect(outcomes).toContainEqual({ job: "notifications.purge_old", ok: true, result: { deleted: 1 } });
    const left = await db
      .select({ id: notifications.id })
      .from(notifications)
      .where(and(eq(notifications.userId, user.id), inArray(notifications.id, [old, recent])));
    expect(left).toEqual([{ id: recent }]);
  });
});
