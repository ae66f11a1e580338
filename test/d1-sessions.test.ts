/**
 * D1 read replication through the Sessions API (docs/SCALING.md#read-replicas): one session
 * per request, where it starts, X-D1-Bookmark in and out, bookmarks on queue messages and
 * into the NotificationHub.
 *
 * Local D1 (miniflare) has no replicas: every query is served by the one database, a
 * session's bookmark is what that database answered, and an incoming bookmark is not
 * checked. So what is asserted is what the Worker does — which start it hands withSession(),
 * that no query bypasses the session, which bookmark goes out and comes back — and that
 * nothing a client sends as a bookmark fails a request. The recording binding below wraps
 * the real local D1 and refuses any query made outside a session.
 */
import { env } from "cloudflare:workers";
import { eq, sql } from "drizzle-orm";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { D1_BOOKMARK_HEADER, parseBookmark, requestSessionStart } from "../src/db/bookmarks";
import { openDatabaseSession, sessionKind } from "../src/db/client";
import { users } from "../src/db/schema";
import type { Bindings } from "../src/env";
import { messageEnvelope } from "../src/jobs/messages";
import { notificationHub } from "../src/modules/notifications/notification-hub.client";
import type { ServerMessage } from "../src/modules/notifications/notification-hub.protocol";
import { forgetCachedProfiles } from "../src/modules/users/profile-cache";
import { runQueueBatch } from "./support/background";
import { person } from "./support/factories";
import { api, apiWith, jsonOf } from "./support/http";
import { openSocket } from "./support/sockets";
import { holdJobsQueue, JOBS_QUEUE, taskRow } from "./support/tasks";

const BOOKMARK_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/;
const SOME_BOOKMARK = "00000085-0000024c-00004c6d-8e61117bf38d7adb71b934ebbf891683";

/**
 * The real local D1 behind a binding that records every withSession() start and throws on a
 * query sent to the binding itself (which would go to the primary, outside any session).
 */
function recordingD1() {
  const starts: string[] = [];
  const outside = () => {
    throw new Error("a query ran on the D1 binding itself, outside the request's session");
  };
  const binding = {
    withSession(start: string) {
      starts.push(start);
      return env.DB.withSession(start);
    },
    prepare: outside,
    batch: outside,
    exec: outside,
  };
  return { DB: binding as unknown as D1Database, starts };
}

/** The access-log line ("request") written while `run` ran, with LOG_LEVEL=info. */
async function accessLogOf(run: () => Promise<Response>) {
  const log = vi.spyOn(console, "log").mockImplementation(() => {});
  const res = await run();
  const line = log.mock.calls
    .map((call) => JSON.parse(String(call[0])) as Record<string, unknown>)
    .find((entry) => entry.msg === "request");
  log.mockRestore();
  return { res, line };
}

afterEach(() => vi.restoreAllMocks());

describe("where a request's session starts (requestSessionStart)", () => {
  it.each(["GET", "HEAD", "OPTIONS", "get"])("%s without a bookmark may start on a replica", (method) => {
    expect(requestSessionStart(method, null)).toBe("first-unconstrained");
  });

  it.each(["POST", "PUT", "PATCH", "DELETE", "post"])("%s starts on the primary", (method) => {
    expect(requestSessionStart(method, null)).toBe("first-primary");
  });

  it("a write with a bookmark still starts on the primary, which already holds everything it names", () => {
    expect(requestSessionStart("PATCH", SOME_BOOKMARK)).toBe("first-primary");
  });

  it("a read with a bookmark starts from it", () => {
    expect(requestSessionStart("GET", SOME_BOOKMARK)).toBe(SOME_BOOKMARK);
    expect(sessionKind(SOME_BOOKMARK)).toBe("bookmark");
    expect(sessionKind("first-primary")).toBe("first-primary");
  });
});

describe("which client bookmarks are taken (parseBookmark)", () => {
  it("keeps D1's shape", () => {
    expect(parseBookmark(SOME_BOOKMARK)).toBe(SOME_BOOKMARK);
  });

  it.each([
    ["absent", undefined],
    ["empty", ""],
    ["a constraint, not a bookmark", "first-primary"],
    ["upper-case hex", SOME_BOOKMARK.toUpperCase()],
    ["too long", `${SOME_BOOKMARK}0`],
    ["padded", ` ${SOME_BOOKMARK}`],
    ["a header injection", `${SOME_BOOKMARK}\r\nSet-Cookie: a=b`],
    ["junk", "'; DROP TABLE users; --"],
    ["huge", "0".repeat(10_000)],
  ])("ignores %s", (_, value) => {
    expect(parseBookmark(value)).toBeNull();
  });
});

