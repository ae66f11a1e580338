/**
 * The waitlist: one row per address. Joining twice is not an error (200 with the
 * existing entry), so a client can retry freely. Staff list it and export it as CSV.
 */
import { eq, sql } from "drizzle-orm";
import { type PreRegistration, preRegistrations } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import type { SortTerm } from "../../lib/list-query";
import { keysetPage, listPage, type Page } from "../../lib/pagination";
import { problems } from "../../lib/problem";
import { containsText } from "../../lib/text-search";
import type { PreRegistrationDto } from "./pre-registrations.schemas";

export function toPreRegistrationDto(row: PreRegistration): PreRegistrationDto {
  return { id: row.id, email: row.email, created_at: row.createdAt.toISOString() };
}

/** `created` is false when the address was already on the list (the existing entry is returned). */
export async function joinWaitlist(
  ctx: ServiceContext,
  email: string,
): Promise<{ entry: PreRegistration; created: boolean }> {
  // The unique index decides between concurrent joins of one address: no read-then-insert race.
  const [inserted] = await ctx.db
    .insert(preRegistrations)
    .values({ email })
    .onConflictDoNothing({ target: preRegistrations.email })
    .returning();
  if (inserted) return { entry: inserted, created: true };
  const existing = await ctx.db
    .select()
    .from(preRegistrations)
    .where(eq(preRegistrations.email, email))
    .get();
  if (!existing) throw new Error("joinWaitlist: the conflicting row vanished");
  return { entry: existing, created: false };
}

export async function getPreRegistration(ctx: ServiceContext, id: string): Promise<PreRegistration> {
  const row = await ctx.db.select().from(preRegistrations).where(eq(preRegistrations.id, id)).get();
  if (!row) throw problems.notFound("waitlist entry");
  return row;
}

export type ListPreRegistrationsInput = { limit: number; cursor?: string; sort: SortTerm[]; q?: string };

function searchFilter(q: string | undefined) {
  return q ? containsText([sql`${preRegistrations.email}`], q) : undefined;
}

export async function listPreRegistrations(
  ctx: ServiceContext,
  input: ListPreRegistrationsInput,
): Promise<Page<PreRegistration>> {
  const page = keysetPage<PreRegistration>({
    sort: input.sort,
    columns: {
      created_at: { column: preRegistrations.createdAt, read: (row) => row.createdAt.getTime() },
      email: { column: preRegistrations.email, read: (row) => row.email },
    },
    tiebreaker: { column: preRegistrations.id, read: (row) => row.id },
    limit: input.limit,
    cursor: input.cursor,
  });
  const where = searchFilter(input.q);
  return listPage(ctx.db, page, {
    rows: ctx.db.select().from(preRegistrations).$dynamic(),
    countFrom: preRegistrations,
    where,
  });
}

/** Rows per query while exporting: memory stays flat however long the list is. */
const EXPORT_CHUNK = 500;

/**
 * A cell as spreadsheet apps read it safely: quoted when it holds a comma, quote or
 * line break, and prefixed with `'` when it starts with `=`, `+`, `-`, `@`, tab or
 * CR, which Excel and Sheets would otherwise evaluate as a formula (CSV injection).
 */
export function csvCell(value: string): string {
  const guarded = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(guarded) ? `"${guarded.replaceAll('"', '""')}"` : guarded;
}

export const CSV_HEADER = "id,email,created_at";

/**
 * The whole waitlist as CSV (RFC 4180, CRLF line ends), oldest first, streamed in
 * keyset chunks. Rows added while the export runs after its cursor are included.
 */
export function exportPreRegistrationsCsv(ctx: ServiceContext): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let cursor: string | undefined;
  let started = false;
  let done = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (done) return;
      if (!started) {
        started = true;
        controller.enqueue(encoder.encode(`${CSV_HEADER}\r\n`));
      }
      try {
        const page = await listPreRegistrations(ctx, {
          limit: EXPORT_CHUNK,
          cursor,
          sort: [{ field: "created_at", direction: "asc" }],
        });
        const lines = page.data.map(
          (row) => `${[row.id, row.email, row.createdAt.toISOString()].map(csvCell).join(",")}\r\n`,
        );
        if (lines.length > 0) controller.enqueue(encoder.encode(lines.join("")));
        cursor = page.meta.next ?? undefined;
        if (!cursor) {
          done = true;
          controller.close();
        }
      } catch (error) {
        done = true;
        controller.error(error);
      }
    },
  });
}
