/** The waitlist: idempotent joins, throttling, and the staff listing and CSV export. */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { insertChunked } from "../src/db/batch";
import { getDb } from "../src/db/client";
import { preRegistrations } from "../src/db/schema";
import { uuidv7 } from "../src/lib/ids";
import type { PreRegistrationDto } from "../src/modules/pre-registrations/pre-registrations.schemas";
import { CSV_HEADER, csvCell } from "../src/modules/pre-registrations/pre-registrations.service";
import { createStaff, createUser, newAddress, signIn } from "./support/factories";
import { api, as, jsonOf, type Page, problemOf } from "./support/http";
import { securitySuite } from "./support/security";

const db = getDb(env);

const join = (body: unknown, ip?: string) => api("POST", "/api/v1/pre-registrations", { body, ip });

let staffToken: string;
let userToken: string;
beforeAll(async () => {
  staffToken = (await signIn((await createStaff()).user)).accessToken;
  userToken = (await signIn((await createUser()).user)).accessToken;
});

describe("POST /pre-registrations", () => {
  it("adds an address (201 with Location), and answers 200 with the same entry when it is already there", async () => {
    const email = newAddress("grace");
    const created = await join({ email });
    const entry = await jsonOf<PreRegistrationDto>(created, 201);
    expect(entry).toEqual({ id: expect.any(String), email, created_at: expect.stringMatching(/Z$/) });
    expect(created.headers.get("location")).toBe(`/api/v1/pre-registrations/${entry.id}`);

    const again = await jsonOf<PreRegistrationDto>(await join({ email: `  ${email.toUpperCase()} ` }), 200);
    expect(again).toEqual(entry);
    const fetched = await jsonOf<PreRegistrationDto>(
      await as(staffToken).get(created.headers.get("location") ?? ""),
      200,
    );
    expect(fetched).toEqual(entry);
  });

  it("stays one row when the same address joins concurrently", async () => {
    const email = newAddress("race");
    const statuses = (await Promise.all(Array.from({ length: 5 }, () => join({ email })))).map(
      (res) => res.status,
    );
    expect(statuses.filter((status) => status === 201)).toHaveLength(1);
    expect(statuses.filter((status) => status === 200)).toHaveLength(4);
    const page = await jsonOf<Page<PreRegistrationDto>>(
      await as(staffToken).get(`/api/v1/pre-registrations?q=${email}`),
      200,
    );
    expect(page.meta.total).toBe(1);
  });

  it("refuses a bad body, naming the field", async () => {
    for (const [body, pointer] of [
      [{}, "/email"],
      [{ email: "not an email" }, "/email"],
      [{ email: 42 }, "/email"],
      [{ email: `${"a".repeat(250)}@example.com` }, "/email"],
      [{ email: "a@example.com", referrer: "ad" }, "/referrer"],
    ] as const) {
      const problem = await problemOf(await join(body), 400);
      expect(problem.code, JSON.stringify(body)).toBe("validation_failed");
      expect(problem.errors?.map((error) => error.pointer)).toContain(pointer);
    }
  });

  it("is throttled per IP (waitlist: 10 a minute)", async () => {
    const ip = "203.0.113.150";
    for (let i = 0; i < 10; i++) expect((await join({ email: newAddress("ip") }, ip)).status).toBe(201);
    const refused = await join({ email: newAddress("ip") }, ip);
    expect((await problemOf(refused, 429)).violated_policies).toEqual(["waitlist"]);
    expect(refused.headers.get("ratelimit-policy")).toContain('"waitlist";q=10;w=60');
  });

  it("is throttled per address too, whatever the IP", async () => {
    const email = newAddress("same");
    for (let i = 0; i < 10; i++) expect([200, 201]).toContain((await join({ email })).status);
    expect((await problemOf(await join({ email }), 429)).violated_policies).toEqual(["waitlist"]);
  });
});

