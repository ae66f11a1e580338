/** Categories as the API shows them (snake_case, ISO times), and what it accepts. */
import { z } from "@hono/zod-openapi";
import { listQuery } from "../../lib/list-query";
import { pageSchema } from "../../lib/pagination";

export const CATEGORY_ID_EXAMPLE = "0190c6d0-7a2e-7b3c-8d4e-5f6a7b8c9d0e";

/** Display text: no control characters (they break logs, CSV exports and terminals). */
export const NO_CONTROL_CHARACTERS = /^[^\p{Cc}]*$/u;

export const SLUG_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

export const categoryExample = {
  id: CATEGORY_ID_EXAMPLE,
  name: "Laptops",
  slug: "laptops",
  description: "Portable computers.",
  created_at: "2026-11-01T09:30:00.000Z",
  updated_at: "2026-11-01T09:30:00.000Z",
};

export const CategorySchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    slug: z.string().openapi({ description: "Lower-case words joined by `-`; unique." }),
    description: z.string(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .openapi("Category", { example: categoryExample });

export type CategoryDto = z.infer<typeof CategorySchema>;

const CategoryName = z
  .string()
  .trim()
  .min(1, { abort: true })
  .max(100, { abort: true })
  .regex(NO_CONTROL_CHARACTERS, "Control characters are not allowed.")
  .openapi({ description: "Unique whatever the letter case.", example: "Laptops" });

const Slug = z
  .string()
  .trim()
  .min(1, { abort: true })
  .max(64, { abort: true })
  .regex(SLUG_PATTERN, "Use lower-case letters and digits, words joined by single hyphens: `gaming-laptops`.")
  .openapi({ example: "laptops" });

const CategoryDescription = z
  .string()
  .trim()
  .max(1000)
  .regex(NO_CONTROL_CHARACTERS, "Control characters are not allowed.")
  .openapi({ example: "Portable computers." });

export const CreateCategorySchema = z
  .strictObject({
    name: CategoryName,
    slug: Slug.optional().openapi({ description: "Made from the name when left out." }),
    description: CategoryDescription.optional(),
  })
  .openapi("CreateCategoryRequest", {
    example: { name: "Laptops", slug: "laptops", description: "Portable computers." },
  });

export type CreateCategoryInput = z.infer<typeof CreateCategorySchema>;

export const UpdateCategorySchema = z
  .strictObject({
    name: CategoryName.optional(),
    slug: Slug.optional(),
    description: CategoryDescription.optional(),
  })
  .openapi("UpdateCategoryRequest", { example: { description: "Portable computers and their docks." } });

export type UpdateCategoryInput = z.infer<typeof UpdateCategorySchema>;

export const CategoryIdParams = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, example: CATEGORY_ID_EXAMPLE }),
});

export const CATEGORY_SORT_FIELDS = ["name", "created_at"] as const;

export const ListCategoriesQuery = listQuery({ sort: CATEGORY_SORT_FIELDS, defaultSort: "name" });

export const CategoryPageSchema = pageSchema(CategorySchema, "CategoryPage");
