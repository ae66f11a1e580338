/**
 * The `tasks` section of a user's data export (the `export_user_data` task): every task
 * the user owns, as the API shows it. Listed in src/modules/wiring.ts.
 */
import { and, asc, eq, gt } from "drizzle-orm";
import { tasks } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import type { UserExportSection } from "./task-types/export-user-data";
import { toTaskDto } from "./tasks.queries";

const PAGE = 100;

/** Every task the user owns. */
export const tasksExportSection: UserExportSection = { name: "tasks", collect: allTasks };

async function allTasks(ctx: ServiceContext, userId: string) {
  const rows = [];
  let after = "";
  for (;;) {
    const page = await ctx.db
      .select()
      .from(tasks)
      .where(and(eq(tasks.ownerUserId, userId), gt(tasks.id, after)))
      .orderBy(asc(tasks.id))
      .limit(PAGE);
    rows.push(...page.map(toTaskDto));
    const last = page.at(-1);
    if (!last || page.length < PAGE) return rows;
    after = last.id;
  }
}
