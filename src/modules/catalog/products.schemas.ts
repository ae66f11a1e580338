/** Products as the API shows them (decimal-string prices, snake_case), and what it accepts. */
import { z } from "@hono/zod-openapi";
import { listQuery } from "../../lib/list-query";
import { pageSchema } from "../../lib/pagination";
import { USER_ID_EXAMPLE } from "../users/users.schemas";
import { CATEGORY_ID_EXAMPLE, NO_CONTROL_CHARACTERS } from "./categories.schemas";
import {
  amountToThousandths,
  CURRENCIES,
  currencyExponent,
  DECIMAL_AMOUNT_PATTERN,
  parsePrice,
} from "./money";
import { ftsMatchExpression } from "./search";

export const PRODUCT_ID_EXAMPLE = "0190c6d2-4b1a-7e3c-9d5f-2a3b4c5d6e7f";

export const productExample = {
  id: PRODUCT_ID_EXAMPLE,
  name: "Travel laptop 14",
  description: "A 14-inch ultralight laptop with 32 GB of memory and a 20-hour battery.",
  price: "1899.00",
  currency: "USD",
  category_id: CATEGORY_ID_EXAMPLE,
  created_by: USER_ID_EXAMPLE,
  created_at: "2026-11-20T10:00:00.000Z",
  updated_at: "2026-11-20T10:00:00.000Z",
};

export const ProductSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    description: z.string(),
    price: z.string().openapi({
      description:
        'Decimal string with exactly the currency\'s minor-unit digits: "1899.00" in USD, "250000" in JPY, "12.500" in KWD.',
      example: "1899.00",
    }),
    currency: z.string().openapi({ description: "ISO 4217 code.", example: "USD" }),
    category_id: z.uuid(),
    created_by: z.uuid().openapi({ description: "The owner: the user who created it." }),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .openapi("Product", { example: productExample });

export type ProductDto = z.infer<typeof ProductSchema>;

const ProductName = z
  .string()
  .trim()
  .min(1, { abort: true })
  .max(200, { abort: true })
  .regex(NO_CONTROL_CHARACTERS, "Control characters are not allowed.")
  .openapi({ example: "Travel laptop 14" });

/** Line breaks and tabs are fine in a description; other control characters are not. */
const ProductDescription = z
  .string()
  .trim()
  .max(5000)
  .regex(/^[\t\n\r\P{Cc}]*$/u, "Control characters other than line breaks and tabs are not allowed.")
  .openapi({ example: "A 14-inch ultralight laptop with 32 GB of memory and a 20-hour battery." });

/** A string on purpose: a JSON number such as 0.1 + 0.2 cannot carry money exactly. */
const Price = z
  .string({
    error: (issue) =>
      issue.input === undefined ? undefined : 'Send the price as a decimal string, e.g. "999.99".',
  })
  .trim()
  .regex(
    DECIMAL_AMOUNT_PATTERN,
    'Use a decimal string such as "999.99" (at most 12 digits before the point).',
  )
  .openapi({
    description: "Decimal string, at most as many decimals as the currency has (2 for USD, 0 for JPY).",
    example: "1899.00",
  });

const Currency = z
  .string()
  .trim()
  .toUpperCase()
  .refine(
    (code) => currencyExponent(code) !== undefined,
    "Use an ISO 4217 currency code such as USD, EUR or JPY.",
  )
  .openapi({ description: "ISO 4217 code, any letter case.", example: "USD", enum: [...CURRENCIES] });

/**
 * The digits of `price` must fit the currency: "10.5" is fine in USD, not in JPY.
 * Object checks run even when a field failed, so a malformed price or an unknown
 * currency (already reported on its own field) is left alone here.
 */
function checkPriceDigits(price: unknown, currency: unknown, ctx: z.RefinementCtx): void {
  if (typeof price !== "string" || typeof currency !== "string") return;
  if (!DECIMAL_AMOUNT_PATTERN.test(price) || currencyExponent(currency) === undefined) return;
  const parsed = parsePrice(price, currency);
  if ("error" in parsed) ctx.addIssue({ code: "custom", path: ["price"], message: parsed.error });
}

export const CreateProductSchema = z
  .strictObject({
    name: ProductName,
    description: ProductDescription.optional(),
    price: Price,
    currency: Currency,
    category_id: z.uuid(),
  })
  .superRefine((input, ctx) => checkPriceDigits(input.price, input.currency, ctx))
  .openapi("CreateProductRequest", {
    example: {
      name: "Travel laptop 14",
      description: "A 14-inch ultralight laptop with 32 GB of memory and a 20-hour battery.",
      price: "1899.00",
      currency: "USD",
      category_id: CATEGORY_ID_EXAMPLE,
    },
  });

export type CreateProductInput = z.infer<typeof CreateProductSchema>;

export const UpdateProductSchema = z
  .strictObject({
    name: ProductName.optional(),
    description: ProductDescription.optional(),
    price: Price.optional(),
    currency: Currency.optional().openapi({
      description: "Send `price` with it: an amount means nothing in another currency.",
    }),
    category_id: z.uuid().optional(),
  })
  .superRefine((input, ctx) => {
    if (input.currency !== undefined && input.price === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["price"],
        message: "Send the price in the new currency with it.",
      });
    } else if (input.currency !== undefined && input.price !== undefined) {
      checkPriceDigits(input.price, input.currency, ctx);
    }
  })
  .openapi("UpdateProductRequest", { example: { price: "1799.00" } });

export type UpdateProductInput = z.infer<typeof UpdateProductSchema>;

export const ProductIdParams = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, example: PRODUCT_ID_EXAMPLE }),
});

/** `filter[price][gte]=10` means ten units of each product's currency; up to 3 decimals. */
const AmountFilter = z
  .string()
  .transform((amount, ctx) => {
    const thousandths = amountToThousandths(amount);
    if (thousandths === null) {
      ctx.addIssue({
        code: "custom",
        message: "Use a decimal amount such as 10 or 9.99 (at most 3 decimals).",
      });
      return z.NEVER;
    }
    return thousandths;
  })
  .openapi({ type: "string", example: "10.00" });

export const PRODUCT_SORT_FIELDS = ["created_at", "name", "price"] as const;

export const ListProductsQuery = listQuery({
  sort: PRODUCT_SORT_FIELDS,
  defaultSort: "-created_at",
  filters: {
    "filter[category_id]": z.uuid().openapi({ example: CATEGORY_ID_EXAMPLE }),
    "filter[price][gte]": AmountFilter,
    "filter[price][lte]": AmountFilter,
  },
})
  .safeExtend({
    q: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .refine((q) => ftsMatchExpression(q) !== null, "Search for at least one letter or digit.")
      .optional()
      .openapi({
        param: { name: "q", in: "query" },
        description:
          "Full-text search of name and description: every word must match the start of a word (`lap` finds “laptop”), ignoring case and accents. Punctuation and search operators are ignored.",
        example: "travel laptop",
      }),
  })
  .superRefine((query, ctx) => {
    const gte = query["filter[price][gte]"];
    const lte = query["filter[price][lte]"];
    if (gte !== undefined && lte !== undefined && gte > lte) {
      ctx.addIssue({
        code: "custom",
        path: ["filter[price][gte]"],
        message: "The lower bound is above filter[price][lte].",
      });
    }
  });

export type ListProductsQueryInput = z.infer<typeof ListProductsQuery>;

export const ProductPageSchema = pageSchema(ProductSchema, "ProductPage");
