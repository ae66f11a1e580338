/**
 * ServiceContext: everything a service verb needs, built once per request (or
 * per queue message / cron run with a system principal), with the one D1 session
 * all of that work's queries run in. Services take it as their
 * first argument, so one verb serves HTTP, a job and a test alike.
 */
import { type D1SessionStart, type Database, type DatabaseSession, openDatabaseSession } from "../db/client";
import { type Bindings, type Config, getConfig } from "../env";
import { createLogger, type Logger } from "./logger";
import type { Principal } from "./principal";

export type ServiceContext = {
  env: Bindings;
  config: Config;
  /** drizzle over `dbSession`: every query of this unit of work runs in its one D1 session. */
  db: Database;
  /**
   * The unit of work's D1 session (Sessions API): how it started, and its bookmark, which
   * leaves with the response (X-D1-Bookmark) and with the queue messages this work sends.
   */
  dbSession: DatabaseSession;
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
  /**
   * Where the D1 session starts. The primary unless the caller knows better: the request
   * context lets reads start on a replica or at the client's bookmark (src/db/bookmarks.ts),
   * a queue consumer starts at its message's bookmark.
   */
  d1SessionStart?: D1SessionStart;
}): ServiceContext {
  const config = getConfig(input.env);
  const dbSession = openDatabaseSession(input.env.DB, input.d1SessionStart ?? "first-primary");
  return {
    env: input.env,
    config,
    db: dbSession.db,
    dbSession,
    principal: input.principal,
    requestId: input.requestId,
    logger: input.logger ?? createLogger(config.LOG_LEVEL, { request_id: input.requestId }),
    waitUntil: input.waitUntil ?? ((promise) => void promise.catch(() => undefined)),
    client: input.client ?? {},
  };
}
