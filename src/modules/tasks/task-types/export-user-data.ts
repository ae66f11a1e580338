import { z } from "@hono/zod-openapi";
import { and, asc, eq, gt } from "drizzle-orm";
import { tasks } from "../../../db/schema";
import type { ServiceContext } from "../../../lib/context";
import { findUserById } from "../../auth/accounts";
import { listIdentities, toIdentityDto } from "../../auth/identity-providers/identities.service";
import { listSessions } from "../../auth/sessions.service";
import { toUserDto } from "../../users/user.dto";
import { PermanentTaskError } from "../task-errors";
import { taskPath, toTaskDto } from "../tasks.queries";
import { defineTaskType } from "./define";

/**
 * One part of a user's export, after the profile. The sections, in order, are listed in
 * src/modules/wiring.ts: a module with personal data adds its own there.
 */
export type UserExportSection = {
  name: string;
  collect: (ctx: ServiceContext, userId: string) => Promise<unknown>;
};

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
  return rows.map((session) => ({
    id: session.id,
    user_agent: session.userAgent,
    ip: session.ip,
    country: session.country,
    city: session.city,
    created_at: session.createdAt.toISOString(),
    last_used_at: session.lastUsedAt.toISOString(),
  }));
}

/** The identity-provider accounts linked to the account. */
export const identitiesExportSection: UserExportSection = {
  name: "identities",
  collect: async (ctx, userId) => (await listIdentities(ctx, userId)).map(toIdentityDto),
};

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

/** Filled by the wiring (wireModules()). */
export const userExportSections: UserExportSection[] = [];

export const exportKey = (userId: string, taskId: string) => `exports/${userId}/${taskId}.json`;

/**
 * Writes everything the platform holds about the task's owner to R2 as one JSON
 * document, and returns a link that streams it back to that owner only.
 */
export const exportUserDataTask = defineTaskType({
  description:
    "Exports your account's data (profile, sessions, tasks …) as one JSON file; the result links to the download.",
  payload: z.strictObject({}),
  result: z.object({
    download_url: z.url(),
    size_bytes: z.int(),
    sections: z.array(z.string()),
  }),
  example: {},
  requiresUser: true,
  timeLimitSeconds: 120,
  artifact: {
    key: (task) => exportKey(task.ownerUserId ?? "", task.id),
    userPrefix: (userId) => `exports/${userId}/`,
    contentType: "application/json",
    filename: (task) => `export-${task.id}.json`,
  },
  async run(_payload, run) {
    const userId = run.task.ownerUserId;
    if (!userId) {
      throw new PermanentTaskError("owner_required", "Only a person's own data can be exported.");
    }
    const user = await findUserById(run.ctx, userId);
    if (!user) throw new PermanentTaskError("owner_not_found", "The account no longer exists.");

    const document: Record<string, unknown> = {
      format: "edge-api-platform.user-export.v1",
      exported_at: new Date(run.now()).toISOString(),
      profile: toUserDto(user),
    };
    for (const [index, section] of userExportSections.entries()) {
      await run.checkpoint(Math.round((90 * index) / userExportSections.length));
      document[section.name] = await section.collect(run.ctx, userId);
    }
    await run.checkpoint(90);

    const body = new TextEncoder().encode(JSON.stringify(document, null, 2));
    await run.ctx.env.FILES.put(exportKey(userId, run.task.id), body, {
      httpMetadata: { contentType: "application/json" },
      customMetadata: { task_id: run.task.id, user_id: userId },
    });
    return {
      download_url: new URL(`${taskPath(run.task.id)}/download`, run.ctx.config.APP_URL).toString(),
      size_bytes: body.byteLength,
      sections: ["profile", ...userExportSections.map((section) => section.name)],
    };
  },
});
