/**
 * The Hono environment of every router, middleware and handler: the Worker's bindings
 * and the per-request variables. Read them with `c.get("ctx")`, not `c.var.ctx`: Hono's `c.var`
 * copies every variable of the request into a new object on each read. Types only. It lives apart from env.ts
 * (the configuration) so that the configuration, read by services, queue jobs and
 * cron jobs, depends on nothing request-shaped.
 */
import type { Bindings } from "./env";
import type { ServiceContext } from "./lib/context";
import type { Logger } from "./lib/logger";
import type { Principal } from "./lib/principal";
import type { ProblemError } from "./lib/problem";
import type { PolicyState } from "./lib/rate-limit/policies";
import type { OrgContext } from "./modules/orgs/org-context";

/** When the request started (performance.now()), and what requestTiming() measured once it ended. */
export type RequestTimingState = { started: number; measured?: RequestTiming };

export type RequestTiming = {
  /** The matched route pattern (e.g. /api/v1/tasks/:id), or "(unmatched)": never the raw path. */
  route: string;
  durationMs: number;
};

export type AppVariables = {
  requestId: string;
  logger: Logger;
  principal: Principal;
  ctx: ServiceContext;
  /** Set by authenticate() when the request carried credentials that were refused. */
  authFailure?: ProblemError;
  /** Set by requestContext(); read through requestTiming(c). */
  timing?: RequestTimingState;
  /** The organization requireOrgAccess()/requireOrgRole() resolved; read through orgContext(c). */
  orgContext?: OrgContext;
  /**
   * Policies the rate limiters already applied (so a route limiter's headers include the global
   * one's), and the headers they make, set again on the response on the way out.
   */
  rateLimit?: { states: PolicyState[]; headers: Record<string, string> };
};

export type AppEnv = { Bindings: Bindings; Variables: AppVariables };
