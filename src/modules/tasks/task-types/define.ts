/**
 * What a task type is: a payload schema, a handler, a result schema (documentation and
 * a check on the handler), a credit cost and a time limit. `defineTaskType()` keeps
 * each file fully typed and hands the registry one uniform shape.
 */
import type { z } from "@hono/zod-openapi";
import type { Task } from "../../../db/schema";
import type { ServiceContext } from "../../../lib/context";

/** What a handler gets besides its payload. */
export type TaskRun = {
  /** A system-principal context (the queue consumer's). */
  ctx: ServiceContext;
  task: Pick<Task, "id" | "type" | "ownerUserId" | "organizationId" | "attempts" | "maxRetries">;
  /** Aborted when the time limit is reached; pass it to anything that can stop early. */
  signal: AbortSignal;
  /**
   * Records progress (0–100) on the task row and learns in the same statement whether
   * the owner cancelled: it then throws, and the run ends REVOKED. Call it between
   * steps of any handler that runs longer than a moment.
   */
  checkpoint: (progress?: number) => Promise<void>;
  /** Waits `ms` (the shared, test-replaceable clock); rejects when the time limit aborts the run. */
  sleep: (ms: number) => Promise<void>;
  now: () => number;
};

/** An R2 object a task produces: streamed by GET /tasks/{id}/download, removed with the task or the account. */
export type TaskArtifact = {
  key: (task: Pick<Task, "id" | "ownerUserId" | "organizationId">) => string;
  /** Every artifact of this type for one user, removed when the account is erased. */
  userPrefix: (userId: string) => string;
  contentType: string;
  filename: (task: Pick<Task, "id">) => string;
};

export type TaskTypeDefinition<P extends z.ZodType, R extends z.ZodType> = {
  description: string;
  payload: P;
  result: R;
  /** A realistic payload, shown in the OpenAPI document and GET /tasks/types. */
  example: z.input<P>;
  /** Credits one execution costs (charged once per task, by chargeForTask). */
  creditCost?: number;
  /** Seconds before a run is abandoned as failed (and retried); 60 unless the type says otherwise. */
  timeLimitSeconds?: number;
  /** Only a signed-in person may create it (it works on that person's own data). */
  requiresUser?: boolean;
  artifact?: TaskArtifact;
  run: (payload: z.output<P>, run: TaskRun) => Promise<z.input<R>>;
};

/** The registry's uniform view of a type: `run` takes a payload already checked against `payload`. */
export type TaskType = {
  description: string;
  payload: z.ZodType;
  result: z.ZodType;
  example: unknown;
  creditCost: number;
  timeLimitSeconds: number;
  requiresUser: boolean;
  artifact?: TaskArtifact;
  run: (payload: unknown, run: TaskRun) => Promise<unknown>;
};

export const DEFAULT_TIME_LIMIT_SECONDS = 60;

export function defineTaskType<P extends z.ZodType, R extends z.ZodType>(
  definition: TaskTypeDefinition<P, R>,
): TaskType {
  return {
    description: definition.description,
    payload: definition.payload,
    result: definition.result,
    example: definition.example,
    creditCost: definition.creditCost ?? 0,
    timeLimitSeconds: definition.timeLimitSeconds ?? DEFAULT_TIME_LIMIT_SECONDS,
    requiresUser: definition.requiresUser ?? false,
    artifact: definition.artifact,
    // The runner parses the payload with `definition.payload` before calling this.
    run: (payload, run) => definition.run(payload as z.output<P>, run),
  };
}
