/**
 * The audit log itself: append-only in SQL (triggers), the helper that writes rows
 * (same batch, conditional rows, redaction) and GET /admin/v1/audit-logs (filters,
 * cursor pages, bad input).
 */
import { env } from "cloudflare:workers";
import { eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../src/db/client";
import { auditLogs, preRegistrations, users } from "../src/db/schema";
import { systemPrincipal } from "../src/lib/principal";
import { REDACTED } from "../src/modules/audit/audit.redact";
import type { AuditLogDto } from "../src/modules/audit/audit.schemas";
import { AFTER_CHANGE, audit, auditStatement } from "../src/modules/audit/audit.service";
import { createStaff, createUser, serviceContext, signIn } from "./support/factories";
import { as, jsonOf, type Page, problemOf } from "./support/http";

const db = getDb(env);

const rowsFor = (targetId: string) => db.select().from(auditLogs).where(eq(auditLogs.targetId, targetId));

describe("append-only in the database", () => {
  let id: string;
  beforeAll(async () => {
    const target = crypto.randomUUID();
    await audit(serviceContext(), {
      action: "user.update",
      target: { type: "user", id: target },
      after: { a: 1 },
    });
    const [row] = await rowsFor(target);
    if (!row) throw new Error("no audit row");
    id = row.id;
  });

  it("refuses UPDATE of a row, through raw SQL", async () => {
    await expect(
      env.DB.prepare("UPDATE audit_logs SET action = 'forged' WHERE id = ?").bind(id).run(),
    ).rejects.toThrow(/append-only/);
    await expect(env.DB.prepare("UPDATE audit_logs SET after = NULL").run()).rejects.toThrow(/append-only/);
  });

  it("refuses DELETE of a row, and of every row", async () => {
    await expect(env.DB.prepare("DELETE FROM audit_logs WHERE id = ?").bind(id).run()).rejects.toThrow(
      /append-only/,
    );
    await expect(env.DB.prepare("DELETE FROM audit_logs").run()).rejects.toThrow(/append-only/);
    const [row] = await db.select().from(auditLogs).where(eq(auditLogs.id, id));
    expect(row?.action).toBe("user.update");
  });

  it("refuses through drizzle too, and an attempt inside a batch rolls the whole batch back", async () => {
    await expect(
      db.update(auditLogs).set({ actorId: "someone-else" }).where(eq(auditLogs.id, id)),
    ).rejects.toThrow();
    const email = `rolled-back-${crypto.randomUUID()}@example.test`;
    await expect(
      db.batch([
        db.insert(preRegistrations).values({ email }),
        db.delete(auditLogs).where(eq(auditLogs.id, id)),
      ]),
    ).rejects.toThrow();
    expect(await db.select().from(preRegistrations).where(eq(preRegistrations.email, email))).toEqual([]);
  });

  it("still accepts new rows", async () => {
    const target = crypto.randomUUID();
    expect(
      await audit(serviceContext(), { action: "user.delete", target: { type: "user", id: target } }),
    ).toBe(true);
    expect(await rowsFor(target)).toHaveLength(1);
  });
});

describe("auditStatement()", () => {
  it("lands with the change in one batch, and with AFTER_CHANGE only when the change matched a row", async () => {
    const { user } = await createUser();
    const ctx = serviceContext(systemPrincipal("test"));
    const entry = { action: "user.update" as const, target: { type: "user" as const, id: user.id } };
    await db.batch([
      db.update(users).set({ firstName: "Changed" }).where(eq(users.id, user.id)),
      auditStatement(ctx, { ...entry, after: { first_name: "Changed" } }, { when: AFTER_CHANGE }),
    ]);
    await db.batch([
      db.update(users).set({ firstName: "Nobody" }).where(eq(users.id, crypto.randomUUID())),
      auditStatement(ctx, { ...entry, after: { first_name: "Nobody" } }, { when: AFTER_CHANGE }),
    ]);
    const rows = await rowsFor(user.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      actorType: "system",
      actorId: "test",
      action: "user.update",
      targetType: "user",
      after: { first_name: "Changed" },
      before: null,
    });
    expect(rows[0]?.createdAt).toBeInstanceOf(Date);
  });

  it("records actor, IP, user agent and request id from the context", async () => {
    const target = crypto.randomUUID();
    const ctx = serviceContext(
      {
        kind: "user",
        userId: "u-1",
        sessionId: "s",
        isStaff: true,
        tokenId: "t",
        tokenExpiresAt: 0,
        authTime: 0,
        amr: [],
      },
      { ip: "203.0.113.9", userAgent: "AuditTest/1.0" },
    );
    await db.batch([auditStatement(ctx, { action: "task.cancel", target: { type: "task", id: target } })]);
    const [row] = await rowsFor(target);
    expect(row).toMatchObject({
      actorType: "user",
      actorId: "u-1",
      ip: "203.0.113.9",
      userAgent: "AuditTest/1.0",
      requestId: ctx.requestId,
    });
  });

  it("redacts secrets at any depth and bounds what it keeps", async () => {
    const target = crypto.randomUUID();
    await audit(serviceContext(), {
      action: "api_key.create",
      target: { type: "api_key", id: target },
      before: { password: "hunter22", name: "kept" },
      after: {
        name: "CI key",
        secret: "sk_test_abc",
        nested: { refresh_token: "rt_x", token_hash: "ff00", ok: [1, 2, 3] },
        list: [{ client_secret: "x", id: "y" }],
        long: "z".repeat(5_000),
      },
    });
    const [row] = await rowsFor(target);
    expect(row?.before).toEqual({ password: REDACTED, name: "kept" });
    const after = row?.after as Record<string, unknown>;
    expect(after).toMatchObject({
      name: "CI key",
      secret: REDACTED,
      nested: { refresh_token: REDACTED, token_hash: REDACTED, ok: [1, 2, 3] },
      list: [{ client_secret: REDACTED, id: "y" }],
    });
    expect((after.long as string).length).toBeLessThan(2_100);
    expect(JSON.stringify(row)).not.toMatch(/hunter22|sk_test_abc|rt_x/);
  });
});

