/**
 * The admin API, mounted at /admin/v1. Deny by default: the staff guard is installed
 * on the whole router before any route, so every route added here (or a path that
 * matches none) answers 401 without credentials and 403 to anyone but a signed-in
 * staff member before it validates anything. API keys and client-credentials tokens
 * are never staff. Not rate limited (src/middleware/rate-limit.ts exempts /admin).
 */
import { createRouter } from "../../lib/create-router";
import { requireStaff } from "../../middleware/require";
import * as auditHandlers from "../audit/audit.handlers";
import * as auditRoutes from "../audit/audit.routes";
import * as flagHandlers from "../feature-flags/feature-flags.handlers";
import * as flagRoutes from "../feature-flags/feature-flags.routes";
import * as operationsHandlers from "./admin-operations.handlers";
import * as operationsRoutes from "./admin-operations.routes";
import * as orgHandlers from "./admin-orgs.handlers";
import * as orgRoutes from "./admin-orgs.routes";
import * as taskHandlers from "./admin-tasks.handlers";
import * as taskRoutes from "./admin-tasks.routes";
import * as userHandlers from "./admin-users.handlers";
import * as userRoutes from "./admin-users.routes";

const router = createRouter();
router.use("*", requireStaff());

export const adminRouter = router
  .openapi(operationsRoutes.summary, operationsHandlers.summary)
  .openapi(userRoutes.listUsers, userHandlers.listUsers)
  .openapi(userRoutes.getUser, userHandlers.getUser)
  .openapi(userRoutes.updateUser, userHandlers.updateUser)
  .openapi(userRoutes.revokeUserSessions, userHandlers.revokeUserSessions)
  .openapi(userRoutes.deleteUser, userHandlers.deleteUser)
  .openapi(orgRoutes.listOrganizations, orgHandlers.listOrganizations)
  .openapi(orgRoutes.getOrganization, orgHandlers.getOrganization)
  .openapi(taskRoutes.listTasks, taskHandlers.listTasks)
  // Before /tasks/{id}, so "stats" is never taken for an id.
  .openapi(taskRoutes.taskStats, taskHandlers.taskStats)
  .openapi(taskRoutes.getTask, taskHandlers.getTask)
  .openapi(taskRoutes.retryTask, taskHandlers.retryTask)
  .openapi(taskRoutes.cancelTask, taskHandlers.cancelTask)
  .openapi(operationsRoutes.listPreRegistrations, operationsHandlers.listPreRegistrations)
  .openapi(operationsRoutes.exportPreRegistrations, operationsHandlers.exportPreRegistrations)
  .openapi(operationsRoutes.broadcast, operationsHandlers.broadcast)
  .openapi(auditRoutes.listAuditLogs, auditHandlers.listAuditLogs)
  .openapi(auditRoutes.exportAuditLogs, auditHandlers.exportAuditLogs)
  .openapi(flagRoutes.listFlags, flagHandlers.listFlags)
  .openapi(flagRoutes.getFlag, flagHandlers.getFlag)
  .openapi(flagRoutes.putFlag, flagHandlers.putFlag)
  .openapi(flagRoutes.deleteFlag, flagHandlers.deleteFlag);
