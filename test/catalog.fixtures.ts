/**
 * Catalog test data written straight to D1 (the API paths are tested on their
 * own), with the same money columns the service would write.
 */
import { env } from "cloudflare:workers";
import { inArray } from "drizzle-orm";
import { chunk, insertChunked } from "../src/db/batch";
import { getDb } from "../src/db/client";
import { type Category, categories, type NewProduct, type Product, products } from "../src/db/schema";
import { uuidv7 } from "../src/lib/ids";
import { parsePrice } from "../src/modules/catalog/money";

export const db = getDb(env);

let sequence = 0;

export async function createCategory(
  fields: Partial<typeof categories.$inferInsert> = {},
): Promise<Category> {
  sequence += 1;
  const tag = `${sequence}-${crypto.randomUUID().slice(0, 8)}`;
  const [category] = await db
    .insert(categories)
    .values({ name: `Category ${tag}`, slug: `category-${tag}`, ...fields })
    .returning();
  if (!category) throw new Error("createCategory: no row");
  return category;
}

export type SeedProduct = {
  name: string;
  description?: string;
  price: string;
  currency?: string;
  categoryId: string;
  createdBy: string;
  createdAt?: Date;
};

export function productRow(seed: SeedProduct): NewProduct {
  const currency = seed.currency ?? "USD";
  const price = parsePrice(seed.price, currency);
  if ("error" in price) throw new Error(`productRow: ${price.error}`);
  return {
    id: uuidv7(),
    name: seed.name,
    description: seed.description ?? "",
    currency,
    ...price,
    categoryId: seed.categoryId,
    createdBy: seed.createdBy,
    ...(seed.createdAt ? { createdAt: seed.createdAt, updatedAt: seed.createdAt } : {}),
  };
}

/** Many rows at once, chunked under D1's 100-parameter cap; returns them as stored. */
export async function seedProducts(seeds: SeedProduct[]): Promise<Product[]> {
  const rows = seeds.map(productRow);
  await insertChunked(db, products, rows);
  const stored: Product[] = [];
  for (const ids of chunk(
    rows.map((row) => row.id as string),
    90,
  )) {
    stored.push(...(await db.select().from(products).where(inArray(products.id, ids))));
  }
  return stored;
}
