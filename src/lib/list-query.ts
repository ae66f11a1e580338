/**
 * The query string of every collection route: `limit`, `cursor`, `sort` and
 * `filter[field]` / `filter[field][op]`, each checked against the allowlists the
 * route declares. Unknown filter fields and sort fields are 400s that name the
 * parameter; the schema is also what documents them in OpenAPI.
 */
import { z } from "@hono/zod-openapi";

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export const limitParam = z.coerce
  .number()
  .int()
  .min(1)
  .max(MAX_PAGE_SIZE)
  .default(DEFAULT_PAGE_SIZE)
  .openapi({
    param: { name: "limit", in: "query" },
    description: `Page size, 1–${MAX_PAGE_SIZE}.`,
    example: DEFAULT_PAGE_SIZE,
  });

export const cursorParam = z
  .string()
  .min(1)
  .max(1024)
  .optional()
  .openapi({
    param: { name: "cursor", in: "query" },
    description: "Opaque cursor from `meta.next` / `meta.prev` of a previous page.",
  });

export type SortTerm = { field: string; direction: "asc" | "desc" };

/** Parses "name,-price" into terms; every field must be in `allowed`, none repeated. */
export function parseSort(raw: string, allowed: readonly string[]): SortTerm[] | string {
  const terms: SortTerm[] = [];
  for (const part of raw.split(",")) {
    const token = part.trim();
    if (!token) return "Sort fields must not be empty.";
    const direction = token.startsWith("-") ? "desc" : "asc";
    const field = token.replace(/^[-+]/, "");
    if (!allowed.includes(field)) return `Unknown sort field "${field}"; allowed: ${allowed.join(", ")}.`;
    if (terms.some((term) => term.field === field)) return `Sort field "${field}" is repeated.`;
    terms.push({ field, direction });
  }
  return terms;
}

export function sortParam(allowed: readonly string[], defaultSort: string) {
  return z
    .string()
    .max(200)
    .default(defaultSort)
    .transform((raw, ctx) => {
      const parsed = parseSort(raw, allowed);
      if (typeof parsed === "string") {
        ctx.addIssue({ code: "custom", message: parsed });
        return z.NEVER;
      }
      return parsed;
    })
    .openapi({
      param: { name: "sort", in: "query" },
      type: "string",
      description: `Comma-separated fields, "-" for descending. Allowed: ${allowed.join(", ")}.`,
      example: defaultSort,
    });
}

type FilterShape = Record<`filter[${string}]`, z.ZodType>;

/**
 * The query schema of a collection route. `filters` keys are the literal query
 * names (`"filter[status]"`, `"filter[price][gte]"`), each an optional zod type.
 * Any other `filter[...]` parameter is rejected rather than silently ignored.
 */
export function listQuery<const F extends FilterShape>(options: {
  sort: readonly string[];
  defaultSort: string;
  filters?: F;
}) {
  const filters = (options.filters ?? {}) as F;
  const filterShape = Object.fromEntries(
    Object.entries(filters).map(([name, schema]) => [
      name,
      (schema as z.ZodType).optional().openapi({ param: { name, in: "query" } }),
    ]),
  ) as { [K in keyof F]: z.ZodOptional<Extract<F[K], z.ZodType>> };
  const allowedFilters = Object.keys(filters);

  return z
    .object({
      limit: limitParam,
      cursor: cursorParam,
      sort: sortParam(options.sort, options.defaultSort),
      ...filterShape,
    })
    .loose()
    .superRefine((query, ctx) => {
      for (const key of Object.keys(query)) {
        if (key.startsWith("filter[") && !allowedFilters.includes(key)) {
          ctx.addIssue({
            code: "custom",
            path: [key],
            message:
              allowedFilters.length > 0
                ? `Unknown filter; allowed: ${allowedFilters.join(", ")}.`
                : "This collection has no filters.",
          });
        }
      }
    });
}

/** `filter[flag]=true|false`. */
export const booleanFilter = z.enum(["true", "false"]).transform((value) => value === "true");
