/**
 * ServiceContext: everything a service verb needs, built once per request (or
 * per queue batch / cron run with a system principal). Services take it as their
 * first argument, so one verb serves HTTP, a job and a test alike.
 */
import { type Database, getDb } from "../db/client";
import { type Bindings, type Config, getConfig } from "../env";
import { createLogger, type Logger } from "./logger";
import type { Principal } from "./principal";

export type ServiceContext = {
  env: Bindings;
  config: Config;
  db: Database;
  principal: Principal;
  requestId: string;
  logger: Logger;
  /** Work that may finish after the response (ExecutionContext.waitUntil). */
  waitUntil: (promise: Promise<unknown>) => void;
  /** Client facts for audit and device records; empty outside HTTP. */
  client: { ip?: string; userAgent?: string; country?: string; city?: string };
};

export function createServiceContext(input: {
  env: Bindings;
  principal: Principal;
  requestId: string;
  logger?: Logger;
  waitUntil?: (promise: Promise<unknown>) => void;
  client?: ServiceContext["client"];
}): ServiceContext {
  const config = getConfig(input.env);
  return {
    env: input.env,
    config,
    db: getDb(input.env),
    principal: input.principal,
    requestId: input.requestId,
    logger: input.logger ?? createLogger(config.LOG_LEVEL, { request_id: input.requestId }),
    waitUntil: input.waitUntil ?? ((promise) => void promise.catch(() => undefined)),
    client: input.client ?? {},
  };
}
