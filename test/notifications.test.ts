/**
 * Notifications through HTTP: listing (order, filters, cursor pages), read state,
 * deletion, WebSocket tickets and the OpenAPI document, with the shared security suite
 * on every route. notify() is the real one: preferences, email and its input checks.
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { notifications, type User, users } from "../src/db/schema";
import { uuidv7 } from "../src/lib/ids";
import { DEFAULT_CHANNELS } from "../src/modules/notifications/notification-preferences";
import type { NotificationDto } from "../src/modules/notifications/notifications.schemas";
import {
  type NotificationType,
  type NotifyInput,
  notify,
} from "../src/modules/notifications/notifications.service";
import { createUser, serviceContext, signIn, type Tokens } from "./support/factories";
import { api, as, jsonOf, type Page, problemOf } from "./support/http";
import { securitySuite } from "./support/security";
import { openSocket } from "./support/sockets";

const db = getDb(env);
const BASE = "/api/v1/notifications";

const input = (type: NotificationType, title: string, extra: Partial<NotifyInput> = {}): NotifyInput => ({
  type,
  title,
  message: `${title} — details`,
  ...extra,
});

afterEach(() => vi.restoreAllMocks());

describe("listing", () => {
  let ada: User;
  let tokens: Tokens;
  let created: NotificationDto[];
  let bobsId: string;

  beforeAll(async () => {
    ada = (await createUser()).user;
    tokens = await signIn(ada);
    const ctx = serviceContext();
    created = [];
    const kinds: NotificationType[] = [
      "task_completed",
      "task_failed",
      "new_comment",
      "task_completed",
      "system",
    ];
    for (const [i, type] of kinds.entries()) {
      created.push(
        await notify(ctx, ada.id, input(type, `N${i}`, { target_url: `/tasks/${i}`, data: { index: i } })),
      );
    }
    const bob = (await createUser()).user;
    bobsId = (await notify(ctx, bob.id, input("task_completed", "Bob's"))).id;
    // Two of Ada's are read.
    await as(tokens.accessToken).post(`${BASE}/${created[0]?.id}/read`);
    await as(tokens.accessToken).post(`${BASE}/${created[2]?.id}/read`);
  });

  it("lists own notifications newest first, in the documented shape", async () => {
    const page = await jsonOf<Page<NotificationDto>>(await as(tokens.accessToken).get(BASE), 200);
    expect(page.data.map((n) => n.title)).toEqual(["N4", "N3", "N2", "N1", "N0"]);
    expect(page.meta).toEqual({ next: null, prev: null, total: 5 });
    expect(page.data.map((n) => n.id)).not.toContain(bobsId);
    const newest = page.data[0] as NotificationDto;
    expect(Object.keys(newest).sort()).toEqual(
      ["created_at", "data", "id", "message", "read_at", "target_url", "title", "type"].sort(),
    );
    expect(newest).toMatchObject({
      type: "system",
      target_url: "/tasks/4",
      data: { index: 4 },
      read_at: null,
    });
    expect(page.data[4]?.read_at).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it("filters by unread and by type, and sorts oldest first on request", async () => {
    const me = as(tokens.accessToken);
    const unread = await jsonOf<Page<NotificationDto>>(await me.get(`${BASE}?filter[unread]=true`), 200);
    expect(unread.data.map((n) => n.title)).toEqual(["N4", "N3", "N1"]);
    expect(unread.meta.total).toBe(3);
    const read = await jsonOf<Page<NotificationDto>>(await me.get(`${BASE}?filter[unread]=false`), 200);
    expect(read.data.map((n) => n.title)).toEqual(["N2", "N0"]);
    const completed = await jsonOf<Page<NotificationDto>>(
      await me.get(`${BASE}?filter[type]=task_completed&filter[unread]=true`),
      200,
    );
    expect(completed.data.map((n) => n.title)).toEqual(["N3"]);
    const oldest = await jsonOf<Page<NotificationDto>>(await me.get(`${BASE}?sort=created_at&limit=2`), 200);
    expect(oldest.data.map((n) => n.title)).toEqual(["N0", "N1"]);
  });

  it("pages with cursors and a Link header, forwards and back", async () => {
    const me = as(tokens.accessToken);
    const res = await me.get(`${BASE}?limit=2&filter[unread]=true`);
    const first = await jsonOf<Page<NotificationDto>>(res, 200);
    expect(first.data.map((n) => n.title)).toEqual(["N4", "N3"]);
    expect(res.headers.get("link")).toContain('rel="next"');
    expect(res.headers.get("link")).toContain("filter%5Bunread%5D=true");
    const second = await jsonOf<Page<NotificationDto>>(
      await me.get(`${BASE}?limit=2&filter[unread]=true&cursor=${first.meta.next}`),
      200,
    );
    expect(second.data.map((n) => n.title)).toEqual(["N1"]);
    expect(second.meta.next).toBeNull();
    const back = await jsonOf<Page<NotificationDto>>(
      await me.get(`${BASE}?limit=2&filter[unread]=true&cursor=${second.meta.prev}`),
      200,
    );
    expect(back.data.map((n) => n.title)).toEqual(["N4", "N3"]);
  });

  it("refuses bad query parameters with 400 naming the parameter", async () => {
    const me = as(tokens.accessToken);
    const cases: Array<[string, string]> = [
      ["filter[unread]=maybe", "filter[unread]"],
      ["filter[type]=party", "filter[type]"],
      ["filter[title]=x", "filter[title]"],
      ["sort=title", "sort"],
      ["limit=0", "limit"],
      ["limit=101", "limit"],
      ["limit=ten", "limit"],
    ];
    for (const [query, parameter] of cases) {
      const problem = await problemOf(await me.get(`${BASE}?${query}`), 400);
      expect(problem.code, query).toBe("validation_failed");
      expect(
        problem.errors?.map((e) => e.parameter ?? e.pointer),
        query,
      ).toContain(parameter);
    }
    expect((await problemOf(await me.get(`${BASE}?cursor=garbage`), 400)).code).toBe("invalid_cursor");
  });

  it("counts unread", async () => {
    expect(await jsonOf(await as(tokens.accessToken).get(`${BASE}/unread-count`), 200)).toEqual({ count: 3 });
  });
});

describe("read state and deletion", () => {
  it("marks one read (idempotently), unread again, all read, and deletes", async () => {
    const { user } = await createUser();
    const me = as((await signIn(user)).accessToken);
    const ctx = serviceContext();
    const a = await notify(ctx, user.id, input("new_comment", "A"));
    const b = await notify(ctx, user.id, input("new_comment", "B"));

    const read = await jsonOf<NotificationDto>(await me.post(`${BASE}/${a.id}/read`), 200);
    expect({ ...read, read_at: null }).toEqual(a);
    const again = await jsonOf<NotificationDto>(await me.post(`${BASE}/${a.id}/read`), 200);
    expect(again.read_at).toBe(read.read_at); // the first read time is kept

    const unread = await jsonOf<NotificationDto>(await me.post(`${BASE}/${a.id}/unread`), 200);
    expect(unread.read_at).toBeNull();
    expect(await jsonOf(await me.post(`${BASE}/${a.id}/unread`), 200)).toEqual(unread);

    expect(await jsonOf(await me.post(`${BASE}/read-all`), 200)).toEqual({ updated: 2 });
    expect(await jsonOf(await me.post(`${BASE}/read-all`), 200)).toEqual({ updated: 0 });
    expect(await jsonOf(await me.get(`${BASE}/unread-count`), 200)).toEqual({ count: 0 });

    expect((await me.delete(`${BASE}/${b.id}`)).status).toBe(204);
    expect((await problemOf(await me.delete(`${BASE}/${b.id}`), 404)).code).toBe("not_found");
    const left = await jsonOf<Page<NotificationDto>>(await me.get(BASE), 200);
    expect(left.data.map((n) => n.id)).toEqual([a.id]);
  });

  it("answers 404 for ids that do not exist and 400 for ids that are not UUIDs", async () => {
    const { user } = await createUser();
    const me = as((await signIn(user)).accessToken);
    for (const [method, suffix] of [
      ["post", "/read"],
      ["post", "/unread"],
      ["delete", ""],
    ] as const) {
      expect((await problemOf(await me[method](`${BASE}/${uuidv7()}${suffix}`), 404)).code).toBe("not_found");
      const bad = await problemOf(await me[method](`${BASE}/not-a-uuid${suffix}`), 400);
      expect(bad.errors?.map((e) => e.parameter)).toEqual(["id"]);
    }
  });

  it("read-all and another user's ids never touch someone else's notifications", async () => {
    const ada = (await createUser()).user;
    const bob = (await createUser()).user;
    const bobs = await notify(serviceContext(), bob.id, input("system", "Bob only"));
    const adaMe = as((await signIn(ada)).accessToken);
    expect(await jsonOf(await adaMe.post(`${BASE}/read-all`), 200)).toEqual({ updated: 0 });
    await problemOf(await adaMe.post(`${BASE}/${bobs.id}/read`), 404);
    await problemOf(await adaMe.delete(`${BASE}/${bobs.id}`), 404);
    const row = await db.select().from(notifications).where(eq(notifications.id, bobs.id)).get();
    expect(row?.readAt).toBeNull();
  });
});

describe("GET /{id} and POST /test", () => {
  it("reads one of your notifications; someone else's is 404", async () => {
    const { user } = await createUser();
    const me = as((await signIn(user)).accessToken);
    const mine = await notify(serviceContext(), user.id, input("new_comment", "Mine"));
    expect(await jsonOf(await me.get(`${BASE}/${mine.id}`), 200)).toEqual(mine);
    expect((await problemOf(await me.get(`${BASE}/${await ownedByBob()}`), 404)).code).toBe("not_found");
  });

  it("sends a test notification to every open socket of the caller, never by email", async () => {
    const { user } = await createUser({ notificationPreferences: { system: { in_app: true, email: true } } });
    const tokens = await signIn(user);
    const socket = await openSocket("", { token: tokens.accessToken });
    await socket.next("hello");
    const emails = vi.spyOn(env.EMAIL_QUEUE, "send");
    const res = await as(tokens.accessToken).post(`${BASE}/test`);
    const created = await jsonOf<NotificationDto>(res, 201);
    expect(res.headers.get("location")).toBe(`${BASE}/${created.id}`);
    expect(created).toMatchObject({ type: "system", title: "Test notification", data: { test: true } });
    expect((await socket.next("notification")).data).toEqual(created);
    expect(emails).not.toHaveBeenCalled();
    socket.close();
  });
});

describe("POST /ws-ticket", () => {
  it("is limited by the ws_ticket policy (10 a minute per user)", async () => {
    const { user } = await createUser();
    const me = as((await signIn(user)).accessToken);
    for (let i = 0; i < 10; i++) expect((await me.post(`${BASE}/ws-ticket`)).status).toBe(201);
    const refused = await problemOf(await me.post(`${BASE}/ws-ticket`), 429);
    expect(refused.violated_policies).toEqual(["ws_ticket"]);
  });
});

describe("notify()", () => {
  it("queues an email only where the preferences (or the defaults) ask for one", async () => {
    const { user } = await createUser({
      firstName: "Ada",
      notificationPreferences: {
        new_comment: { in_app: true, email: true },
        task_failed: { in_app: true, email: false },
      },
    });
    const emails = vi.spyOn(env.EMAIL_QUEUE, "send");
    const ctx = serviceContext();
    await notify(ctx, user.id, input("task_failed", "Muted by preference"));
    await notify(ctx, user.id, input("task_completed", "No email by default"));
    await notify(ctx, user.id, input("new_comment", "Opted in", { target_url: "/posts/7#comment-3" }));
    await notify(
      ctx,
      user.id,
      input("billing_alert", "Absolute link", { target_url: "https://billing.example.com/x" }),
    );
    const sentEmails = emails.mock.calls.map(
      ([body]) => body as { template: string; to: string; data: unknown },
    );
    expect(sentEmails).toEqual([
      expect.objectContaining({
        template: "notification",
        to: user.email,
        data: {
          name: "Ada",
          type: "new_comment",
          title: "Opted in",
          message: "Opted in — details",
          action_url: "http://localhost:8787/posts/7#comment-3",
        },
      }),
    ]);

    // The defaults email task failures only.
    const plain = (await createUser()).user;
    await notify(ctx, plain.id, input("task_failed", "Default email"));
    const last = emails.mock.calls.at(-1)?.[0] as { to: string; data: { type: string } };
    expect([last.to, last.data.type]).toEqual([plain.email, "task_failed"]);
    expect(
      Object.entries(DEFAULT_CHANNELS)
        .filter(([, c]) => c.email)
        .map(([type]) => type),
    ).toEqual(["task_failed"]);
  });

  it("stores a type muted in the app as read and does not push it; system cannot be muted", async () => {
    const { user } = await createUser({
      notificationPreferences: {
        task_completed: { in_app: false, email: false },
        system: { in_app: false, email: false },
      },
    });
    const tokens = await signIn(user);
    const socket = await openSocket("", { token: tokens.accessToken });
    await socket.next("hello");
    const muted = await notify(serviceContext(), user.id, input("task_completed", "Muted"));
    expect(muted.read_at).toBe(muted.created_at);
    const system = await notify(serviceContext(), user.id, input("system", "Always shown"));
    expect(system.read_at).toBeNull();
    const pushed = await socket.next("notification");
    expect(pushed.data.id).toBe(system.id); // the muted one was never pushed
    expect(pushed.unread_count).toBe(1);
    socket.close();
  });

  it("refuses an unknown user and input a caller should never send", async () => {
    const ctx = serviceContext();
    await expect(notify(ctx, uuidv7(), input("system", "Nobody"))).rejects.toMatchObject({ status: 404 });
    const { user } = await createUser();
    const bad: NotifyInput[] = [
      input("system", ""),
      input("system", "x".repeat(201)),
      { type: "system", title: "ok", message: "   " },
      input("system", "Script link", { target_url: "javascript:alert(1)" }),
      input("system", "Other origin", { target_url: "//evil.example.com/phish" }),
      input("system", "Huge data", { data: { blob: "x".repeat(9000) } }),
    ];
    for (const candidate of bad) await expect(notify(ctx, user.id, candidate)).rejects.toThrow(/^notify\(\)/);
    expect(await db.select().from(notifications).where(eq(notifications.userId, user.id))).toEqual([]);
  });

  it("skips the email of a disabled account but still records the notification", async () => {
    const { user } = await createUser();
    await db.update(users).set({ isActive: false }).where(eq(users.id, user.id));
    const emails = vi.spyOn(env.EMAIL_QUEUE, "send");
    const stored = await notify(serviceContext(), user.id, input("task_failed", "Quietly"));
    expect(stored.title).toBe("Quietly");
    expect(emails).not.toHaveBeenCalled();
  });
});

describe("OpenAPI", () => {
  it("documents every notification route with its answers and examples", async () => {
    type Operation = {
      tags?: string[];
      security?: unknown[];
      responses: Record<string, { content?: Record<string, { example?: unknown }> }>;
    };
    const doc = await jsonOf<{
      paths: Record<string, Record<string, Operation>>;
      components: { schemas: Record<string, { example?: unknown }> };
    }>(await api("GET", "/api/openapi.json"), 200);
    const expected: Array<[string, string, string[]]> = [
      ["get", BASE, ["200", "400", "401"]],
      ["get", `${BASE}/unread-count`, ["200", "401"]],
      ["get", `${BASE}/{id}`, ["200", "400", "401", "404"]],
      ["post", `${BASE}/test`, ["201", "401", "429"]],
      ["post", `${BASE}/{id}/read`, ["200", "400", "401", "404"]],
      ["post", `${BASE}/{id}/unread`, ["200", "400", "401", "404"]],
      ["post", `${BASE}/read-all`, ["200", "401"]],
      ["delete", `${BASE}/{id}`, ["204", "400", "401", "404"]],
      ["post", `${BASE}/ws-ticket`, ["201", "401", "429"]],
      ["get", `${BASE}/ws`, ["101", "400", "401", "426", "429"]],
    ];
    for (const [method, path, statuses] of expected) {
      const op = doc.paths[path]?.[method];
      expect(op, `${method} ${path}`).toBeDefined();
      expect(op?.tags).toEqual(["Notifications"]);
      for (const status of statuses)
        expect(Object.keys(op?.responses ?? {}), `${path} ${status}`).toContain(status);
      for (const [status, response] of Object.entries(op?.responses ?? {})) {
        if (Number(status) >= 400)
          expect(response.content?.["application/problem+json"]?.example).toBeDefined();
      }
    }
    for (const name of ["Notification", "NotificationPage", "UnreadCount", "WsTicket"]) {
      expect(doc.components.schemas[name], name).toBeDefined();
    }
    expect(doc.components.schemas.Notification?.example).toMatchObject({ type: "task_completed" });
  });
});

// ---------------------------------------------------------------------------
// Security: every route refuses missing/bad credentials; ids of another user are 404.

async function ownedByBob(): Promise<string> {
  const bob = (await createUser()).user;
  return (await notify(serviceContext(), bob.id, input("system", "Bob's secret"))).id;
}
async function adaHeaders(): Promise<Record<string, string>> {
  const { user } = await createUser();
  return { authorization: `Bearer ${(await signIn(user)).accessToken}` };
}

securitySuite("GET /notifications", { method: "GET", path: BASE });
securitySuite("GET /notifications/unread-count", { method: "GET", path: `${BASE}/unread-count` });
securitySuite("POST /notifications/read-all", { method: "POST", path: `${BASE}/read-all` });
securitySuite("POST /notifications/ws-ticket", { method: "POST", path: `${BASE}/ws-ticket` });
securitySuite("POST /notifications/test", { method: "POST", path: `${BASE}/test` });
securitySuite("GET /notifications/{id}", {
  method: "GET",
  path: () => `${BASE}/${uuidv7()}`,
  notOwned: async () => ({ path: `${BASE}/${await ownedByBob()}`, headers: await adaHeaders() }),
});
securitySuite("POST /notifications/{id}/read", {
  method: "POST",
  path: () => `${BASE}/${uuidv7()}/read`,
  notOwned: async () => ({ path: `${BASE}/${await ownedByBob()}/read`, headers: await adaHeaders() }),
});
securitySuite("POST /notifications/{id}/unread", {
  method: "POST",
  path: () => `${BASE}/${uuidv7()}/unread`,
  notOwned: async () => ({ path: `${BASE}/${await ownedByBob()}/unread`, headers: await adaHeaders() }),
});
securitySuite("DELETE /notifications/{id}", {
  method: "DELETE",
  path: () => `${BASE}/${uuidv7()}`,
  notOwned: async () => ({ path: `${BASE}/${await ownedByBob()}`, headers: await adaHeaders() }),
});
