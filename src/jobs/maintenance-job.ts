/**
 * A periodic clean-up the cron runs (src/scheduled.ts). Modules define theirs; the
 * wiring (src/modules/wiring.ts) lists them. The type lives apart from the runner
 * so that a module defining a job does not import the runner that imports it back.
 */
import type { ServiceContext } from "../lib/context";

export type MaintenanceJob = {
  name: string;
  /** Runs when (minutes since epoch) % everyMinutes === 0. */
  everyMinutes: number;
  run: (ctx: ServiceContext, now: Date) => Promise<Record<string, unknown> | undefined>;
};
