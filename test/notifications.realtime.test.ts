/**
 * The notification sockets, end to end inside workerd: upgrades go through the Worker's
 * fetch handler (auth, ticket, routing), the NotificationHub Durable Object holds the
 * sockets on the Hibernation API, and notifications come from the real notify() and
 * REST routes against local D1. Time is injected (ticket ages), never slept.
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { type NewNotification, notifications } from "../src/db/schema";
import { type Bindings, ConfigError, getConfig } from "../src/env";
import { uuidv7 } from "../src/lib/ids";
import type { UserPrincipal } from "../src/lib/principal";
import { REFRESH_GRACE_MS } from "../src/modules/auth/sessions.service";
import { notificationHub } from "../src/modules/notifications/notification-hub.client";
import { REPLAY_LIMIT } from "../src/modules/notifications/notification-hub.do";
import {
  CLOSE_CODES,
  MAX_CLIENT_FRAME_BYTES,
  REFUSE_WEBSOCKET_COMPRESSION,
  type ServerMessage,
} from "../src/modules/notifications/notification-hub.protocol";
import type { NotificationDto } from "../src/modules/notifications/notifications.schemas";
import { type NotifyInput, notify } from "../src/modules/notifications/notifications.service";
import { issueWsTicket } from "../src/modules/notifications/ws-ticket";
import { person, serviceContext, signIn, type Tokens } from "./support/factories";
import { as, jsonOf, problemOf } from "./support/http";
import { openSocket, type TestSocket, upgrade } from "./support/sockets";
import { claimsOf, signWithRealKey } from "./support/tokens";

vi.setConfig({ testTimeout: 20_000 });

const db = getDb(env);
const sent = (title: string): NotifyInput => ({ type: "task_completed", title, message: `${title}: done` });
const send = (userId: string, title: string) => notify(serviceContext(), userId, sent(title));

/** The per-user socket limit the test Worker runs with (wrangler.toml: the default, 100). */
const MAX_SOCKETS_PER_USER = getConfig(env).NOTIFICATIONS_MAX_SOCKETS_PER_USER;

/**
 * A person signed in from `userAgent`, with a socket helper bound to their access token
 * (`vars`: settings of the Worker for that upgrade only).
 */
async function subscriber(userAgent = "Mozilla/5.0 (TestBrowser 1.0)") {
  const someone = await person({}, { userAgent });
  return {
    ...someone,
    socket: (query = "", vars?: Partial<Bindings>) => openSocket(query, { token: someone.token, vars }),
  };
}

function principalOf(tokens: Tokens, userId: string): UserPrincipal {
  const claims = claimsOf(tokens.accessToken);
  return {
    kind: "user",
    userId,
    sessionId: tokens.sessionId,
    isStaff: false,
    tokenId: String(claims.jti),
    tokenExpiresAt: Number(claims.exp) * 1000,
    authTime: Number(claims.auth_time) * 1000,
    amr: claims.amr as string[],
  };
}

/** Resolves true when no frame of `type` arrives in a short window (used only after a positive control). */
async function noFrame(socket: TestSocket, type: string): Promise<boolean> {
  return socket.next(type as "notification", 150).then(
    () => false,
    () => true,
  );
}

const open: TestSocket[] = [];
async function track(socket: Promise<TestSocket>): Promise<TestSocket> {
  const ready = await socket;
  open.push(ready);
  return ready;
}
afterEach(() => {
  for (const socket of open.splice(0)) {
    try {
      socket.close();
    } catch {
      // already closed by the server
    }
  }
  vi.restoreAllMocks();
});

