/**
 * The `sessions` section of a user's data export (the `export_user_data` task): the
 * account's live sessions, as the devices list shows them. Listed in src/modules/wiring.ts.
 */
import type { ServiceContext } from "../../lib/context";
import type { UserExportSection } from "../tasks/task-types/export-user-data";
import { describeSession, listSessions } from "./sessions.service";

const PAGE = 100;

/** The account's live sessions (devices). */
export const sessionsExportSection: UserExportSection = { name: "sessions", collect: allSessions };

async function allSessions(ctx: ServiceContext, userId: string) {
  const rows = [];
  let cursor: string | undefined;
  do {
    const page = await listSessions(ctx, {
      userId,
      limit: PAGE,
      cursor,
      sort: [{ field: "created_at", direction: "asc" }],
    });
    rows.push(...page.data);
    cursor = page.meta.next ?? undefined;
  } while (cursor);
  return rows.map(describeSession);
}
