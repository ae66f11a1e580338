import { z } from "@hono/zod-openapi";
import { PermanentTaskError } from "../task-errors";
import { defineTaskType } from "./define";

/** The smallest possible task: proves the whole pipeline (queue, claim, result) end to end. */
export const addTask = defineTaskType({
  description: "Adds two numbers.",
  payload: z.strictObject({
    x: z.number().openapi({ example: 2 }),
    y: z.number().openapi({ example: 3 }),
  }),
  result: z.object({ sum: z.number() }),
  example: { x: 2, y: 3 },
  async run({ x, y }) {
    const sum = x + y;
    // 1e308 + 1e308 is Infinity, which JSON cannot carry; no retry can change that.
    if (!Number.isFinite(sum)) throw new PermanentTaskError("result_out_of_range", "The sum is too large.");
    return { sum };
  },
});
