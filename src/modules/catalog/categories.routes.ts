import { defineRoute, jsonContent, jsonRequestBody, problemResponse, SECURITY } from "../../lib/openapi";
import { requireStaff } from "../../middleware/require";
import {
  CategoryIdParams,
  CategoryPageSchema,
  CategorySchema,
  CreateCategorySchema,
  categoryExample,
  ListCategoriesQuery,
  UpdateCategorySchema,
} from "./categories.schemas";

const tags = ["Catalog"];

const staffOnly = problemResponse(403, "Only staff change categories (`forbidden`).");
const taken = problemResponse(
  409,
  "Another category has this name, in any letter case (`category_name_taken`), or this slug (`category_slug_taken`).",
);

export const listCategories = defineRoute({
  method: "get",
  path: "/",
  tags,
  summary: "List categories",
  description: "Public. Sorted by `name` unless `sort` says otherwise (`name`, `created_at`); cursor pages.",
  request: { query: ListCategoriesQuery },
  responses: {
    200: {
      ...jsonContent(CategoryPageSchema, "One page of categories.", {
        data: [categoryExample],
        meta: { next: null, prev: null, total: 1 },
      }),
      headers: {
        Link: {
          description: 'Next and previous pages (rel="next", rel="prev").',
          schema: { type: "string" },
        },
      },
    },
    400: problemResponse(400),
  },
});

export const getCategory = defineRoute({
  method: "get",
  path: "/{id}",
  tags,
  summary: "Read a category",
  description: "Public.",
  request: { params: CategoryIdParams },
  responses: {
    200: jsonContent(CategorySchema, "The category.", categoryExample),
    400: problemResponse(400, "The id is not a UUID (`validation_failed`)."),
    404: problemResponse(404),
  },
});

export const createCategory = defineRoute({
  method: "post",
  path: "/",
  tags,
  summary: "Create a category (staff)",
  description: "The slug is made from the name when left out. `Location` points at the new category.",
  security: SECURITY.bearer,
  middleware: [requireStaff()],
  request: { body: jsonRequestBody(CreateCategorySchema) },
  responses: {
    201: {
      ...jsonContent(CategorySchema, "Created.", categoryExample),
      headers: { Location: { description: "The new category.", schema: { type: "string" } } },
    },
    400: problemResponse(400),
    401: problemResponse(401),
    403: staffOnly,
    409: taken,
  },
});

export const updateCategory = defineRoute({
  method: "patch",
  path: "/{id}",
  tags,
  summary: "Change a category (staff)",
  description: "Only the fields sent change.",
  security: SECURITY.bearer,
  middleware: [requireStaff()],
  request: { params: CategoryIdParams, body: jsonRequestBody(UpdateCategorySchema) },
  responses: {
    200: jsonContent(CategorySchema, "The category after the change.", categoryExample),
    400: problemResponse(400),
    401: problemResponse(401),
    403: staffOnly,
    404: problemResponse(404),
    409: taken,
  },
});

export const deleteCategory = defineRoute({
  method: "delete",
  path: "/{id}",
  tags,
  summary: "Delete a category (staff)",
  description: "Only an empty category can be deleted: move or delete its products first.",
  security: SECURITY.bearer,
  middleware: [requireStaff()],
  request: { params: CategoryIdParams },
  responses: {
    204: { description: "Deleted." },
    400: problemResponse(400, "The id is not a UUID (`validation_failed`)."),
    401: problemResponse(401),
    403: staffOnly,
    404: problemResponse(404),
    409: problemResponse(
      409,
      "Products are still in this category (`category_in_use`, with `product_count`).",
    ),
  },
});
