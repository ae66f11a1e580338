/**
 * Categories: anyone reads, staff write. Uniqueness (name, slug) and "no delete
 * while products use it" are enforced by D1 itself (unique indexes, a RESTRICT
 * foreign key), so concurrent writes cannot slip past a check; the failures are
 * turned into 409s here.
 */
import { count, eq } from "drizzle-orm";
import { compiledRowById } from "../../db/compiled-query";
import { constraintFailure } from "../../db/constraint-errors";
import { type Category, categories, products } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import type { SortTerm } from "../../lib/list-query";
import { keysetPage, listPage, type Page } from "../../lib/pagination";
import { ProblemError, problems } from "../../lib/problem";
import type { CategoryDto, CreateCategoryInput, UpdateCategoryInput } from "./categories.schemas";

export function toCategoryDto(category: Category): CategoryDto {
  return {
    id: category.id,
    name: category.name,
    slug: category.slug,
    description: category.description,
    created_at: category.createdAt.toISOString(),
    updated_at: category.updatedAt.toISOString(),
  };
}

/** Staff, or the system (seeding, jobs). The routes guard with requireStaff(); this keeps other callers honest. */
function assertCatalogManager(ctx: ServiceContext): void {
  const { principal } = ctx;
  if (principal.kind === "system" || (principal.kind === "user" && principal.isStaff)) return;
  throw problems.forbidden("Only staff can change categories.");
}

/** "Gaming Laptops & Docks" → "gaming-laptops-docks"; accents dropped; "" when nothing is left. */
export function slugify(name: string): string {
  return name
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 64)
    .replace(/-+$/, "");
}

const nameTaken = () =>
  new ProblemError({
    status: 409,
    code: "category_name_taken",
    detail: "A category with this name (in any letter case) exists.",
    errors: [{ pointer: "/name", detail: "Already taken." }],
  });

const slugTaken = () =>
  new ProblemError({
    status: 409,
    code: "category_slug_taken",
    detail: "A category with this slug exists.",
    errors: [{ pointer: "/slug", detail: "Already taken." }],
  });

/** The 409 for a unique index the write hit, or the error itself. */
function conflictFor(error: unknown): unknown {
  const failure = constraintFailure(error);
  if (failure?.kind !== "unique") return error;
  return /slug/.test(failure.target) ? slugTaken() : nameTaken();
}

export type ListCategoriesInput = { limit: number; cursor?: string; sort: SortTerm[] };

export async function listCategories(
  ctx: ServiceContext,
  input: ListCategoriesInput,
): Promise<Page<Category>> {
  const page = keysetPage<Category>({
    sort: input.sort,
    columns: {
      name: { column: categories.name, read: (row) => row.name },
      created_at: { column: categories.createdAt, read: (row) => row.createdAt.getTime() },
    },
    tiebreaker: { column: categories.id, read: (row) => row.id },
    limit: input.limit,
    cursor: input.cursor,
  });
  return listPage(ctx.db, page, {
    rows: ctx.db.select().from(categories).$dynamic(),
    countFrom: categories,
  });
}

// The storefront's read of one category, built into SQL once per isolate (src/db/compiled-query.ts).
const categoryById = compiledRowById(categories);

export async function getCategory(ctx: ServiceContext, id: string): Promise<Category> {
  const category = await categoryById.get(ctx.dbSession, { id });
  if (!category) throw problems.notFound("category");
  return category;
}

export async function createCategory(ctx: ServiceContext, input: CreateCategoryInput): Promise<Category> {
  assertCatalogManager(ctx);
  const slug = input.slug ?? slugify(input.name);
  if (!slug) {
    throw problems.validation(
      [{ pointer: "/slug", detail: "No slug can be made from this name; send one." }],
      "Send a slug for this category.",
    );
  }
  try {
    const [category] = await ctx.db
      .insert(categories)
      .values({ name: input.name, slug, description: input.description ?? "" })
      .returning();
    if (!category) throw new Error("createCategory: the insert returned no row");
    return category;
  } catch (error) {
    throw conflictFor(error);
  }
}

export async function updateCategory(
  ctx: ServiceContext,
  id: string,
  input: UpdateCategoryInput,
): Promise<Category> {
  assertCatalogManager(ctx);
  const current = await getCategory(ctx, id);
  const changes: Partial<typeof categories.$inferInsert> = {};
  if (input.name !== undefined) changes.name = input.name;
  if (input.slug !== undefined) changes.slug = input.slug;
  if (input.description !== undefined) changes.description = input.description;
  if (Object.keys(changes).length === 0) return current;
  try {
    const [updated] = await ctx.db.update(categories).set(changes).where(eq(categories.id, id)).returning();
    // Deleted between the read and the write.
    if (!updated) throw problems.notFound("category");
    return updated;
  } catch (error) {
    throw conflictFor(error);
  }
}

/** 409 `category_in_use` while any product is in it: products are moved or deleted first, never orphaned. */
export async function deleteCategory(ctx: ServiceContext, id: string): Promise<void> {
  assertCatalogManager(ctx);
  let deleted: number;
  try {
    deleted = (await ctx.db.delete(categories).where(eq(categories.id, id)).run()).meta.changes;
  } catch (error) {
    if (constraintFailure(error)?.kind !== "foreign_key") throw error;
    const [inUse] = await ctx.db.select({ value: count() }).from(products).where(eq(products.categoryId, id));
    throw new ProblemError({
      status: 409,
      code: "category_in_use",
      detail: `The category still has ${inUse?.value ?? "some"} products; move or delete them first.`,
      extensions: { product_count: inUse?.value ?? null },
    });
  }
  if (deleted === 0) throw problems.notFound("category");
}
