/**
 * The platform summary, the waitlist under /admin/v1 and notification broadcasts.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { notifications, preRegistrations, stripeEvents, tasks } from "../src/db/schema";
import type { AdminSummaryDto } from "../src/modules/admin/admin-operations.schemas";
import type { PreRegistrationDto } from "../src/modules/pre-registrations/pre-registrations.schemas";
import { auditRowsOf } from "./support/audit";
import { createStaff, createUser, signIn } from "./support/factories";
import { api, as, jsonOf, type Page, problemOf } from "./support/http";
import { createOrg } from "./support/orgs";

const db = getDb(env);

let staffToken: string;
beforeAll(async () => {
  staffToken = (await signIn((await createStaff()).user)).accessToken;
});
afterEach(() => vi.restoreAllMocks());

const summary = async () => jsonOf<AdminSummaryDto>(await as(staffToken).get("/admin/v1/summary"), 200);

describe("GET /admin/v1/summary", () => {
  it("counts what was added, field by field", async () => {
    const before = await summary();

    const verified = (await createUser({ emailVerifiedAt: new Date() })).user;
    await createUser({ isActive: false });
    // Created a week ago: counted, but not as new in the last 24 h.
    await createUser({ createdAt: new Date(Date.now() - 7 * 24 * 60 * 60 * 1000) });
    await createOrg(verified);
    await signIn(verified);
    await db.insert(tasks).values([
      { ownerUserId: verified.id, type: "add", payload: {}, runAt: new Date(), status: "FAILURE" },
      { ownerUserId: verified.id, type: "add", payload: {}, runAt: new Date(), status: "FAILURE" },
      { ownerUserId: verified.id, type: "add", payload: {}, runAt: new Date(), status: "SUCCESS" },
    ]);
    await db.insert(notifications).values([
      { userId: verified.id, type: "system", title: "t", message: "m" },
      { userId: verified.id, type: "system", title: "t", message: "m", readAt: new Date() },
    ]);
    const event = (type: string) => ({
      id: `evt_${crypto.randomUUID().replaceAll("-", "")}`,
      type,
      livemode: false,
      stripeCreatedAt: new Date(),
      payload: "{}",
    });
    await db
      .insert(stripeEvents)
      .values([event("invoice.paid"), event("invoice.paid"), event("checkout.session.completed")]);

    const after = await summary();
    expect(after.users.total - before.users.total).toBe(3);
    expect(after.users.verified - before.users.verified).toBe(1);
    expect(after.users.active - before.users.active).toBe(2);
    expect(after.users.new_24h - before.users.new_24h).toBe(2);
    expect(after.users.staff).toBe(before.users.staff);
    expect(after.organizations.total - before.organizations.total).toBe(1);
    expect(after.sessions.active - before.sessions.active).toBe(1);
    expect(after.tasks.by_status.FAILURE - before.tasks.by_status.FAILURE).toBe(2);
    expect(after.tasks.by_status.SUCCESS - before.tasks.by_status.SUCCESS).toBe(1);
    expect(after.tasks.total - before.tasks.total).toBe(3);
    expect(after.notifications.unread - before.notifications.unread).toBe(1);
    expect(after.stripe_events.total - before.stripe_events.total).toBe(3);
    expect(
      (after.stripe_events.by_type["invoice.paid"] ?? 0) -
        (before.stripe_events.by_type["invoice.paid"] ?? 0),
    ).toBe(2);
    expect(Date.parse(after.generated_at)).toBeGreaterThan(Date.parse(before.generated_at) - 1);
  });
});

describe("the waitlist under /admin/v1", () => {
  it("lists and exports the same entries as CSV", async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    await db
      .insert(preRegistrations)
      .values([{ email: `a-${tag}@example.test` }, { email: `=cmd-${tag}@example.test` }]);
    const page = await jsonOf<Page<PreRegistrationDto>>(
      await as(staffToken).get(`/admin/v1/pre-registrations?q=${tag}&sort=email`),
      200,
    );
    expect(page.data.map((entry) => entry.email)).toEqual([
      `=cmd-${tag}@example.test`,
      `a-${tag}@example.test`,
    ]);

    const res = await as(staffToken).get("/admin/v1/pre-registrations/export.csv");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="pre-registrations-/);
    const csv = await res.text();
    expect(csv.startsWith("id,email,created_at\r\n")).toBe(true);
    expect(csv).toContain(`,a-${tag}@example.test,`);
    // A cell a spreadsheet would evaluate is defused.
    expect(csv).toContain(`,'=cmd-${tag}@example.test,`);
  });
});

describe("POST /admin/v1/notifications/broadcast", () => {
  const broadcast = (body: unknown, requestId = crypto.randomUUID()) =>
    api("POST", "/admin/v1/notifications/broadcast", {
      token: staffToken,
      body,
      headers: { "x-request-id": requestId },
    });

  it("queues the broadcast, answers 202 with its id, and records one audit row", async () => {
    const send = vi.spyOn(env.JOBS_QUEUE, "send").mockResolvedValue({
      metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } },
    });
    const recipients = [(await createUser()).user.id, (await createUser()).user.id];
    const requestId = `broadcast-${crypto.randomUUID()}`;
    const res = await broadcast(
      {
        title: "Maintenance",
        message: "Read-only at 02:00 UTC.",
        target_url: "/status",
        user_ids: recipients,
      },
      requestId,
    );
    const body = await jsonOf<{ broadcast_id: string; audience: string; queue_messages: number }>(res, 202);
    expect(body).toMatchObject({ audience: "users", queue_messages: 1 });
    expect(send).toHaveBeenCalledTimes(1);
    expect(send.mock.calls[0]?.[0]).toMatchObject({
      type: "notifications.broadcast",
      broadcast_id: body.broadcast_id,
      audience: { kind: "users", user_ids: recipients },
    });
    const rows = await auditRowsOf(requestId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      action: "notification.broadcast",
      targetType: "broadcast",
      targetId: body.broadcast_id,
      before: null,
      after: {
        title: "Maintenance",
        audience: "users",
        recipients: 2,
        queue_messages: 1,
        target_url: "/status",
      },
    });
  });

  it("broadcasts to every active user when user_ids is left out", async () => {
    const send = vi.spyOn(env.JOBS_QUEUE, "send").mockResolvedValue({
      metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } },
    });
    const body = await jsonOf<{ audience: string }>(
      await broadcast({ title: "Hello", message: "Everyone." }),
      202,
    );
    expect(body.audience).toBe("all_active");
    expect(send.mock.calls[0]?.[0]).toMatchObject({ audience: { kind: "all_active", after: null } });
  });

  it("answers 400 naming the field for bad bodies, and queues nothing", async () => {
    const send = vi.spyOn(env.JOBS_QUEUE, "send");
    const ok = { title: "T", message: "M" };
    const cases: Array<[unknown, string]> = [
      [{ message: "M" }, "/title"],
      [{ ...ok, title: "x".repeat(201) }, "/title"],
      [{ ...ok, title: "line\nbreak" }, "/title"],
      [{ ...ok, message: "   " }, "/message"],
      [{ ...ok, target_url: "javascript:alert(1)" }, "/target_url"],
      [{ ...ok, target_url: "//evil.example" }, "/target_url"],
      [{ ...ok, user_ids: [] }, "/user_ids"],
      [{ ...ok, user_ids: ["not-a-uuid"] }, "/user_ids/0"],
      [{ ...ok, data: { blob: "x".repeat(9_000) } }, "/data"],
      [{ ...ok, audience: "everyone" }, ""],
    ];
    for (const [body, pointer] of cases) {
      const problem = await problemOf(await broadcast(body), 400);
      expect(problem.code, JSON.stringify(body).slice(0, 80)).toBe("validation_failed");
      if (pointer) {
        expect(
          problem.errors?.map((e) => e.pointer),
          JSON.stringify(body).slice(0, 80),
        ).toContain(pointer);
      }
    }
    expect(send).not.toHaveBeenCalled();
  });
});
