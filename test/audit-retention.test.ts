/**
 * Audit retention and export: the cron archives rows older than AUDIT_RETENTION_DAYS to
 * R2 (gzip NDJSON, read back here and compared) and is the only path that removes them
 * (the database refuses any other delete, and forged archive records); a re-run, or a
 * run that died after its upload, neither loses nor duplicates a row. GET
 * /admin/v1/audit-logs/export streams archived and live rows in order, for staff only.
 */
import { env } from "cloudflare:workers";
import { asc, eq } from "drizzle-orm";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { inJsonList, insertChunked } from "../src/db/batch";
import { getDb } from "../src/db/client";
import { type AuditLog, auditArchives, auditLogs, type NewAuditLog } from "../src/db/schema";
import type { AuditLogDto } from "../src/modules/audit/audit.schemas";
import { toAuditLogDto } from "../src/modules/audit/audit.service";
import { AUDIT_ARCHIVE_PREFIX, writeAuditArchive } from "../src/modules/audit/audit-archive";
import { archiveOldAuditRows, ROWS_PER_ARCHIVE } from "../src/modules/audit/audit-retention.cron";
import { wiring } from "../src/modules/wiring";
import { dueJobs } from "../src/scheduled";
import { createStaff, createUser, serviceContext, signIn } from "./support/factories";
import { api, as, fieldsOf, problemOf } from "./support/http";
import { apiKeyHeaders, createApiKey, createOrg } from "./support/orgs";

const db = getDb(env);
const DAY = 24 * 60 * 60 * 1000;
const NOW = Date.now();
const daysAgo = (days: number, plusMs = 0) => new Date(NOW - days * DAY + plusMs);

