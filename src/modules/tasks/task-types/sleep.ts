import { z } from "@hono/zod-openapi";
import { defineTaskType } from "./define";

export const MAX_SLEEP_SECONDS = 600;
/** Progress is reported (and cancellation checked) at most this many times per run. */
const MAX_STEPS = 20;

/**
 * A long-running task: waits `seconds` in steps, reporting progress and honouring a
 * cancellation at the checkpoint between steps.
 */
export const sleepTask = defineTaskType({
  description: `Waits \`seconds\` (at most ${MAX_SLEEP_SECONDS}), reporting progress as it goes; a cancellation stops it at the next step.`,
  payload: z.strictObject({
    seconds: z
      .number()
      .positive()
      .max(MAX_SLEEP_SECONDS)
      .openapi({ example: 30, description: `0 < seconds ≤ ${MAX_SLEEP_SECONDS}` }),
  }),
  result: z.object({ slept_seconds: z.number() }),
  example: { seconds: 30 },
  timeLimitSeconds: MAX_SLEEP_SECONDS + 60,
  async run({ seconds }, run) {
    const steps = Math.min(MAX_STEPS, Math.max(1, Math.ceil(seconds)));
    const stepMs = (seconds * 1000) / steps;
    for (let step = 0; step < steps; step++) {
      await run.checkpoint(Math.round((100 * step) / steps));
      await run.sleep(stepMs);
    }
    await run.checkpoint(100);
    return { slept_seconds: seconds };
  },
});