describe("one D1 session per request", () => {
  let ada: Awaited<ReturnType<typeof person>>;
  beforeAll(async () => {
    ada = await person();
  });

  it("an authenticated GET opens one session that may start on a replica, and every query runs in it", async () => {
    const d1 = recordingD1();
    const { res, line } = await accessLogOf(() =>
      apiWith({ DB: d1.DB, LOG_LEVEL: "info" }, "GET", "/api/v1/users/me", { token: ada.token }),
    );
    expect(res.status).toBe(200);
    expect(d1.starts).toEqual(["first-unconstrained"]);
    expect(line).toMatchObject({ path: "/api/v1/users/me", status: 200, d1_session: "first-unconstrained" });
  });

  it("a write starts on the primary", async () => {
    const d1 = recordingD1();
    const { res, line } = await accessLogOf(() =>
      apiWith({ DB: d1.DB, LOG_LEVEL: "info" }, "PATCH", "/api/v1/users/me", {
        token: ada.token,
        body: { first_name: "Ada" },
      }),
    );
    expect(res.status).toBe(200);
    expect(d1.starts).toEqual(["first-primary"]);
    expect(line).toMatchObject({ method: "PATCH", d1_session: "first-primary" });
  });

  it("a GET with a bookmark starts from exactly that bookmark", async () => {
    const d1 = recordingD1();
    const { res, line } = await accessLogOf(() =>
      apiWith({ DB: d1.DB, LOG_LEVEL: "info" }, "GET", "/api/v1/users/me", {
        token: ada.token,
        headers: { [D1_BOOKMARK_HEADER]: SOME_BOOKMARK },
      }),
    );
    expect(res.status).toBe(200);
    expect(d1.starts).toEqual([SOME_BOOKMARK]);
    expect(line).toMatchObject({ d1_session: "bookmark" });
  });

  it("the session's choice stays out of the response: only the bookmark is answered", async () => {
    const res = await ada.api.get("/api/v1/users/me");
    const exposed = [...res.headers.keys()].filter((name) => /d1/i.test(name));
    expect(exposed).toEqual(["x-d1-bookmark"]);
    expect(JSON.stringify(await res.json())).not.toMatch(/first-(primary|unconstrained)/);
  });
});

describe("X-D1-Bookmark round trip", () => {
  let ada: Awaited<ReturnType<typeof person>>;
  beforeAll(async () => {
    ada = await person();
  });

  it("a write answers its bookmark; a read that sends it back starts there and sees the write", async () => {
    const written = await ada.api.patch("/api/v1/users/me", { body: { last_name: "Lovelace" } });
    expect(written.status).toBe(200);
    const bookmark = written.headers.get(D1_BOOKMARK_HEADER);
    expect(bookmark).toMatch(BOOKMARK_SHAPE);

    const d1 = recordingD1();
    const read = await apiWith({ DB: d1.DB }, "GET", "/api/v1/users/me", {
      token: ada.token,
      headers: { [D1_BOOKMARK_HEADER]: bookmark as string },
    });
    expect(d1.starts).toEqual([bookmark]);
    expect(await jsonOf<{ last_name: string }>(read, 200)).toMatchObject({ last_name: "Lovelace" });
    // D1 orders bookmarks as strings: the read's is never older than the one it started from.
    const after = read.headers.get(D1_BOOKMARK_HEADER) as string;
    expect(after).toMatch(BOOKMARK_SHAPE);
    expect(after >= (bookmark as string)).toBe(true);
  });

  it("every answer that touched D1 carries a bookmark, a problem too", async () => {
    const missing = await ada.api.get(`/api/v1/tasks/${crypto.randomUUID()}`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get(D1_BOOKMARK_HEADER)).toMatch(BOOKMARK_SHAPE);
  });

  it("a request that never reached D1 answers no bookmark, or hands the client's back", async () => {
    const none = await api("GET", "/health/live");
    expect(none.status).toBe(200);
    expect(none.headers.get(D1_BOOKMARK_HEADER)).toBeNull();

    const echoed = await api("GET", "/health/live", { headers: { [D1_BOOKMARK_HEADER]: SOME_BOOKMARK } });
    expect(echoed.headers.get(D1_BOOKMARK_HEADER)).toBe(SOME_BOOKMARK);
  });
});