describe("delivery", () => {
  it("reaches every socket of the user and no socket of anyone else", async () => {
    const ada = await subscriber();
    const bob = await subscriber();
    const [phone, laptop, bobs] = await Promise.all([
      track(ada.socket()),
      track(ada.socket()),
      track(bob.socket()),
    ]);
    for (const socket of [phone, laptop, bobs]) {
      expect(await socket.next("hello")).toEqual({ type: "hello", unread_count: 0, replay: null });
    }

    const forAda = await send(ada.user.id, "Build finished");
    for (const socket of [phone, laptop]) {
      const frame = await socket.next("notification");
      expect(frame).toEqual({ type: "notification", data: forAda, unread_count: 1 });
      expect(frame.data).toMatchObject({ type: "task_completed", title: "Build finished", read_at: null });
    }

    // Bob's socket works (it gets his own notification) and never saw Ada's.
    const forBob = await send(bob.user.id, "Bob's report");
    expect((await bobs.next("notification")).data.id).toBe(forBob.id);
    expect(bobs.received.filter((frame) => frame.type === "notification")).toHaveLength(1);
    expect(await noFrame(phone, "notification")).toBe(true);
    expect(await notificationHub(env, ada.user.id).connectionCount()).toBe(2);
  });

  it("keeps read state in sync: a read on one socket's behalf reaches the other", async () => {
    const ada = await subscriber();
    const [phone, laptop] = await Promise.all([track(ada.socket()), track(ada.socket())]);
    await Promise.all([phone.next("hello"), laptop.next("hello")]);
    const first = await send(ada.user.id, "First");
    const second = await send(ada.user.id, "Second");
    for (const socket of [phone, laptop]) {
      await socket.next("notification");
      expect((await socket.next("notification")).unread_count).toBe(2);
    }

    // The phone marks one read over its socket: the laptop learns which, and the new count.
    phone.send(JSON.stringify({ type: "mark_read", ids: [first.id] }));
    expect(await laptop.next("read")).toEqual({ type: "read", ids: [first.id], unread_count: 1 });
    expect(await phone.next("read")).toEqual({ type: "read", ids: [first.id], unread_count: 1 });

    // The REST route (another device without a socket) tells both sockets.
    const me = as(ada.tokens.accessToken);
    const read = await jsonOf<NotificationDto>(await me.post(`/api/v1/notifications/${second.id}/read`), 200);
    expect(read.read_at).not.toBeNull();
    for (const socket of [phone, laptop]) {
      expect(await socket.next("read")).toEqual({ type: "read", ids: [second.id], unread_count: 0 });
    }

    // Marking it read again changes nothing and pushes nothing; unread and delete push the count.
    await jsonOf(await me.post(`/api/v1/notifications/${second.id}/read`), 200);
    await jsonOf(await me.post(`/api/v1/notifications/${second.id}/unread`), 200);
    expect(await laptop.next()).toEqual({ type: "unread_count", unread_count: 1 });
    expect((await me.delete(`/api/v1/notifications/${second.id}`)).status).toBe(204);
    expect(await laptop.next()).toEqual({ type: "unread_count", unread_count: 0 });

    // read-all sends the ids that changed.
    const third = await send(ada.user.id, "Third");
    await laptop.next("notification");
    expect(await jsonOf(await me.post("/api/v1/notifications/read-all"), 200)).toEqual({ updated: 1 });
    expect(await laptop.next("read")).toEqual({ type: "read", ids: [third.id], unread_count: 0 });
  });

  it("replays exactly what was missed, in order, before live events", async () => {
    const ada = await subscriber();
    const first = await track(ada.socket());
    await first.next("hello");
    const seen = await send(ada.user.id, "Seen live");
    expect((await first.next("notification")).data.id).toBe(seen.id);
    first.close();
    await first.closed;

    const missed = [];
    for (const title of ["Missed 1", "Missed 2", "Missed 3"]) missed.push(await send(ada.user.id, title));

    const again = await track(ada.socket(`?since=${seen.id}`));
    expect(await again.next()).toEqual({
      type: "hello",
      unread_count: 4,
      replay: { count: 3, truncated: false },
    });
    for (const expected of missed) {
      expect(await again.next()).toEqual({
        type: "notification",
        data: expected,
        unread_count: 4,
        replayed: true,
      });
    }
    const live = await send(ada.user.id, "Live again");
    expect(await again.next()).toEqual({ type: "notification", data: live, unread_count: 5 });
    expect(again.received).toHaveLength(5); // hello, three replayed, one live: nothing else
  });

  it("replays at most REPLAY_LIMIT and says the replay was truncated", async () => {
    const ada = await subscriber();
    const start = Date.now() - 60_000;
    const rows: NewNotification[] = Array.from({ length: REPLAY_LIMIT + 2 }, (_, i) => ({
      id: uuidv7(start + i),
      userId: ada.user.id,
      type: "system",
      title: `Backlog ${i}`,
      message: "…",
      createdAt: new Date(start + i),
    }));
    for (const row of rows) await db.insert(notifications).values(row);
    const since = rows[0]?.id as string;
    const socket = await track(ada.socket(`?since=${since}`));
    expect(await socket.next("hello")).toMatchObject({ replay: { count: REPLAY_LIMIT, truncated: true } });
    const firstReplayed = await socket.next("notification");
    expect(firstReplayed.data.title).toBe("Backlog 1"); // oldest missed first
  });

  it("declines permessage-deflate that the client offers, and the socket still carries frames", async () => {
    const ada = await subscriber();
    const res = await upgrade("", {
      token: ada.tokens.accessToken,
      headers: { "sec-websocket-extensions": "permessage-deflate; client_max_window_bits" },
    });
    expect(res.status).toBe(101);
    // What the Worker tells the runtime: extensions it wants, none of which is permessage-deflate
    // (an empty value reads as absent in workerd's HTTP layer, which then negotiates deflate).
    const wanted = res.headers.get("sec-websocket-extensions");
    expect(wanted).toBe(REFUSE_WEBSOCKET_COMPRESSION);
    expect(wanted).not.toMatch(/permessage-deflate/i);
    const ws = res.webSocket as WebSocket;
    ws.accept();
    const hello = await new Promise<ServerMessage>((resolve) =>
      ws.addEventListener("message", (event) => resolve(JSON.parse(String(event.data)) as ServerMessage), {
        once: true,
      }),
    );
    expect(hello.type).toBe("hello");
    ws.close();
  });

  it("answers 400 naming `since` when it is not a notification id", async () => {
    const ada = await subscriber();
    const problem = await problemOf(
      await upgrade("?since=yesterday", { token: ada.tokens.accessToken }),
      400,
    );
    expect(problem.errors?.map((error) => error.parameter)).toContain("since");
  });

  it("closes the oldest socket with 4008 when a user opens one more than the limit; the rest still get notifications", async () => {
    const ada = await subscriber();
    const sockets: TestSocket[] = [];
    for (let i = 0; i < MAX_SOCKETS_PER_USER + 1; i++) sockets.push(await track(ada.socket()));
    const [oldest, ...kept] = sockets as [TestSocket, ...TestSocket[]];
    const closed = await oldest.closed;
    expect(closed.code).toBe(CLOSE_CODES.tooManyConnections);
    expect(closed.reason).toBe("too many connections");
    expect(await notificationHub(env, ada.user.id).connectionCount()).toBe(MAX_SOCKETS_PER_USER);

    const live = await send(ada.user.id, "To every socket still open");
    for (const socket of kept) expect((await socket.next("notification")).data.id).toBe(live.id);
    expect(oldest.received.some((frame) => frame.type === "notification")).toBe(false);
    expect(kept.every((socket) => socket.ws.readyState === WebSocket.OPEN)).toBe(true);
  });
});