describe("staff: list and export", () => {
  const tag = `list-${crypto.randomUUID().slice(0, 6)}`;
  beforeAll(async () => {
    // Distinct creation times, so the order is known.
    const base = Date.now() - 10_000;
    await db.insert(preRegistrations).values(
      ["c", "a", "b"].map((letter, i) => ({
        id: uuidv7(base + i),
        email: `${letter}-${tag}@example.com`,
        createdAt: new Date(base + i),
      })),
    );
  });

  it("lists newest first, pages with a cursor, sorts and searches", async () => {
    const first = await as(staffToken).get(`/api/v1/pre-registrations?q=${tag}&limit=2`);
    const page = await jsonOf<Page<PreRegistrationDto>>(first, 200);
    expect(page.meta.total).toBe(3);
    expect(page.data.map((entry) => entry.email[0])).toEqual(["b", "a"]);
    expect(first.headers.get("link")).toContain('rel="next"');
    const rest = await jsonOf<Page<PreRegistrationDto>>(
      await as(staffToken).get(`/api/v1/pre-registrations?q=${tag}&limit=2&cursor=${page.meta.next}`),
      200,
    );
    expect(rest.data.map((entry) => entry.email[0])).toEqual(["c"]);
    const byEmail = await jsonOf<Page<PreRegistrationDto>>(
      await as(staffToken).get(`/api/v1/pre-registrations?q=${tag}&sort=email`),
      200,
    );
    expect(byEmail.data.map((entry) => entry.email[0])).toEqual(["a", "b", "c"]);
  });

  it("searches literally (% and _ match themselves)", async () => {
    const page = await jsonOf<Page<PreRegistrationDto>>(
      await as(staffToken).get("/api/v1/pre-registrations?q=%25"),
      200,
    );
    expect(page.meta.total).toBe(0);
  });

  it("refuses unknown sort fields and filters, and bad ids", async () => {
    const sort = await problemOf(await as(staffToken).get("/api/v1/pre-registrations?sort=ip"), 400);
    expect(sort.errors?.[0]).toMatchObject({ parameter: "sort", location: "query" });
    const filter = await problemOf(
      await as(staffToken).get("/api/v1/pre-registrations?filter[email]=x"),
      400,
    );
    expect(filter.errors?.[0]?.parameter).toBe("filter[email]");
    expect((await problemOf(await as(staffToken).get("/api/v1/pre-registrations/nope"), 400)).code).toBe(
      "validation_failed",
    );
    expect(
      (await problemOf(await as(staffToken).get(`/api/v1/pre-registrations/${uuidv7()}`), 404)).code,
    ).toBe("not_found");
  });

  it("exports every entry as CSV, oldest first, across many chunks", async () => {
    const bulkTag = `bulk-${crypto.randomUUID().slice(0, 6)}`;
    const base = Date.now() - 5_000_000;
    await insertChunked(
      db,
      preRegistrations,
      Array.from({ length: 1_203 }, (_, i) => ({
        id: uuidv7(base + i),
        email: `n${String(i).padStart(4, "0")}-${bulkTag}@example.com`,
        createdAt: new Date(base + i),
      })),
    );
    const res = await as(staffToken).get("/api/v1/pre-registrations/export.csv");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("content-disposition")).toMatch(
      /^attachment; filename="pre-registrations-\d{4}-\d{2}-\d{2}\.csv"$/,
    );
    const text = await res.text();
    expect(text.endsWith("\r\n")).toBe(true);
    const lines = text.trimEnd().split("\r\n");
    expect(lines[0]).toBe(CSV_HEADER);
    const bulk = lines.filter((line) => line.includes(bulkTag)).map((line) => line.split(",")[1]);
    expect(bulk).toHaveLength(1_203);
    expect(bulk[0]).toBe(`n0000-${bulkTag}@example.com`);
    expect(bulk.at(-1)).toBe(`n1202-${bulkTag}@example.com`);
    // Every entry once: as many rows as the listing's total.
    const total = (
      await jsonOf<Page<PreRegistrationDto>>(
        await as(staffToken).get("/api/v1/pre-registrations?limit=1"),
        200,
      )
    ).meta.total;
    expect(lines).toHaveLength(total + 1);
  });

  it("neutralises cells a spreadsheet would run as formulas, and quotes what needs quoting", async () => {
    expect(csvCell('=HYPERLINK("http://evil")@x.com')).toBe('"\'=HYPERLINK(""http://evil"")@x.com"');
    expect(csvCell("+1@example.com")).toBe("'+1@example.com");
    expect(csvCell("-1@example.com")).toBe("'-1@example.com");
    expect(csvCell("@a@example.com")).toBe("'@a@example.com");
    expect(csvCell("a,b@example.com")).toBe('"a,b@example.com"');
    expect(csvCell("plain@example.com")).toBe("plain@example.com");
    // Through the export: a row stored with such an address comes out guarded.
    await db
      .insert(preRegistrations)
      .values({ email: `=cmd-${crypto.randomUUID().slice(0, 6)}@example.com` });
    const text = await (await as(staffToken).get("/api/v1/pre-registrations/export.csv")).text();
    expect(text).toMatch(/,'=cmd-[0-9a-f]{6}@example\.com,/);
  });
});

for (const [name, path] of [
  ["GET /api/v1/pre-registrations", "/api/v1/pre-registrations"],
  ["GET /api/v1/pre-registrations/export.csv", "/api/v1/pre-registrations/export.csv"],
  ["GET /api/v1/pre-registrations/{id}", `/api/v1/pre-registrations/${uuidv7()}`],
] as const) {
  securitySuite(name, {
    method: "GET",
    path,
    forbidden: async () => ({ authorization: `Bearer ${userToken}` }),
  });
}
