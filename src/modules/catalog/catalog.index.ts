import { createRouter } from "../../lib/create-router";
import * as categories from "./categories.handlers";
import * as categoryRoutes from "./categories.routes";
import * as products from "./products.handlers";
import * as productRoutes from "./products.routes";

/** Mounted at /api/v1/categories. */
export const categoriesRouter = createRouter()
  .openapi(categoryRoutes.listCategories, categories.listCategories)
  .openapi(categoryRoutes.getCategory, categories.getCategory)
  .openapi(categoryRoutes.createCategory, categories.createCategory)
  .openapi(categoryRoutes.updateCategory, categories.updateCategory)
  .openapi(categoryRoutes.deleteCategory, categories.deleteCategory);

/** Mounted at /api/v1/products. */
export const productsRouter = createRouter()
  .openapi(productRoutes.listProducts, products.listProducts)
  .openapi(productRoutes.getProduct, products.getProduct)
  .openapi(productRoutes.createProduct, products.createProduct)
  .openapi(productRoutes.updateProduct, products.updateProduct)
  .openapi(productRoutes.deleteProduct, products.deleteProduct);