describe("the per-user socket limit (NOTIFICATIONS_MAX_SOCKETS_PER_USER)", () => {
  const limitOf = (value: string) => ({ NOTIFICATIONS_MAX_SOCKETS_PER_USER: value });

  it("keeps more sockets when the operator raises it", async () => {
    const ada = await subscriber();
    const sockets: TestSocket[] = [];
    for (let i = 0; i < MAX_SOCKETS_PER_USER + 5; i++) {
      sockets.push(await track(ada.socket("", limitOf(String(MAX_SOCKETS_PER_USER + 10)))));
    }
    expect(await notificationHub(env, ada.user.id).connectionCount()).toBe(MAX_SOCKETS_PER_USER + 5);
    const live = await send(ada.user.id, "To all of them");
    for (const socket of sockets) expect((await socket.next("notification")).data.id).toBe(live.id);
    expect(sockets.every((socket) => socket.ws.readyState === WebSocket.OPEN)).toBe(true);
  });

  it("closes exactly the oldest beyond a lowered limit, never the socket just opened", async () => {
    const ada = await subscriber();
    const sockets: TestSocket[] = [];
    // Opened back to back: several are accepted within the same millisecond.
    for (let i = 0; i < 5; i++) sockets.push(await track(ada.socket("", limitOf("3"))));
    for (const oldest of sockets.slice(0, 2)) {
      expect((await oldest.closed).code).toBe(CLOSE_CODES.tooManyConnections);
    }
    const live = await send(ada.user.id, "To the three newest");
    for (const socket of sockets.slice(2)) expect((await socket.next("notification")).data.id).toBe(live.id);
    expect(await notificationHub(env, ada.user.id).connectionCount()).toBe(3);

    // With a limit of one, each new socket replaces the previous one and is itself kept.
    const only = await track(ada.socket("", limitOf("1")));
    expect(await only.next("hello")).toMatchObject({ type: "hello" });
    for (const socket of sockets.slice(2)) {
      expect((await socket.closed).code).toBe(CLOSE_CODES.tooManyConnections);
    }
    expect(only.ws.readyState).toBe(WebSocket.OPEN);
  });

  it("cannot be raised by the client: a max_sockets in the query is not passed to the hub", async () => {
    const ada = await subscriber();
    const sockets: TestSocket[] = [];
    for (let i = 0; i < 3; i++) {
      sockets.push(await track(openSocket("?max_sockets=10000", { token: ada.token, vars: limitOf("2") })));
    }
    expect((await (sockets[0] as TestSocket).closed).code).toBe(CLOSE_CODES.tooManyConnections);
    expect(await notificationHub(env, ada.user.id).connectionCount()).toBe(2);
  });

  it("the hub refuses a connection without a valid limit rather than guess one", async () => {
    const ada = await subscriber();
    const hub = notificationHub(env, ada.user.id);
    for (const maxSockets of [0, -1, 1.5, Number.NaN]) {
      const res = await hub.connect({ userId: ada.user.id, sessionId: ada.tokens.sessionId, maxSockets });
      expect(res.status).toBe(404);
      expect(res.webSocket).toBeNull();
    }
  });

  it("defaults to 100 and refuses a value outside 1..10000 or not a whole number, naming it", () => {
    const { NOTIFICATIONS_MAX_SOCKETS_PER_USER: _unset, ...withoutIt } = env;
    expect(getConfig(withoutIt as Bindings).NOTIFICATIONS_MAX_SOCKETS_PER_USER).toBe(100);
    expect(getConfig({ ...env, ...limitOf("10000") }).NOTIFICATIONS_MAX_SOCKETS_PER_USER).toBe(10_000);
    for (const value of ["0", "10001", "-5", "1.5", "lots", "1e3x"]) {
      expect(() => getConfig({ ...env, ...limitOf(value) }), value).toThrowError(ConfigError);
      expect(() => getConfig({ ...env, ...limitOf(value) }), value).toThrowError(
        /NOTIFICATIONS_MAX_SOCKETS_PER_USER/,
      );
    }
  });
});

