/**
 * The collection helpers every module shares: sort/filter parsing against
 * allowlists, the limit bounds, cursors (including forged ones), and keyset
 * pages walked over a real D1 table in both directions.
 */

import { env } from "cloudflare:workers";
import { z } from "@hono/zod-openapi";
import { and, count, eq, like, type SQL } from "drizzle-orm";
import { Hono } from "hono";
import { beforeAll, describe, expect, it } from "vitest";
import { insertChunked } from "../src/db/batch";
import { getDb } from "../src/db/client";
import { users } from "../src/db/schema";
import { uuidv7 } from "../src/lib/ids";
import { booleanFilter, listQuery, parseSort } from "../src/lib/list-query";
import { decodeCursor, encodeCursor, keysetPage, type Page, setLinkHeader } from "../src/lib/pagination";
import { ProblemError } from "../src/lib/problem";

type Row = typeof users.$inferSelect;

const query = listQuery({
  sort: ["email", "created_at"],
  defaultSort: "-created_at",
  filters: { "filter[is_staff]": booleanFilter, "filter[created_at][gte]": z.coerce.number().int() },
});

describe("parseSort", () => {
  it("parses fields and directions in order", () => {
    expect(parseSort("email,-created_at", ["email", "created_at"])).toEqual([
      { field: "email", direction: "asc" },
      { field: "created_at", direction: "desc" },
    ]);
  });
  it.each([
    ["password", "Unknown sort field"],
    ["email,,created_at", "must not be empty"],
    ["email,-email", "repeated"],
  ])("refuses %s", (raw, message) => {
    expect(parseSort(raw, ["email", "created_at"])).toContain(message);
  });
});

describe("listQuery", () => {
  it("applies defaults", () => {
    const parsed = query.parse({});
    expect(parsed.limit).toBe(20);
    expect(parsed.sort).toEqual([{ field: "created_at", direction: "desc" }]);
    expect(parsed.cursor).toBeUndefined();
  });

  it("parses declared filters", () => {
    const parsed = query.parse({ "filter[is_staff]": "true", "filter[created_at][gte]": "100", limit: "5" });
    expect(parsed["filter[is_staff]"]).toBe(true);
    expect(parsed["filter[created_at][gte]"]).toBe(100);
    expect(parsed.limit).toBe(5);
  });

  it.each([
    [{ limit: "0" }, "limit"],
    [{ limit: "1000" }, "limit"],
    [{ limit: "ten" }, "limit"],
    [{ sort: "password" }, "sort"],
    [{ "filter[password]": "x" }, "filter[password]"],
    [{ "filter[is_staff][gte]": "1" }, "filter[is_staff][gte]"],
    [{ "filter[is_staff]": "maybe" }, "filter[is_staff]"],
  ])("refuses %j naming %s", (input, parameter) => {
    const result = query.safeParse(input);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.path[0])).toContain(parameter);
  });
});

describe("cursors", () => {
  it("round-trips", () => {
    const cursor = {
      v: ["a@example.com", "0190c6c4-8d1e-7c2a-9f5e-1b2c3d4e5f60"],
      d: "n" as const,
      s: "email",
    };
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
  });

  it.each([
    ["not base64 !!"],
    ["eyJub3QiOiJhIGN1cnNvciJ9"], // {"not":"a cursor"}
    [btoa("garbage{")],
    [encodeCursor({ v: [], d: "n", s: "email" })],
  ])("refuses a forged cursor %s with 400 invalid_cursor", (raw) => {
    expect(() => decodeCursor(raw)).toThrowError(ProblemError);
    try {
      decodeCursor(raw);
    } catch (error) {
      expect((error as ProblemError).status).toBe(400);
      expect((error as ProblemError).code).toBe("invalid_cursor");
    }
  });
});