describe("a malformed bookmark is ignored", () => {
  let ada: Awaited<ReturnType<typeof person>>;
  beforeAll(async () => {
    ada = await person();
  });
  // Each case must reach D1: the profile this isolate remembers would answer without a session query.
  beforeEach(() => forgetCachedProfiles());

  it.each([
    ["junk", "not-a-bookmark"],
    ["a constraint", "first-primary"],
    ["a long string", "a".repeat(4096)],
    ["upper-case", SOME_BOOKMARK.toUpperCase()],
  ])("%s: still 200, from the rule for the method, and never echoed", async (_, value) => {
    const d1 = recordingD1();
    const res = await apiWith({ DB: d1.DB }, "GET", "/api/v1/users/me", {
      token: ada.token,
      headers: { [D1_BOOKMARK_HEADER]: value },
    });
    expect(res.status).toBe(200);
    expect(d1.starts).toEqual(["first-unconstrained"]);
    const answered = res.headers.get(D1_BOOKMARK_HEADER);
    expect(answered).toMatch(BOOKMARK_SHAPE);
    expect(answered).not.toBe(value);
  });

  it("on a write too", async () => {
    const res = await ada.api.patch("/api/v1/users/me", {
      body: { first_name: "Ada" },
      headers: { [D1_BOOKMARK_HEADER]: "'; DROP TABLE users; --" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get(D1_BOOKMARK_HEADER)).toMatch(BOOKMARK_SHAPE);
  });
});

describe("CORS", () => {
  it("a preflight allows X-D1-Bookmark", async () => {
    const res = await api("OPTIONS", "/api/v1/users/me", {
      headers: {
        origin: "http://localhost:5173",
        "access-control-request-method": "GET",
        "access-control-request-headers": "authorization, x-d1-bookmark",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("x-d1-bookmark");
  });

  it("a response exposes it to the page", async () => {
    const ada = await person();
    const res = await ada.api.get("/api/v1/users/me", { headers: { origin: "http://localhost:5173" } });
    expect(res.headers.get("access-control-expose-headers")?.toLowerCase()).toContain("x-d1-bookmark");
    expect(res.headers.get(D1_BOOKMARK_HEADER)).toMatch(BOOKMARK_SHAPE);
  });
});

describe("queue messages carry the producer's bookmark", () => {
  it("POST /tasks sends task.run with its bookmark; the consumer's session starts there and runs the task", async () => {
    const queue = holdJobsQueue();
    const owner = await person();
    const res = await owner.api.post("/api/v1/tasks", { body: { type: "add", payload: { x: 1, y: 2 } } });
    const task = await jsonOf<{ id: string }>(res, 202);
    const sent = queue.forTask(task.id)[0]?.body as { d1_bookmark?: string } | undefined;
    const carried = sent?.d1_bookmark as string;
    expect(carried).toMatch(BOOKMARK_SHAPE);
    // Taken when the message was sent: no later than what the request's answer carried.
    expect(carried <= (res.headers.get(D1_BOOKMARK_HEADER) as string)).toBe(true);

    const d1 = recordingD1();
    const { result } = await runQueueBatch(JOBS_QUEUE, [{ id: "with-bookmark", body: sent }], {
      ...env,
      DB: d1.DB,
    } as Bindings);
    expect(result.explicitAcks).toEqual(["with-bookmark"]);
    expect(d1.starts).toEqual([carried]);
    // The job read the row the producer wrote (through the bookmark's session) and ran it.
    expect((await taskRow(task.id))?.status).toBe("SUCCESS");
  });

  /** The task.run message POST /tasks sends for a new task (held, not yet consumed), and the task's id. */
  async function heldTaskMessage(owner: Awaited<ReturnType<typeof person>>) {
    const queue = holdJobsQueue();
    const res = await owner.api.post("/api/v1/tasks", { body: { type: "add", payload: { x: 1, y: 2 } } });
    const task = await jsonOf<{ id: string }>(res, 202);
    const body = queue.forTask(task.id)[0]?.body as Record<string, unknown>;
    return { taskId: task.id, body };
  }

  // A session opens at its first statement: these messages are tasks, whose run reads D1.
  it("a message without a bookmark, or with a malformed one, starts on the primary and is still handled", async () => {
    const owner = await person();
    const none = await heldTaskMessage(owner);
    const junk = await heldTaskMessage(owner);
    const number = await heldTaskMessage(owner);
    const { d1_bookmark: _, ...withoutBookmark } = none.body;
    const d1 = recordingD1();
    const { result } = await runQueueBatch(
      JOBS_QUEUE,
      [
        { id: "none", body: withoutBookmark },
        { id: "junk", body: { ...junk.body, d1_bookmark: "junk\r\n" } },
        { id: "number", body: { ...number.body, d1_bookmark: 42 } },
      ],
      { ...env, DB: d1.DB } as Bindings,
    );
    expect(result.explicitAcks.sort()).toEqual(["junk", "none", "number"]);
    expect(d1.starts).toEqual(["first-primary", "first-primary", "first-primary"]);
    for (const { taskId } of [none, junk, number]) expect((await taskRow(taskId))?.status).toBe("SUCCESS");
  });

  it("a redelivered message starts on the primary: its earlier attempt wrote past the bookmark", async () => {
    const owner = await person();
    const first = await heldTaskMessage(owner);
    const again = await heldTaskMessage(owner);
    const d1 = recordingD1();
    const { result } = await runQueueBatch(
      JOBS_QUEUE,
      [
        { id: "first", body: { ...first.body, d1_bookmark: SOME_BOOKMARK } },
        { id: "again", body: { ...again.body, d1_bookmark: SOME_BOOKMARK }, attempts: 2 },
      ],
      { ...env, DB: d1.DB } as Bindings,
    );
    expect(result.explicitAcks.sort()).toEqual(["again", "first"]);
    expect(d1.starts.sort()).toEqual([SOME_BOOKMARK, "first-primary"]);
  });

  it("a message whose work never reaches D1 opens no session at all", async () => {
    const d1 = recordingD1();
    const ping = { type: "health.ping", sent_at: new Date().toISOString(), request_id: "r-1" };
    const { result } = await runQueueBatch(JOBS_QUEUE, [{ id: "ping", body: ping }], {
      ...env,
      DB: d1.DB,
    } as Bindings);
    expect(result.explicitAcks).toEqual(["ping"]);
    expect(d1.starts).toEqual([]);
  });

  it("the envelope reads only a well-formed bookmark off a raw body", () => {
    expect(messageEnvelope({ type: "x", d1_bookmark: SOME_BOOKMARK })).toEqual({ d1Bookmark: SOME_BOOKMARK });
    expect(messageEnvelope({ type: "x", d1_bookmark: "first-primary" })).toEqual({ d1Bookmark: null });
    expect(messageEnvelope("not an object")).toEqual({ d1Bookmark: null });
    expect(messageEnvelope(null)).toEqual({ d1Bookmark: null });
  });
});

describe("the NotificationHub reads D1 from its caller's bookmark", () => {
  it("the WebSocket upgrade hands the hub the bookmark its request holds", async () => {
    const ada = await person();
    const written = await ada.api.patch("/api/v1/users/me", { body: { first_name: "Ada" } });
    const bookmark = written.headers.get(D1_BOOKMARK_HEADER) as string;
    const urls: string[] = [];
    const getStub = env.NOTIFICATION_HUB.get.bind(env.NOTIFICATION_HUB);
    vi.spyOn(env.NOTIFICATION_HUB, "get").mockImplementation((id) => {
      const stub = getStub(id);
      return {
        fetch: (input: RequestInfo | URL, init?: RequestInit) => {
          urls.push(String(input));
          return stub.fetch(input, init);
        },
      } as unknown as ReturnType<typeof getStub>;
    });
    const withBookmark = await openSocket("", {
      token: ada.token,
      headers: { [D1_BOOKMARK_HEADER]: bookmark },
    });
    try {
      expect((await withBookmark.next("hello")).unread_count).toBe(0);
      const carried = new URL(urls[0] as string).searchParams.get("d1_bookmark") as string;
      // The client's bookmark, or a newer one if the upgrade request itself read D1.
      expect(carried).toMatch(BOOKMARK_SHAPE);
      expect(carried >= bookmark).toBe(true);
    } finally {
      withBookmark.close();
    }
  });

  it.each([
    ["a malformed bookmark", "junk"],
    ["none", null],
    ["a well-formed one", SOME_BOOKMARK.replace(/^0+85/, "00000000")],
  ])("greets with %s (never a failed socket)", async (_, d1Bookmark) => {
    const ada = await person();
    const res = await notificationHub(env, ada.user.id).connect({
      userId: ada.user.id,
      sessionId: ada.tokens.sessionId,
      d1Bookmark,
      maxSockets: 100,
    });
    expect(res.status).toBe(101);
    const ws = res.webSocket as WebSocket;
    const hello = new Promise<ServerMessage>((resolve) =>
      ws.addEventListener("message", (event) => resolve(JSON.parse(String(event.data)))),
    );
    ws.accept();
    expect(await hello).toMatchObject({ type: "hello", unread_count: 0 });
    ws.close();
  });
});

describe("openDatabaseSession (the seam other bindings reuse)", () => {
  it("opens the D1 session at the first statement, not before: a request that runs none opens none", async () => {
    const d1 = recordingD1();
    const session = openDatabaseSession(d1.DB, "first-unconstrained");
    expect(session.bookmark()).toBeNull();
    expect(d1.starts).toEqual([]);
    await session.db.run(sql`select 1`);
    await session.db.run(sql`select 2`);
    expect(d1.starts).toEqual(["first-unconstrained"]);
    expect(session.bookmark()).toMatch(BOOKMARK_SHAPE);

    // Until its first statement, a session started from a bookmark reports that bookmark.
    const fromBookmark = openDatabaseSession(d1.DB, SOME_BOOKMARK);
    expect(fromBookmark.bookmark()).toBe(SOME_BOOKMARK);
    expect(d1.starts).toEqual(["first-unconstrained"]);

    const health = await apiWith({ DB: d1.DB }, "GET", "/health/live");
    expect(health.status).toBe(200);
    expect(d1.starts).toEqual(["first-unconstrained"]);
  });

  it("gives a drizzle Database over one session: selects, batches, relational queries, a bookmark after", async () => {
    const session = openDatabaseSession(env.DB, "first-primary");
    expect(session.kind).toBe("first-primary");
    expect(session.bookmark()).toBeNull();
    const [first, second] = await session.db.batch([
      session.db.select({ id: users.id }).from(users).limit(1),
      session.db.select({ email: users.email }).from(users).limit(1),
    ]);
    expect(Array.isArray(first)).toBe(true);
    expect(Array.isArray(second)).toBe(true);
    await session.db.query.users.findFirst();
    expect(session.bookmark()).toMatch(BOOKMARK_SHAPE);
  });
});

/**
 * A bookmark of the right shape that D1 never issued. Local D1 does not check bookmarks, so
 * this binding answers like a D1 that cannot serve one: every query of a session started from
 * `refused` fails, while sessions on the primary are the real local database.
 */
function refusingD1(refused: string) {
  const starts: string[] = [];
  const refusal = () => Promise.reject(new Error("D1_ERROR: the bookmark could not be served"));
  const refusingStatement = {
    bind: () => refusingStatement,
    first: refusal,
    all: refusal,
    run: refusal,
    raw: refusal,
  };
  const binding = {
    withSession(start: string) {
      starts.push(start);
      if (start !== refused) return env.DB.withSession(start);
      return { prepare: () => refusingStatement, batch: refusal, getBookmark: () => refused };
    },
  };
  return { DB: binding as unknown as D1Database, starts };
}

describe("a bookmark D1 will not serve", () => {
  it("moves the session to the primary once: the query is answered, later ones go there directly", async () => {
    const { DB, starts } = refusingD1(SOME_BOOKMARK);
    const { user } = await person();
    const id = user.id;
    const session = openDatabaseSession(DB, SOME_BOOKMARK);
    const [row] = await session.db.select({ id: users.id }).from(users).where(eq(users.id, id));
    expect(row?.id).toBe(id);
    expect(starts).toEqual([SOME_BOOKMARK, "first-primary"]);

    // A batch and a relational query after the move run on the primary session, without retrying.
    const [[again]] = await session.db.batch([
      session.db.select({ id: users.id }).from(users).where(eq(users.id, id)),
    ]);
    expect(again?.id).toBe(id);
    expect(
      await session.db.query.users.findFirst({ where: eq(users.id, id), columns: { id: true } }),
    ).toEqual({
      id,
    });
    expect(starts).toEqual([SOME_BOOKMARK, "first-primary"]);
    // The bookmark handed on is the primary session's, a real one: not the refused value.
    expect(session.bookmark()).toMatch(BOOKMARK_SHAPE);
    expect(session.bookmark()).not.toBe(SOME_BOOKMARK);
  });

  it("lets a query that fails on the primary too fail as it would have (no endless retry)", async () => {
    const { DB, starts } = refusingD1(SOME_BOOKMARK);
    const session = openDatabaseSession(DB, SOME_BOOKMARK);
    await expect(session.db.run(sql`select * from no_such_table`)).rejects.toThrow(/no_such_table/);
    expect(starts).toEqual([SOME_BOOKMARK, "first-primary"]);
  });

  it("never wraps a session that did not start from a bookmark", async () => {
    const { DB, starts } = refusingD1(SOME_BOOKMARK);
    const session = openDatabaseSession(DB, "first-unconstrained");
    await session.db.run(sql`select 1`);
    expect(starts).toEqual(["first-unconstrained"]);
  });
});