describe("auth", () => {
  it("refuses an upgrade without credentials with 401 and no socket", async () => {
    const res = await upgrade();
    expect(res.webSocket).toBeNull();
    const problem = await problemOf(res, 401);
    expect(problem.code).toBe("unauthorized");
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
  });

  it("refuses an expired, a malformed and a foreign-audience token", async () => {
    const ada = await subscriber();
    const subject = { userId: ada.user.id, sessionId: ada.tokens.sessionId };
    const expired = await signWithRealKey(subject, {}, Date.now() - 2 * 60 * 60 * 1000);
    for (const headers of [
      { authorization: `Bearer ${expired}` },
      { authorization: "Bearer not-a-token" },
      { authorization: `Bearer ${await signWithRealKey(subject, { audience: "someone-else" })}` },
    ]) {
      const res = await upgrade("", { headers });
      expect(res.webSocket).toBeNull();
      expect((await problemOf(res, 401)).code).toBe("invalid_token");
    }
  });

  it("answers 426 to a request that is not an upgrade", async () => {
    const ada = await subscriber();
    const res = await as(ada.tokens.accessToken).get("/api/v1/notifications/ws");
    const problem = await problemOf(res, 426);
    expect(problem.code).toBe("upgrade_required");
    expect(res.headers.get("upgrade")).toBe("websocket");
  });

  it("opens with a ticket once; the same ticket again is refused", async () => {
    const ada = await subscriber();
    const res = await as(ada.tokens.accessToken).post("/api/v1/notifications/ws-ticket");
    const body = await jsonOf<{ ticket: string; expires_at: string; expires_in: number }>(res, 201);
    expect(body.ticket).toMatch(/^wst_[A-Za-z0-9_-]{43}$/);
    expect(body.expires_in).toBe(30);
    expect(Date.parse(body.expires_at) - Date.now()).toBeGreaterThan(25_000);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("ratelimit-policy")).toContain('"ws_ticket"');

    const socket = await track(openSocket(`?ticket=${body.ticket}`));
    expect(await socket.next("hello")).toMatchObject({ type: "hello" });
    const mine = await send(ada.user.id, "Via ticket");
    expect((await socket.next("notification")).data.id).toBe(mine.id);

    const reused = await upgrade(`?ticket=${body.ticket}`);
    expect(reused.webSocket).toBeNull();
    expect((await problemOf(reused, 401)).code).toBe("invalid_ws_ticket");
  });

  it("stays single use even where KV still shows the spent ticket (another location)", async () => {
    const ada = await subscriber();
    const { ticket } = await jsonOf<{ ticket: string }>(
      await as(ada.tokens.accessToken).post("/api/v1/notifications/ws-ticket"),
      201,
    );
    const stored = await env.AUTH_KV.list({ prefix: "ws-ticket:" });
    const entries = await Promise.all(
      stored.keys.map(async (key) => [key.name, await env.AUTH_KV.get(key.name)] as const),
    );
    await track(openSocket(`?ticket=${ticket}`));
    // Put the entry back, as a location that has not yet seen the delete would still read it.
    for (const [name, value] of entries) if (value) await env.AUTH_KV.put(name, value, { expirationTtl: 60 });
    const problem = await problemOf(await upgrade(`?ticket=${ticket}`), 401);
    expect(problem).toMatchObject({ code: "invalid_ws_ticket", detail: "The ticket was already used." });
  });

  it("refuses another user's ticket presented with your own token", async () => {
    const ada = await subscriber();
    const bob = await subscriber();
    const { ticket } = await jsonOf<{ ticket: string }>(
      await as(ada.tokens.accessToken).post("/api/v1/notifications/ws-ticket"),
      201,
    );
    const res = await upgrade(`?ticket=${ticket}`, { token: bob.tokens.accessToken });
    expect(res.webSocket).toBeNull();
    expect(await problemOf(res, 401)).toMatchObject({
      code: "invalid_ws_ticket",
      detail: "The ticket was issued to another account.",
    });
  });

  it("refuses a good ticket sent with a refused Authorization header (no silent downgrade)", async () => {
    const ada = await subscriber();
    const { ticket } = await jsonOf<{ ticket: string }>(
      await as(ada.tokens.accessToken).post("/api/v1/notifications/ws-ticket"),
      201,
    );
    const res = await upgrade(`?ticket=${ticket}`, { headers: { authorization: "Bearer not-a-token" } });
    expect(res.webSocket).toBeNull();
    expect((await problemOf(res, 401)).code).toBe("invalid_token");
  });

  it("refuses a ticket older than 30 seconds, and accepts one just younger", async () => {
    const ada = await subscriber();
    const ctx = serviceContext(principalOf(ada.tokens, ada.user.id));
    const stale = await issueWsTicket(ctx, Date.now() - 30_001);
    expect(await problemOf(await upgrade(`?ticket=${stale.ticket}`), 401)).toMatchObject({
      code: "invalid_ws_ticket",
      detail: "The ticket has expired; tickets last 30 seconds.",
    });
    const fresh = await issueWsTicket(ctx, Date.now() - 25_000);
    await track(openSocket(`?ticket=${fresh.ticket}`));
  });

  it("refuses unknown and malformed tickets, and a ticket whose session was revoked", async () => {
    const ada = await subscriber();
    for (const ticket of [`wst_${"A".repeat(43)}`, "nope", "wst_%00"]) {
      expect((await problemOf(await upgrade(`?ticket=${ticket}`), 401)).code).toBe("invalid_ws_ticket");
    }
    const { ticket } = await jsonOf<{ ticket: string }>(
      await as(ada.tokens.accessToken).post("/api/v1/notifications/ws-ticket"),
      201,
    );
    expect((await as(ada.tokens.accessToken).post("/api/v1/auth/logout")).status).toBe(204);
    expect((await problemOf(await upgrade(`?ticket=${ticket}`), 401)).code).toBe("invalid_ws_ticket");
  });

  it("answers 426 to another protocol upgrade, before looking at credentials", async () => {
    expect((await problemOf(await upgrade("", { headers: { upgrade: "h2c" } }), 426)).code).toBe(
      "upgrade_required",
    );
  });

  it("does not issue tickets to a refused token", async () => {
    const anonymous = await as("not-a-token").post("/api/v1/notifications/ws-ticket");
    expect((await problemOf(anonymous, 401)).code).toBe("invalid_token");
  });
});

