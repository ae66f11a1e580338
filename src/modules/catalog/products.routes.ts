import { defineRoute, jsonContent, jsonRequestBody, problemResponse, SECURITY } from "../../lib/openapi";
import { requireUser } from "../../middleware/require";
import {
  CreateProductSchema,
  ListProductsQuery,
  ProductIdParams,
  ProductPageSchema,
  ProductSchema,
  productExample,
  UpdateProductSchema,
} from "./products.schemas";

const tags = ["Catalog"];

const notYours = problemResponse(
  403,
  "The product belongs to someone else (only its owner or staff may change it), or the credential is an API key (`forbidden`).",
);

export const listProducts = defineRoute({
  method: "get",
  path: "/",
  tags,
  summary: "List and search products",
  description:
    "Public. Full-text search with `q`; filter by `filter[category_id]` and by price with `filter[price][gte]` / `filter[price][lte]` (decimal amounts, inclusive, compared by face value whatever the currency); sort by `created_at` (default, newest first), `name` or `price`. Cursor pages with an RFC 8288 `Link` header. Any other filter or sort field is a 400 naming it.",
  request: { query: ListProductsQuery },
  responses: {
    200: {
      ...jsonContent(ProductPageSchema, "One page of products.", {
        data: [productExample],
        meta: { next: "eyJ2IjpbMTc5NTI2OTUzNDY2Niwi…", prev: null, total: 42 },
      }),
      headers: {
        Link: {
          description: 'Next and previous pages (rel="next", rel="prev").',
          schema: { type: "string" },
        },
      },
    },
    400: problemResponse(
      400,
      "An unknown filter or sort field, a bad `limit` (1–100), a malformed amount or `q` (`validation_failed`), or a cursor this API did not issue for this sort (`invalid_cursor`).",
    ),
  },
});

export const getProduct = defineRoute({
  method: "get",
  path: "/{id}",
  tags,
  summary: "Read a product",
  description: "Public.",
  request: { params: ProductIdParams },
  responses: {
    200: jsonContent(ProductSchema, "The product.", productExample),
    400: problemResponse(400, "The id is not a UUID (`validation_failed`)."),
    404: problemResponse(404),
  },
});

export const createProduct = defineRoute({
  method: "post",
  path: "/",
  tags,
  summary: "Create a product",
  description:
    "Any signed-in person; they become its owner (`created_by`). `price` is a decimal string with no more decimals than the currency has. `Location` points at the new product.",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { body: jsonRequestBody(CreateProductSchema) },
  responses: {
    201: {
      ...jsonContent(ProductSchema, "Created.", productExample),
      headers: { Location: { description: "The new product.", schema: { type: "string" } } },
    },
    400: problemResponse(
      400,
      "A field is missing, unknown or malformed, the price has too many decimals for its currency, or the category does not exist (`validation_failed`).",
    ),
    401: problemResponse(401),
    403: problemResponse(403, "API keys cannot create products: they have no owner (`forbidden`)."),
  },
});

export const updateProduct = defineRoute({
  method: "patch",
  path: "/{id}",
  tags,
  summary: "Change a product",
  description:
    "The owner or staff. Only the fields sent change; a new `currency` must come with its `price`.",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { params: ProductIdParams, body: jsonRequestBody(UpdateProductSchema) },
  responses: {
    200: jsonContent(ProductSchema, "The product after the change.", { ...productExample, price: "1799.00" }),
    400: problemResponse(400),
    401: problemResponse(401),
    403: notYours,
    404: problemResponse(404),
  },
});

export const deleteProduct = defineRoute({
  method: "delete",
  path: "/{id}",
  tags,
  summary: "Delete a product",
  description: "The owner or staff.",
  security: SECURITY.bearer,
  middleware: [requireUser()],
  request: { params: ProductIdParams },
  responses: {
    204: { description: "Deleted." },
    400: problemResponse(400, "The id is not a UUID (`validation_failed`)."),
    401: problemResponse(401),
    403: notYours,
    404: problemResponse(404),
  },
});