describe("keysetPage over D1", () => {
  const db = getDb(env);
  const base = Date.UTC(2026, 0, 1);
  const seeded: Row[] = [];

  beforeAll(async () => {
    // 25 rows; created_at repeats in pairs so the id tie-breaker matters.
    const rows = Array.from({ length: 25 }, (_, i) => ({
      id: uuidv7(base + i),
      email: `page-${String((i * 7) % 25).padStart(2, "0")}@example.com`,
      createdAt: new Date(base + Math.floor(i / 2) * 1000),
      isStaff: i % 3 === 0,
    }));
    await insertChunked(db, users, rows);
    seeded.push(...(await db.select().from(users).where(like(users.email, "page-%"))));
  });

  const columns = {
    email: { column: users.email, read: (row: Row) => row.email },
    created_at: { column: users.createdAt, read: (row: Row) => row.createdAt.getTime() },
  };

  async function fetchPage(raw: Record<string, string>, extra?: SQL): Promise<Page<Row>> {
    const q = query.parse(raw);
    const page = keysetPage({
      sort: q.sort,
      columns,
      tiebreaker: { column: users.id, read: (row: Row) => row.id },
      limit: q.limit,
      cursor: q.cursor,
    });
    const filter = and(like(users.email, "page-%"), extra);
    const [rows, totals] = await db.batch([
      db
        .select()
        .from(users)
        .where(and(filter, page.where))
        .orderBy(...page.orderBy)
        .limit(page.take),
      db.select({ total: count() }).from(users).where(filter),
    ]);
    return page.finish(rows, totals[0]?.total ?? 0);
  }

  const expectedOrder = (sort: "email" | "-created_at") =>
    [...seeded]
      .sort((a, b) =>
        sort === "email"
          ? a.email.localeCompare(b.email) || a.id.localeCompare(b.id)
          : b.createdAt.getTime() - a.createdAt.getTime() || b.id.localeCompare(a.id),
      )
      .map((row) => row.id);

  for (const sort of ["email", "-created_at"] as const) {
    it(`walks every row forward then back by ${sort}, without gaps or repeats`, async () => {
      const forward: string[] = [];
      const cursors: Array<string | null> = [];
      let cursor: string | undefined;
      let first = true;
      do {
        const page = await fetchPage({ sort, limit: "7", ...(cursor ? { cursor } : {}) });
        expect(page.meta.total).toBe(25);
        if (first) expect(page.meta.prev).toBeNull();
        first = false;
        forward.push(...page.data.map((row) => row.id));
        cursors.push(page.meta.prev);
        cursor = page.meta.next ?? undefined;
      } while (cursor);
      expect(forward).toEqual(expectedOrder(sort));

      // From the last page, follow prev links back to the first page.
      const backward: string[] = [];
      let prev = cursors.at(-1) ?? null;
      while (prev) {
        const page = await fetchPage({ sort, limit: "7", cursor: prev });
        backward.unshift(...page.data.map((row) => row.id));
        prev = page.meta.prev;
      }
      expect(backward).toEqual(expectedOrder(sort).slice(0, 21));
    });
  }

  it("keeps walking correctly when rows are inserted between pages", async () => {
    const firstPage = await fetchPage({ sort: "-created_at", limit: "10" });
    // A newer row lands before the cursor: it must not appear on later pages or shift them.
    await db
      .insert(users)
      .values({ id: uuidv7(), email: "page-new@example.com", createdAt: new Date(base + 99_000) });
    const rest: string[] = [];
    let cursor = firstPage.meta.next;
    while (cursor) {
      const page = await fetchPage({ sort: "-created_at", limit: "10", cursor });
      rest.push(...page.data.map((row) => row.id));
      cursor = page.meta.next;
    }
    expect([...firstPage.data.map((row) => row.id), ...rest]).toEqual(expectedOrder("-created_at"));
    await db.delete(users).where(eq(users.email, "page-new@example.com"));
  });

  it("filters and counts only matching rows", async () => {
    const page = await fetchPage({ sort: "email", limit: "100" }, eq(users.isStaff, true));
    expect(page.meta.total).toBe(9);
    expect(page.data.every((row) => row.isStaff)).toBe(true);
    expect(page.meta.next).toBeNull();
  });

  it("refuses a cursor made for another sort", async () => {
    const page = await fetchPage({ sort: "email", limit: "5" });
    await expect(fetchPage({ sort: "-created_at", cursor: page.meta.next as string })).rejects.toMatchObject({
      status: 400,
      code: "invalid_cursor",
    });
  });
});

describe("setLinkHeader", () => {
  it("writes rel=next and rel=prev links that keep the other parameters", async () => {
    const app = new Hono();
    app.get("/things", (c) => {
      setLinkHeader(c, { next: "NEXT", prev: "PREV", total: 3 });
      return c.body(null, 204);
    });
    const res = await app.request("https://api.example.com/things?limit=2&cursor=OLD&filter%5Bx%5D=1");
    expect(res.headers.get("link")).toBe(
      '<https://api.example.com/things?limit=2&cursor=NEXT&filter%5Bx%5D=1>; rel="next", ' +
        '<https://api.example.com/things?limit=2&cursor=PREV&filter%5Bx%5D=1>; rel="prev"',
    );
  });

  it("writes nothing on a single page", async () => {
    const app = new Hono();
    app.get("/things", (c) => {
      setLinkHeader(c, { next: null, prev: null, total: 1 });
      return c.body(null, 204);
    });
    expect((await app.request("https://api.example.com/things")).headers.get("link")).toBeNull();
  });
});