describe("revocation closes sockets", () => {
  it("revoking one session closes its sockets (4001) and leaves the user's other sessions open", async () => {
    const ada = await subscriber();
    const tablet = await signIn(ada.user, { userAgent: "Tablet" });
    const [a1, a2] = [await track(ada.socket()), await track(ada.socket())];
    const other = await track(openSocket("", { token: tablet.accessToken }));
    await Promise.all([a1.next("hello"), a2.next("hello"), other.next("hello")]);

    const res = await as(tablet.accessToken).delete(`/api/v1/users/me/sessions/${ada.tokens.sessionId}`);
    expect(res.status).toBe(204);
    for (const socket of [a1, a2]) {
      const event = await socket.closed;
      expect([event.code, event.reason]).toEqual([CLOSE_CODES.sessionRevoked, "session_revoked"]);
    }
    const still = await send(ada.user.id, "Still here");
    expect((await other.next("notification")).data.id).toBe(still.id);
  });

  it("logout closes the session's sockets with the reason", async () => {
    const ada = await subscriber();
    const socket = await track(ada.socket());
    await socket.next("hello");
    expect((await as(ada.tokens.accessToken).post("/api/v1/auth/logout")).status).toBe(204);
    const event = await socket.closed;
    expect([event.code, event.reason]).toEqual([CLOSE_CODES.sessionRevoked, "logout"]);
  });

  it("deleting the account closes every socket of the user (4003)", async () => {
    const ada = await subscriber();
    const tablet = await signIn(ada.user, { userAgent: "Tablet" });
    const sockets = [await track(ada.socket()), await track(openSocket("", { token: tablet.accessToken }))];
    await send(ada.user.id, "Before deletion");
    expect((await as(ada.tokens.accessToken).delete("/api/v1/users/me")).status).toBe(204);
    for (const socket of sockets) {
      const event = await socket.closed;
      expect([event.code, event.reason]).toEqual([CLOSE_CODES.accountClosed, "account_deleted"]);
    }
    expect(await db.select().from(notifications).where(eq(notifications.userId, ada.user.id))).toEqual([]);
  });

  it("refresh-token reuse: the session's sockets close, the user is told in the app and by email", async () => {
    const ada = await subscriber("Phone");
    const laptop = await signIn(ada.user, { userAgent: "Laptop" });
    const phoneSocket = await track(ada.socket());
    const laptopSocket = await track(openSocket("", { token: laptop.accessToken }));
    await Promise.all([phoneSocket.next("hello"), laptopSocket.next("hello")]);
    const emails = vi.spyOn(env.EMAIL_QUEUE, "send");

    // The phone rotates its token; later someone else presents the spent one.
    const refresh = (token: string, userAgent: string) =>
      as("").post("/api/v1/auth/refresh", {
        body: { refresh_token: token },
        headers: { "user-agent": userAgent, authorization: "" },
      });
    expect((await refresh(ada.tokens.refreshToken, "Phone")).status).toBe(200);
    await db.run(
      `UPDATE sessions SET refreshed_at = refreshed_at - ${REFRESH_GRACE_MS + 1000} WHERE id = '${ada.tokens.sessionId}'`,
    );
    await db.run(
      `UPDATE spent_refresh_tokens SET spent_at = spent_at - ${REFRESH_GRACE_MS + 1000} WHERE session_id = '${ada.tokens.sessionId}'`,
    );
    const reused = await problemOf(await refresh(ada.tokens.refreshToken, "curl/8.0"), 401);
    expect(reused.code).toBe("refresh_token_reused");

    const closed = await phoneSocket.closed;
    expect([closed.code, closed.reason]).toEqual([CLOSE_CODES.sessionRevoked, "refresh_token_reused"]);
    const notice = await laptopSocket.next("notification");
    expect(notice.data).toMatchObject({
      type: "system",
      title: "A device was signed out to protect your account",
      target_url: "/settings/security",
      data: { event: "refresh_token_reused", session_id: ada.tokens.sessionId },
    });
    const alert = emails.mock.calls.map(([body]) => body as { template: string; to: string; data: unknown });
    expect(alert.filter((body) => body.template === "security_alert")).toEqual([
      expect.objectContaining({
        to: ada.user.email,
        data: expect.objectContaining({
          event: "refresh_token_reused",
          device: "Phone",
          manage_url: "http://localhost:8787/settings/security",
        }),
      }),
    ]);
  });
});

