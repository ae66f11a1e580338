/**
 * The cron handler. wrangler.toml fires it every minute; each maintenance job
 * (listed in src/modules/wiring.ts) says how often it wants to run and this runner
 * picks the ones due at the scheduled minute. A failing job is logged and does not
 * stop the others.
 */
import type { Bindings } from "./env";
import { getConfig } from "./env";
import type { MaintenanceJob } from "./jobs/maintenance-job";
import { createServiceContext } from "./lib/context";
import { reportError } from "./lib/error-tracking";
import { uuidv7 } from "./lib/ids";
import { createLogger, serializeError } from "./lib/logger";
import { systemPrincipal } from "./lib/principal";
import { wiring } from "./modules/wiring";

export function dueJobs(jobs: MaintenanceJob[], scheduledTime: number): MaintenanceJob[] {
  const minute = Math.floor(scheduledTime / 60_000);
  return jobs.filter((job) => minute % job.everyMinutes === 0);
}

export async function runScheduled(
  controller: Pick<ScheduledController, "scheduledTime" | "cron">,
  env: Bindings,
  jobs: MaintenanceJob[] = wiring.maintenanceJobs,
): Promise<Array<{ job: string; ok: boolean; result?: unknown }>> {
  const requestId = uuidv7();
  const logger = createLogger(getConfig(env).LOG_LEVEL, { request_id: requestId, cron: controller.cron });
  const ctx = createServiceContext({ env, principal: systemPrincipal("cron"), requestId, logger });
  const now = new Date(controller.scheduledTime);
  const outcomes = [];
  for (const job of dueJobs(jobs, controller.scheduledTime)) {
    const started = performance.now();
    try {
      const result = await job.run(ctx, now);
      logger.info("maintenance job done", {
        job: job.name,
        duration_ms: performance.now() - started,
        ...result,
      });
      outcomes.push({ job: job.name, ok: true, result });
    } catch (error) {
      logger.error("maintenance job failed", { job: job.name, error: serializeError(error) });
      reportError(error, { requestId, tags: { cron_job: job.name } });
      outcomes.push({ job: job.name, ok: false });
    }
  }
  return outcomes;
}