/** A UUIDv7-shaped id for an instant in the past (uuidv7() never goes back in time within an isolate). */
function idAt(at: Date): string {
  const hex = at.getTime().toString(16).padStart(12, "0");
  const random = crypto.randomUUID().replaceAll("-", "").slice(12);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${random.slice(1, 4)}-8${random.slice(5, 8)}-${random.slice(8, 20)}`;
}

function row(at: Date, note: string): NewAuditLog & { id: string } {
  return {
    id: idAt(at),
    actorType: "system",
    actorId: "retention-test",
    action: "user.update",
    targetType: "user",
    targetId: note,
    ip: "203.0.113.9",
    userAgent: "test",
    requestId: note,
    before: { is_active: true },
    after: { is_active: false, note },
    createdAt: at,
  };
}

async function readArchive(key: string): Promise<AuditLogDto[]> {
  const object = await env.FILES.get(key);
  if (!object) throw new Error(`no object ${key}`);
  const text = await new Response(object.body.pipeThrough(new DecompressionStream("gzip"))).text();
  expect(text.endsWith("\n")).toBe(true);
  return text
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line) as AuditLogDto);
}

/** The rows of a 200 NDJSON answer; every line, the last included, ends with a newline. */
async function ndjsonOf(res: Response): Promise<AuditLogDto[]> {
  expect(res.status).toBe(200);
  const text = new TextDecoder().decode(await res.arrayBuffer());
  if (text !== "") expect(text.endsWith("\n")).toBe(true);
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as AuditLogDto);
}

const byRequestIds = (ids: string[]) =>
  db
    .select()
    .from(auditLogs)
    .where(inJsonList(auditLogs.requestId, ids))
    .orderBy(asc(auditLogs.createdAt), asc(auditLogs.id));

// One seeded history for the whole file: two archived days (one larger than an object), a row
// inside the retention, fresh rows.
const dayA = [0, 1, 2].map((i) => row(daysAgo(380, i * 1000), `a-${i}`));
// 366 days ago: past the default retention (365), within one export's longest range (366).
const dayB = Array.from({ length: ROWS_PER_ARCHIVE + 3 }, (_, i) => row(daysAgo(366, i), `b-${i}`));
const kept = row(daysAgo(300), "kept-300-days");
const fresh = [row(daysAgo(2), "fresh-0"), row(daysAgo(0, -1000), "fresh-1")];
let archivedDtos: AuditLogDto[];

beforeAll(async () => {
  await insertChunked(db, auditLogs, [...dayA, ...dayB, kept, ...fresh]);
  const archived = await byRequestIds([...dayA, ...dayB].map((r) => r.requestId as string));
  archivedDtos = archived.map(toAuditLogDto);
});

describe("the database guards the log", () => {
  it("refuses DELETE of a fresh row, and of an old row no archive covers", async () => {
    await expect(
      env.DB.prepare("DELETE FROM audit_logs WHERE id = ?").bind(fresh[0]?.id).run(),
    ).rejects.toThrow(/append-only/);
    await expect(
      env.DB.prepare("DELETE FROM audit_logs WHERE id = ?").bind(dayA[0]?.id).run(),
    ).rejects.toThrow(/append-only/);
    expect(await byRequestIds(["fresh-0", "a-0"])).toHaveLength(2);
  });

  it("refuses an archive record that would cover rows younger than 30 days, so a forged one opens nothing", async () => {
    const first = fresh[0] as AuditLog;
    await expect(
      db.insert(auditArchives).values({
        r2Key: `${AUDIT_ARCHIVE_PREFIX}forged.ndjson.gz`,
        firstCreatedAt: first.createdAt,
        firstId: first.id,
        lastCreatedAt: first.createdAt,
        lastId: first.id,
        rowCount: 1,
        bytes: 1,
      }),
    ).rejects.toThrow();
    await expect(env.DB.prepare("DELETE FROM audit_logs WHERE id = ?").bind(first.id).run()).rejects.toThrow(
      /append-only/,
    );
  });
});

describe("the retention cron", () => {
  it("archives the rows past the retention to R2, one UTC day per object, then removes them", async () => {
    // A run that died after its upload: the object is there, its rows still in D1, no record yet.
    const dayARows = await byRequestIds(dayA.map((r) => r.requestId as string));
    const orphan = await writeAuditArchive(env.FILES, dayARows);

    const result = await archiveOldAuditRows(serviceContext(), NOW);
    expect(result).toEqual({ archived_rows: dayA.length + dayB.length, archives: 3 });

    const records = await db.select().from(auditArchives).orderBy(asc(auditArchives.firstCreatedAt));
    expect(records.map((r) => r.rowCount)).toEqual([dayA.length, ROWS_PER_ARCHIVE, 3]);
    // The re-run found the dead run's object (same rows, same key) and kept it: one object, one record.
    expect(records[0]?.r2Key).toBe(orphan.key);
    const day = (at: Date) => at.toISOString().slice(0, 10).replaceAll("-", "/");
    expect(records[0]?.r2Key).toMatch(new RegExp(`^audit-archive/${day(daysAgo(380))}/.+\\.ndjson\\.gz$`));
    expect(records[1]?.r2Key).toMatch(new RegExp(`^audit-archive/${day(daysAgo(366))}/`));

    const fromR2 = [];
    for (const record of records) {
      const lines = await readArchive(record.r2Key);
      expect(lines).toHaveLength(record.rowCount);
      fromR2.push(...lines);
    }
    // Every archived row, exactly once, in order, with the list API's fields.
    expect(fromR2).toEqual(archivedDtos);
    expect(Object.keys(fromR2[0] ?? {}).sort()).toEqual(
      Object.keys(toAuditLogDto(dayARows[0] as AuditLog)).sort(),
    );

    expect(await byRequestIds([...dayA, ...dayB].map((r) => r.requestId as string))).toEqual([]);
    const left = await byRequestIds([kept, ...fresh].map((r) => r.requestId as string));
    expect(left.map((r) => r.requestId)).toEqual(["kept-300-days", "fresh-0", "fresh-1"]);
  });

  it("is wired into the cron, hourly", () => {
    const job = wiring.maintenanceJobs.find((candidate) => candidate.name === "audit.archive_old");
    expect(job?.everyMinutes).toBe(60);
    expect(dueJobs(wiring.maintenanceJobs, Date.UTC(2026, 11, 4, 13, 0))).toContain(job);
    expect(dueJobs(wiring.maintenanceJobs, Date.UTC(2026, 11, 4, 13, 1))).not.toContain(job);
  });

  it("does nothing more when run again", async () => {
    expect(await archiveOldAuditRows(serviceContext(), NOW)).toEqual({ archived_rows: 0, archives: 0 });
    expect(await db.select().from(auditArchives)).toHaveLength(3);
  });

  it("keeps the archive records append-only", async () => {
    await expect(env.DB.prepare("DELETE FROM audit_archives").run()).rejects.toThrow(/append-only/);
    await expect(env.DB.prepare("UPDATE audit_archives SET row_count = 0").run()).rejects.toThrow(
      /append-only/,
    );
  });

  it("follows AUDIT_RETENTION_DAYS", async () => {
    const ctx = serviceContext();
    const shorter = { ...ctx, config: { ...ctx.config, AUDIT_RETENTION_DAYS: 200 } };
    expect(await archiveOldAuditRows(shorter, NOW)).toEqual({ archived_rows: 1, archives: 1 });
    const [record] = await db.select().from(auditArchives).where(eq(auditArchives.firstId, kept.id));
    expect((await readArchive(record?.r2Key as string)).map((r) => r.request_id)).toEqual(["kept-300-days"]);
  });
});

describe("GET /admin/v1/audit-logs/export", () => {
  let staff: ReturnType<typeof as>;
  let userToken: string;
  let apiKey: Record<string, string>;
  const path = (from: Date, to: Date) =>
    `/admin/v1/audit-logs/export?from=${from.toISOString()}&to=${to.toISOString()}`;

  beforeAll(async () => {
    staff = as((await signIn((await createStaff()).user)).accessToken);
    const member = (await createUser()).user;
    userToken = (await signIn(member)).accessToken;
    apiKey = apiKeyHeaders((await createApiKey(await createOrg(member))).secret);
  });

  it("streams archived and live rows of the range as NDJSON, oldest first", async () => {
    const res = await staff.get(path(daysAgo(366), new Date(NOW)));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="audit-logs-.+\.ndjson"$/);
    const rows = (await ndjsonOf(res)).filter((r) => r.actor_id === "retention-test");
    expect(rows.map((r) => r.request_id)).toEqual([
      ...dayB.map((r) => r.requestId),
      "kept-300-days",
      "fresh-0",
      "fresh-1",
    ]);
    expect(rows.slice(0, dayB.length)).toEqual(archivedDtos.slice(dayA.length));
  });

  it("cuts the range inside archived objects, inclusive at both ends", async () => {
    const from = daysAgo(380, 1000); // a-1
    const to = daysAgo(366, 1); // b-1
    const rows = await ndjsonOf(await staff.get(path(from, to)));
    expect(rows.map((r) => r.request_id)).toEqual(["a-1", "a-2", "b-0", "b-1"]);
  });

  it("reads live rows only when the range is recent, and records who exported what", async () => {
    const requestId = `export-${crypto.randomUUID()}`;
    const from = daysAgo(3);
    const to = new Date(NOW + 60_000);
    const res = await staff.get(path(from, to), { headers: { "x-request-id": requestId } });
    const rows = (await ndjsonOf(res)).filter((r) => r.actor_id === "retention-test");
    expect(rows.map((r) => r.request_id)).toEqual(["fresh-0", "fresh-1"]);
    const [entry] = await db.select().from(auditLogs).where(eq(auditLogs.requestId, requestId));
    expect(entry?.action).toBe("audit_log.export");
    expect(entry?.after).toEqual({ from: from.toISOString(), to: to.toISOString() });
  });

  it("answers an empty body for a range with no rows", async () => {
    const res = await staff.get(path(daysAgo(1000), daysAgo(990)));
    expect(res.status).toBe(200);
    expect(await ndjsonOf(res)).toEqual([]);
  });

  it("refuses anyone but staff: no token 401, a member 403, an API key 403", async () => {
    const url = path(daysAgo(3), new Date(NOW));
    expect((await problemOf(await api("GET", url), 401)).code).toBe("unauthorized");
    expect((await problemOf(await api("GET", url, { token: userToken }), 403)).code).toBe("forbidden");
    expect((await problemOf(await api("GET", url, { headers: apiKey }), 403)).code).toBe("forbidden");
  });

  it("refuses bad dates with a 400 naming the field", async () => {
    const cases: Array<[string, string]> = [
      ["", "from"],
      ["?from=yesterday", "from"],
      ["?from=2026-13-01T00:00:00Z", "from"],
      ["?from=2026-11-01T00:00:00Z&to=not-a-date", "to"],
      ["?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z", "to"],
      ["?from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "to"],
    ];
    for (const [query, field] of cases) {
      const problem = await problemOf(await staff.get(`/admin/v1/audit-logs/export${query}`), 400);
      expect(problem.code, query).toBe("validation_failed");
      expect(fieldsOf(problem), query).toContain(field);
    }
  });

  it("cuts the transfer, rather than ending it as if whole, when a recorded archive is missing from R2", async () => {
    const at = daysAgo(500);
    const id = idAt(at);
    await db.insert(auditArchives).values({
      r2Key: `${AUDIT_ARCHIVE_PREFIX}missing/${crypto.randomUUID()}.ndjson.gz`,
      firstCreatedAt: at,
      firstId: id,
      lastCreatedAt: at,
      lastId: id,
      rowCount: 1,
      bytes: 1,
    });
    const res = await staff.get(path(daysAgo(501), daysAgo(499)));
    expect(res.status).toBe(200);
    await expect(res.arrayBuffer()).rejects.toThrow();
  });

  it("never answers 500, whatever from and to hold", async () => {
    const instant = fc
      .date({
        min: new Date("1900-01-01T00:00:00Z"),
        max: new Date("2200-01-01T00:00:00Z"),
        noInvalidDate: true,
      })
      .map((date) => date.toISOString());
    const value = fc.oneof(
      instant,
      fc.string({ maxLength: 40 }),
      fc.constantFrom("", "2026-02-30", "0", "now"),
    );
    const statuses = new Set<number>();
    await fc.assert(
      fc.asyncProperty(
        fc.option(value, { nil: undefined }),
        fc.option(value, { nil: undefined }),
        async (from, to) => {
          const query = new URLSearchParams();
          if (from !== undefined) query.set("from", from);
          if (to !== undefined) query.set("to", to);
          const res = await staff.get(`/admin/v1/audit-logs/export?${query}`);
          statuses.add(res.status);
          expect([200, 400], `${query}`).toContain(res.status);
          await res.arrayBuffer();
        },
      ),
      { numRuns: 60 },
    );
    expect(statuses).toContain(400);
  });
});