describe("bad frames", () => {
  it("answers binary, oversized, invalid and unknown frames with an error and keeps every socket open", async () => {
    const ada = await subscriber();
    const bob = await subscriber();
    const [noisy, quiet, bobs] = [
      await track(ada.socket()),
      await track(ada.socket()),
      await track(bob.socket()),
    ];
    await Promise.all([noisy.next("hello"), quiet.next("hello"), bobs.next("hello")]);

    const cases: Array<[string | ArrayBuffer, string]> = [
      [new Uint8Array([1, 2, 3]).buffer, "unsupported_frame"],
      ["x".repeat(1024 * 1024), "frame_too_large"],
      ["x".repeat(MAX_CLIENT_FRAME_BYTES + 1), "frame_too_large"],
      ["{not json", "invalid_json"],
      ["[]", "invalid_message"],
      [JSON.stringify({ type: "subscribe", channel: "everything" }), "invalid_message"],
      [JSON.stringify({ type: "mark_read", ids: ["not-a-uuid"] }), "invalid_message"],
      [
        JSON.stringify({ type: "mark_read", ids: Array.from({ length: 101 }, () => uuidv7()) }),
        "invalid_message",
      ],
      [JSON.stringify({ type: "mark_read", ids: [], extra: 1 }), "invalid_message"],
    ];
    for (const [frame, code] of cases) {
      noisy.send(frame);
      expect(await noisy.next("error")).toMatchObject({ type: "error", code });
    }

    // Another user's id is not theirs to mark: nothing changes and nobody else hears of it.
    const bobsNote = await send(bob.user.id, "Bob's");
    await bobs.next("notification");
    noisy.send(JSON.stringify({ type: "mark_read", ids: [bobsNote.id] }));
    expect(await noisy.next("read")).toEqual({ type: "read", ids: [], unread_count: 0 });
    expect(
      (
        await jsonOf<{ count: number }>(
          await as(bob.tokens.accessToken).get("/api/v1/notifications/unread-count"),
          200,
        )
      ).count,
    ).toBe(1);

    // Ping is answered; every socket still receives live events.
    noisy.send('{"type":"ping"}');
    expect(await noisy.next("pong")).toEqual({ type: "pong" });
    noisy.send('{ "type": "ping" }');
    expect(await noisy.next("pong")).toEqual({ type: "pong" });
    const after = await send(ada.user.id, "After the noise");
    expect((await noisy.next("notification")).data.id).toBe(after.id);
    expect((await quiet.next("notification")).data.id).toBe(after.id);
    expect(await noFrame(bobs, "notification")).toBe(true);
    expect(await notificationHub(env, ada.user.id).connectionCount()).toBe(2);
  });

  it("limits how many mark_read frames a socket may send in a burst", async () => {
    const ada = await subscriber();
    const socket = await track(ada.socket());
    await socket.next("hello");
    const note = await send(ada.user.id, "Once");
    await socket.next("notification");
    for (let i = 0; i < 25; i++) socket.send(JSON.stringify({ type: "mark_read", ids: [note.id] }));
    expect(await socket.next("error")).toMatchObject({ code: "rate_limited" });
  });
});
