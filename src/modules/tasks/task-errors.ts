/**
 * How a task handler says why it stopped. The runner turns these into the task's
 * `error` ({ code, message }) and decides between RETRY, FAILURE and REVOKED; any
 * other thrown value is an unexpected error: retried, and shown to the owner without
 * its message (which may carry internals), while the log keeps the details.
 */
import type { TaskErrorInfo } from "../../db/schema";

/** An error whose message is meant for the task's owner. Retried unless `permanent`. */
export class TaskError extends Error {
  readonly code: string;
  readonly permanent: boolean;

  constructor(code: string, message: string, options: { permanent?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "TaskError";
    this.code = code;
    this.permanent = options.permanent ?? false;
  }
}

/** Retrying cannot help (the payload is wrong, the data it needs is gone): FAILURE at once, no retry. */
export class PermanentTaskError extends TaskError {
  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { ...options, permanent: true });
    this.name = "PermanentTaskError";
  }
}

/** The run went past its type's time limit. Retried like any transient failure. */
export class TaskTimeLimitError extends TaskError {
  constructor(limitSeconds: number) {
    super("time_limit_exceeded", `The task did not finish within its ${limitSeconds} s time limit.`);
    this.name = "TaskTimeLimitError";
  }
}

/** Thrown by a checkpoint when the owner cancelled the running task: the run ends REVOKED. */
export class TaskCancelledError extends Error {
  constructor() {
    super("The task was cancelled.");
    this.name = "TaskCancelledError";
  }
}

/**
 * Thrown by a checkpoint when this run no longer owns the task: the row is gone (the
 * account was erased) or another delivery took it over after this run's lease ran out.
 */
export class TaskLostError extends Error {
  constructor() {
    super("This run no longer owns the task.");
    this.name = "TaskLostError";
  }
}

/** What the owner sees for an error. */
export function describeTaskError(error: unknown): TaskErrorInfo {
  if (error instanceof TaskError) return { code: error.code, message: error.message };
  return {
    code: "internal_error",
    message: "The task failed with an unexpected error.",
  };
}
