import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { setLinkHeader } from "../../lib/pagination";
import type * as routes from "./products.routes";
import * as products from "./products.service";

export const listProducts: RouteHandler<typeof routes.listProducts, AppEnv> = async (c) => {
  const query = c.req.valid("query");
  const page = await products.listProducts(c.get("ctx"), {
    limit: query.limit,
    cursor: query.cursor,
    sort: query.sort,
    q: query.q,
    categoryId: query["filter[category_id]"],
    priceGte: query["filter[price][gte]"],
    priceLte: query["filter[price][lte]"],
  });
  setLinkHeader(c, page.meta);
  return c.json({ data: page.data.map(products.toProductDto), meta: page.meta }, 200);
};

export const getProduct: RouteHandler<typeof routes.getProduct, AppEnv> = async (c) => {
  const product = await products.getProduct(c.get("ctx"), c.req.valid("param").id);
  return c.json(products.toProductDto(product), 200);
};

export const createProduct: RouteHandler<typeof routes.createProduct, AppEnv> = async (c) => {
  const product = await products.createProduct(c.get("ctx"), c.req.valid("json"));
  c.header("Location", `/api/v1/products/${product.id}`);
  return c.json(products.toProductDto(product), 201);
};

export const updateProduct: RouteHandler<typeof routes.updateProduct, AppEnv> = async (c) => {
  const product = await products.updateProduct(c.get("ctx"), c.req.valid("param").id, c.req.valid("json"));
  return c.json(products.toProductDto(product), 200);
};

export const deleteProduct: RouteHandler<typeof routes.deleteProduct, AppEnv> = async (c) => {
  await products.deleteProduct(c.get("ctx"), c.req.valid("param").id);
  return c.body(null, 204);
};
