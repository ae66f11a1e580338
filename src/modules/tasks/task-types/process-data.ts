import { z } from "@hono/zod-openapi";
import { PermanentTaskError } from "../task-errors";
import { defineTaskType } from "./define";

export const MAX_ITEMS = 10_000;

/** Records are summarised on one numeric `field`; numbers are summarised as they are. */
const payload = z
  .strictObject({
    items: z
      .array(z.union([z.number(), z.record(z.string(), z.unknown())]))
      .max(MAX_ITEMS)
      .openapi({
        description: `Up to ${MAX_ITEMS} numbers, or up to ${MAX_ITEMS} records (objects) that all have a numeric \`field\`.`,
        example: [12.5, 7, 30],
      }),
    field: z.string().min(1).max(100).optional().openapi({
      description: "The numeric field of each record; required for records, refused for numbers.",
    }),
  })
  .superRefine((value, ctx) => {
    const records = value.items.filter((item) => typeof item === "object");
    if (records.length > 0 && records.length < value.items.length) {
      ctx.addIssue({ code: "custom", path: ["items"], message: "Send only numbers or only records." });
      return;
    }
    if (records.length === 0) {
      if (value.field !== undefined) {
        ctx.addIssue({ code: "custom", path: ["field"], message: "Only records have a field." });
      }
      return;
    }
    if (value.field === undefined) {
      ctx.addIssue({ code: "custom", path: ["field"], message: "Name the numeric field of the records." });
      return;
    }
    const field = value.field;
    value.items.forEach((item, index) => {
      if (typeof item !== "object" || typeof item[field] !== "number") {
        ctx.addIssue({ code: "custom", path: ["items", index, field], message: "Must be a number." });
      }
    });
  });

/** Neumaier's compensated sum: adding 10,000 decimals does not drift the way a plain loop does. */
function preciseSum(values: number[]): number {
  let sum = 0;
  let compensation = 0;
  for (const value of values) {
    const total = sum + value;
    compensation += Math.abs(sum) >= Math.abs(value) ? sum - total + value : value - total + sum;
    sum = total;
  }
  return sum + compensation;
}

export function summarize(values: number[]) {
  if (values.length === 0) return { count: 0, sum: 0, mean: null, min: null, max: null };
  const sum = preciseSum(values);
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const value of values) {
    if (value < min) min = value;
    if (value > max) max = value;
  }
  return { count: values.length, sum, mean: sum / values.length, min, max };
}

export const processDataTask = defineTaskType({
  description:
    "Summarises a list of numbers, or one numeric field of a list of records: count, sum, mean, min, max.",
  payload,
  result: z.object({
    count: z.int(),
    sum: z.number(),
    mean: z.number().nullable(),
    min: z.number().nullable(),
    max: z.number().nullable(),
  }),
  example: { items: [{ amount: 12.5 }, { amount: 7 }, { amount: 30 }], field: "amount" },
  async run({ items, field }) {
    const values = items.map((item) => (typeof item === "number" ? item : Number(item[field ?? ""])));
    const summary = summarize(values);
    // Numbers near Number.MAX_VALUE can add up to Infinity, which JSON cannot carry.
    if (!Number.isFinite(summary.sum)) {
      throw new PermanentTaskError("result_out_of_range", "The sum of the items is too large.");
    }
    return summary;
  },
});
