import { z } from "@hono/zod-openapi";
import type { ServiceContext } from "../../../lib/context";
import { findUserById } from "../../auth/accounts";
import { toUserDto } from "../../users/user.dto";
import { PermanentTaskError } from "../task-errors";
import { taskPath } from "../tasks.urls";
import { defineTaskType } from "./define";

/**
 * One part of a user's export, after the profile. The sections, in order, are listed in
 * src/modules/wiring.ts: a module with personal data adds its own there.
 */
export type UserExportSection = {
  name: string;
  collect: (ctx: ServiceContext, userId: string) => Promise<unknown>;
};

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