describe("GET /admin/v1/audit-logs", () => {
  let staff: ReturnType<typeof as>;
  let staffId: string;
  const target = crypto.randomUUID();
  let from: string;

  beforeAll(async () => {
    const { user } = await createStaff();
    staffId = user.id;
    staff = as((await signIn(user)).accessToken);
    from = new Date(Date.now() - 1000).toISOString();
    const ctx = serviceContext({
      kind: "user",
      userId: staffId,
      sessionId: "s",
      isStaff: true,
      tokenId: "t",
      tokenExpiresAt: 0,
      authTime: 0,
      amr: [],
    });
    for (const n of [1, 2, 3]) {
      await audit(ctx, { action: "task.retry", target: { type: "task", id: target }, after: { n } });
    }
    await audit(ctx, { action: "task.cancel", target: { type: "task", id: target } });
  });

  it("filters by target, actor and action, newest first", async () => {
    const page = await jsonOf<Page<AuditLogDto>>(
      await staff.get(`/admin/v1/audit-logs?filter[target_id]=${target}`),
      200,
    );
    expect(page.meta.total).toBe(4);
    expect(page.data.map((row) => row.action)).toEqual([
      "task.cancel",
      "task.retry",
      "task.retry",
      "task.retry",
    ]);
    expect(page.data.map((row) => (row.after as { n?: number } | null)?.n ?? null)).toEqual([null, 3, 2, 1]);

    const retries = await jsonOf<Page<AuditLogDto>>(
      await staff.get(
        `/admin/v1/audit-logs?filter[target_type]=task&filter[target_id]=${target}&filter[action]=task.retry&filter[actor_id]=${staffId}&filter[actor_type]=user`,
      ),
      200,
    );
    expect(retries.meta.total).toBe(3);
    expect(retries.data[0]).toMatchObject({ actor_type: "user", actor_id: staffId, target_type: "task" });
  });

  it("filters by a date range (inclusive)", async () => {
    const now = new Date(Date.now() + 1000).toISOString();
    const inside = await jsonOf<Page<AuditLogDto>>(
      await staff.get(
        `/admin/v1/audit-logs?filter[target_id]=${target}&filter[created_at][gte]=${from}&filter[created_at][lte]=${now}`,
      ),
      200,
    );
    expect(inside.meta.total).toBe(4);
    const before = await jsonOf<Page<AuditLogDto>>(
      await staff.get(`/admin/v1/audit-logs?filter[target_id]=${target}&filter[created_at][lte]=${from}`),
      200,
    );
    expect(before.meta.total).toBe(0);
  });

  it("pages with cursors, oldest first on request, with a Link header", async () => {
    const first = await staff.get(`/admin/v1/audit-logs?filter[target_id]=${target}&sort=created_at&limit=3`);
    const page1 = await jsonOf<Page<AuditLogDto>>(first, 200);
    expect(page1.data).toHaveLength(3);
    expect(first.headers.get("link")).toMatch(/rel="next"/);
    const page2 = await jsonOf<Page<AuditLogDto>>(
      await staff.get(
        `/admin/v1/audit-logs?filter[target_id]=${target}&sort=created_at&limit=3&cursor=${page1.meta.next}`,
      ),
      200,
    );
    expect(page2.data.map((row) => row.action)).toEqual(["task.cancel"]);
    expect(page2.meta.next).toBeNull();
    const ids = [...page1.data, ...page2.data].map((row) => row.id);
    expect(new Set(ids).size).toBe(4);
  });

  it("answers 400 naming the parameter for bad filters, sorts and cursors", async () => {
    const cases: Array<[string, string]> = [
      ["filter[action]=user.hack", "filter[action]"],
      ["filter[actor_type]=robot", "filter[actor_type]"],
      ["filter[created_at][gte]=yesterday", "filter[created_at][gte]"],
      ["filter[ip]=1.2.3.4", "filter[ip]"],
      ["sort=action", "sort"],
      ["limit=1000", "limit"],
    ];
    for (const [query, parameter] of cases) {
      const problem = await problemOf(await staff.get(`/admin/v1/audit-logs?${query}`), 400);
      expect(problem.code, query).toBe("validation_failed");
      expect(
        problem.errors?.map((error) => error.parameter),
        query,
      ).toContain(parameter);
    }
    expect((await problemOf(await staff.get("/admin/v1/audit-logs?cursor=garbage"), 400)).code).toBe(
      "invalid_cursor",
    );
  });

  it("has no route that writes: other methods answer 405", async () => {
    for (const method of ["post", "patch", "delete", "put"] as const) {
      const res = await staff[method]("/admin/v1/audit-logs", { body: {} });
      expect(res.status, method).toBe(405);
    }
    expect((await db.select({ n: sql<number>`count(*)` }).from(auditLogs))[0]?.n).toBeGreaterThan(0);
  });
});
