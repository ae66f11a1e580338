/**
 * Products: anyone reads and searches; any signed-in person creates; the owner
 * (`created_by`) or staff change and delete. Products are public, so someone
 * else's product is a 403 (it exists, you may not change it), never a 404.
 */
import { and, eq, gte, lte, type SQL, sql } from "drizzle-orm";
import { compiledRowById } from "../../db/compiled-query";
import { constraintFailure } from "../../db/constraint-errors";
import { type Product, products } from "../../db/schema";
import type { ServiceContext } from "../../lib/context";
import type { SortTerm } from "../../lib/list-query";
import { keysetPage, listPage, type Page } from "../../lib/pagination";
import { currentUser } from "../../lib/principal";
import { problems } from "../../lib/problem";
import { getCategory } from "./categories.service";
import { formatPrice, type PriceColumns, parsePrice } from "./money";
import type { CreateProductInput, ProductDto, UpdateProductInput } from "./products.schemas";
import { ftsMatchExpression } from "./search";

export function toProductDto(product: Product): ProductDto {
  return {
    id: product.id,
    name: product.name,
    description: product.description,
    price: formatPrice(product.priceMinor, product.currency),
    currency: product.currency,
    category_id: product.categoryId,
    created_by: product.createdBy,
    created_at: product.createdAt.toISOString(),
    updated_at: product.updatedAt.toISOString(),
  };
}

/** Both money columns from the API's decimal string; a 400 naming /price when it does not fit the currency. */
function priceColumns(price: string, currency: string): PriceColumns {
  const parsed = parsePrice(price, currency);
  if ("error" in parsed) throw problems.validation([{ pointer: "/price", detail: parsed.error }]);
  return parsed;
}

const unknownCategory = () =>
  problems.validation([{ pointer: "/category_id", detail: "No category has this id." }], "Unknown category.");

/** A write that broke the category foreign key names /category_id; anything else is not the client's doing. */
async function categoryProblem(ctx: ServiceContext, error: unknown, categoryId: string): Promise<unknown> {
  if (constraintFailure(error)?.kind !== "foreign_key") return error;
  try {
    await getCategory(ctx, categoryId);
  } catch {
    return unknownCategory();
  }
  return error;
}

/** The owner, staff, or the system may change a product. */
function assertCanModify(ctx: ServiceContext, product: Product): void {
  const { principal } = ctx;
  if (principal.kind === "system") return;
  if (principal.kind === "user" && (principal.isStaff || principal.userId === product.createdBy)) return;
  throw problems.forbidden("Only the product's owner or staff can change or delete it.");
}

export type ListProductsInput = {
  limit: number;
  cursor?: string;
  sort: SortTerm[];
  /** Free text; turned into a safe FTS5 expression here. */
  q?: string;
  categoryId?: string;
  /** Bounds in thousandths of a unit (the `price_thousandths` scale), inclusive. */
  priceGte?: number;
  priceLte?: number;
};

export async function listProducts(ctx: ServiceContext, input: ListProductsInput): Promise<Page<Product>> {
  const page = keysetPage<Product>({
    sort: input.sort,
    columns: {
      created_at: { column: products.createdAt, read: (row) => row.createdAt.getTime() },
      name: { column: products.name, read: (row) => row.name },
      price: { column: products.priceThousandths, read: (row) => row.priceThousandths },
    },
    tiebreaker: { column: products.id, read: (row) => row.id },
    limit: input.limit,
    cursor: input.cursor,
  });

  const filters: Array<SQL | undefined> = [];
  if (input.categoryId !== undefined) filters.push(eq(products.categoryId, input.categoryId));
  if (input.priceGte !== undefined) filters.push(gte(products.priceThousandths, input.priceGte));
  if (input.priceLte !== undefined) filters.push(lte(products.priceThousandths, input.priceLte));
  if (input.q !== undefined) {
    const match = ftsMatchExpression(input.q);
    // The query schema refuses a q with nothing to search for; a caller that skips it gets no rows, not an FTS error.
    filters.push(
      match === null
        ? sql`0`
        : sql`${products}.rowid IN (SELECT rowid FROM products_fts WHERE products_fts MATCH ${match})`,
    );
  }
  const where = and(...filters);

  return listPage(ctx.db, page, {
    rows: ctx.db.select().from(products).$dynamic(),
    countFrom: products,
    where,
  });
}

// The storefront's read of one product, built into SQL once per isolate (src/db/compiled-query.ts).
const productById = compiledRowById(products);

export async function getProduct(ctx: ServiceContext, id: string): Promise<Product> {
  const product = await productById.get(ctx.dbSession, { id });
  if (!product) throw problems.notFound("product");
  return product;
}

export async function createProduct(ctx: ServiceContext, input: CreateProductInput): Promise<Product> {
  const owner = currentUser(ctx);
  const price = priceColumns(input.price, input.currency);
  try {
    const [product] = await ctx.db
      .insert(products)
      .values({
        name: input.name,
        description: input.description ?? "",
        currency: input.currency,
        ...price,
        categoryId: input.category_id,
        createdBy: owner.userId,
      })
      .returning();
    if (!product) throw new Error("createProduct: the insert returned no row");
    return product;
  } catch (error) {
    throw await categoryProblem(ctx, error, input.category_id);
  }
}

/** Only the fields sent change. A new currency comes with its price (the schema insists). */
export async function updateProduct(
  ctx: ServiceContext,
  id: string,
  input: UpdateProductInput,
): Promise<Product> {
  const product = await getProduct(ctx, id);
  assertCanModify(ctx, product);

  const changes: Partial<typeof products.$inferInsert> = {};
  if (input.name !== undefined) changes.name = input.name;
  if (input.description !== undefined) changes.description = input.description;
  if (input.currency !== undefined && input.price === undefined) {
    throw problems.validation([{ pointer: "/price", detail: "Send the price in the new currency with it." }]);
  }
  if (input.price !== undefined) {
    const currency = input.currency ?? product.currency;
    Object.assign(changes, { currency, ...priceColumns(input.price, currency) });
  }
  if (input.category_id !== undefined) changes.categoryId = input.category_id;
  if (Object.keys(changes).length === 0) return product;

  try {
    const [updated] = await ctx.db.update(products).set(changes).where(eq(products.id, id)).returning();
    // Deleted between the read and the write.
    if (!updated) throw problems.notFound("product");
    return updated;
  } catch (error) {
    throw input.category_id === undefined ? error : await categoryProblem(ctx, error, input.category_id);
  }
}

export async function deleteProduct(ctx: ServiceContext, id: string): Promise<void> {
  const product = await getProduct(ctx, id);
  assertCanModify(ctx, product);
  await ctx.db.delete(products).where(eq(products.id, id));
}
