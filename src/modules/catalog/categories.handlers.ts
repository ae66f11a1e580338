import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { setLinkHeader } from "../../lib/pagination";
import type * as routes from "./categories.routes";
import * as categories from "./categories.service";

export const listCategories: RouteHandler<typeof routes.listCategories, AppEnv> = async (c) => {
  const page = await categories.listCategories(c.get("ctx"), c.req.valid("query"));
  setLinkHeader(c, page.meta);
  return c.json({ data: page.data.map(categories.toCategoryDto), meta: page.meta }, 200);
};

export const getCategory: RouteHandler<typeof routes.getCategory, AppEnv> = async (c) => {
  const category = await categories.getCategory(c.get("ctx"), c.req.valid("param").id);
  return c.json(categories.toCategoryDto(category), 200);
};

export const createCategory: RouteHandler<typeof routes.createCategory, AppEnv> = async (c) => {
  const category = await categories.createCategory(c.get("ctx"), c.req.valid("json"));
  c.header("Location", `/api/v1/categories/${category.id}`);
  return c.json(categories.toCategoryDto(category), 201);
};

export const updateCategory: RouteHandler<typeof routes.updateCategory, AppEnv> = async (c) => {
  const category = await categories.updateCategory(
    c.get("ctx"),
    c.req.valid("param").id,
    c.req.valid("json"),
  );
  return c.json(categories.toCategoryDto(category), 200);
};

export const deleteCategory: RouteHandler<typeof routes.deleteCategory, AppEnv> = async (c) => {
  await categories.deleteCategory(c.get("ctx"), c.req.valid("param").id);
  return c.body(null, 204);
};
