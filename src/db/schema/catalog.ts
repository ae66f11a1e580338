import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { createdAt, id, updatedAt } from "./columns";
import { users } from "./users";

/** Public read, staff write. A category with products cannot be deleted (the FK below restricts it). */
export const categories = sqliteTable(
  "categories",
  {
    id: id(),
    /** Unique whatever the (ASCII) letter case. */
    name: text("name").notNull(),
    /** Lower-case words joined by "-": the URL-friendly name. */
    slug: text("slug").notNull(),
    description: text("description").notNull().default(""),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (table) => [
    uniqueIndex("categories_slug_unique").on(table.slug),
    uniqueIndex("categories_name_unique").on(sql`lower(${table.name})`),
    index("categories_name_idx").on(table.name, table.id),
    index("categories_created_at_idx").on(table.createdAt, table.id),
  ],
);

/**
 * Public read; any signed-in user creates; the creator or staff change and delete.
 *
 * Money is two integers set together by the service (catalog.money.ts):
 * `price_minor` is the truth, in the currency's minor units (cents; yen for JPY);
 * `price_thousandths` is the same amount in thousandths of a unit whatever the
 * currency, the one column `filter[price]` and `sort=price` compare, so "10" means
 * ten units of any currency and a cursor on price stays a plain keyset.
 *
 * Full-text search is the FTS5 table `products_fts` (name, description), an
 * external-content index over this table's rowid kept in sync by triggers. Both
 * live in a custom migration (drizzle-kit cannot model virtual tables or
 * triggers): see migrations/*_catalog_fts.sql.
 */
export const products = sqliteTable(
  "products",
  {
    id: id(),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    priceMinor: integer("price_minor").notNull(),
    /** ISO 4217, upper case. */
    currency: text("currency").notNull(),
    priceThousandths: integer("price_thousandths").notNull(),
    categoryId: text("category_id")
      .notNull()
      .references(() => categories.id, { onDelete: "restrict" }),
    /** The owner. Erasing the account erases its products (and their search entries, through the trigger). */
    createdBy: text("created_by")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (table) => [
    // One per sort (each ends with the id, the cursor's tie-breaker), one per filter.
    index("products_created_at_idx").on(table.createdAt, table.id),
    index("products_name_idx").on(table.name, table.id),
    index("products_price_idx").on(table.priceThousandths, table.id),
    index("products_category_id_idx").on(table.categoryId),
    index("products_created_by_idx").on(table.createdBy),
  ],
);

export type Category = typeof categories.$inferSelect;
export type NewCategory = typeof categories.$inferInsert;
export type Product = typeof products.$inferSelect;
export type NewProduct = typeof products.$inferInsert;
