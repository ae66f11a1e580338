/**
 * Categories and products through HTTP: the happy paths, every way a write can
 * be refused, and the security suite on every protected route.
 */
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { products } from "../src/db/schema";
import type { CategoryDto } from "../src/modules/catalog/categories.schemas";
import type { ProductDto } from "../src/modules/catalog/products.schemas";
import { createCategory, db, seedProducts } from "./catalog.fixtures";
import { createStaff, createUser, signIn, type Tokens } from "./support/factories";
import { api, as, fieldsOf, jsonOf, type Page, problemOf } from "./support/http";
import { securitySuite } from "./support/security";

let owner: Tokens;
let ownerId: string;
let other: Tokens;
let staff: Tokens;
let categoryId: string;

beforeAll(async () => {
  const [a, b, s] = await Promise.all([createUser(), createUser(), createStaff()]);
  ownerId = a.user.id;
  [owner, other, staff] = await Promise.all([signIn(a.user), signIn(b.user), signIn(s.user)]);
  categoryId = (await createCategory({ name: "Laptops", slug: "laptops" })).id;
});

const validProduct = () => ({
  name: "Travel laptop 14",
  description: "Ultralight.\nTwenty-hour battery.",
  price: "1899.00",
  currency: "USD",
  category_id: categoryId,
});

async function createProduct(token: string, body: Record<string, unknown> = {}): Promise<ProductDto> {
  const res = await as(token).post("/api/v1/products", { body: { ...validProduct(), ...body } });
  return jsonOf<ProductDto>(res, 201);
}

describe("categories", () => {
  it("staff create one; anyone reads it and lists categories by name", async () => {
    const res = await as(staff.accessToken).post("/api/v1/categories", {
      body: { name: "  Crème Brûlée Tools ", description: "Torches and ramekins." },
    });
    const created = await jsonOf<CategoryDto>(res, 201);
    expect(res.headers.get("location")).toBe(`/api/v1/categories/${created.id}`);
    expect(created).toMatchObject({
      name: "Crème Brûlée Tools",
      slug: "creme-brulee-tools",
      description: "Torches and ramekins.",
    });
    expect(await jsonOf<CategoryDto>(await api("GET", `/api/v1/categories/${created.id}`), 200)).toEqual(
      created,
    );

    await createCategory({ name: "Audio", slug: "audio" });
    const page = await jsonOf<Page<CategoryDto>>(await api("GET", "/api/v1/categories?limit=100"), 200);
    const names = page.data.map((category) => category.name);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(["Audio", "Crème Brûlée Tools", "Laptops"]));
  });

  it("refuses a name taken in any letter case, and a slug taken, naming the field", async () => {
    const staffApi = as(staff.accessToken);
    const byName = await problemOf(
      await staffApi.post("/api/v1/categories", { body: { name: "LAPTOPS" } }),
      409,
    );
    expect(byName.code).toBe("category_name_taken");
    expect(fieldsOf(byName)).toEqual(["/name"]);
    const bySlug = await problemOf(
      await staffApi.post("/api/v1/categories", { body: { name: "Notebooks", slug: "laptops" } }),
      409,
    );
    expect(bySlug.code).toBe("category_slug_taken");
    expect(fieldsOf(bySlug)).toEqual(["/slug"]);
  });

  it("asks for a slug when none can be made from the name, and checks the slug's shape", async () => {
    const staffApi = as(staff.accessToken);
    const noSlug = await problemOf(
      await staffApi.post("/api/v1/categories", { body: { name: "日本" } }),
      400,
    );
    expect(fieldsOf(noSlug)).toEqual(["/slug"]);
    const made = await jsonOf<CategoryDto>(
      await staffApi.post("/api/v1/categories", { body: { name: "日本", slug: "japan" } }),
      201,
    );
    expect(made.slug).toBe("japan");

    for (const slug of ["Upper", "two--hyphens", "-edge", "spaces here", ""]) {
      const problem = await problemOf(
        await staffApi.post("/api/v1/categories", { body: { name: `Slug ${slug}`, slug } }),
        400,
      );
      expect(fieldsOf(problem), slug).toEqual(["/slug"]);
    }
    const unknown = await problemOf(
      await staffApi.post("/api/v1/categories", { body: { name: "Extra", colour: "red" } }),
      400,
    );
    expect(fieldsOf(unknown)).toEqual(["/colour"]);
  });

  it("staff change one; a taken slug is a 409 and an unknown id a 404", async () => {
    const staffApi = as(staff.accessToken);
    const category = await createCategory();
    const changed = await jsonOf<CategoryDto>(
      await staffApi.patch(`/api/v1/categories/${category.id}`, { body: { description: "Renamed soon." } }),
      200,
    );
    expect(changed.description).toBe("Renamed soon.");
    expect(changed.name).toBe(category.name);
    await problemOf(
      await staffApi.patch(`/api/v1/categories/${category.id}`, { body: { slug: "laptops" } }),
      409,
    );
    await problemOf(await staffApi.patch(`/api/v1/categories/${crypto.randomUUID()}`, { body: {} }), 404);
  });

  it("refuses to delete a category that has products (409 category_in_use), then deletes it once empty", async () => {
    const staffApi = as(staff.accessToken);
    const category = await createCategory();
    const [product] = await seedProducts([
      { name: "Boxed", price: "5.00", categoryId: category.id, createdBy: ownerId },
      { name: "Boxed too", price: "6.00", categoryId: category.id, createdBy: ownerId },
    ]);
    const inUse = await problemOf(await staffApi.delete(`/api/v1/categories/${category.id}`), 409);
    expect(inUse).toMatchObject({ code: "category_in_use", product_count: 2 });

    await db.delete(products).where(eq(products.categoryId, category.id));
    expect(product).toBeDefined();
    const deleted = await staffApi.delete(`/api/v1/categories/${category.id}`);
    expect(deleted.status).toBe(204);
    await problemOf(await api("GET", `/api/v1/categories/${category.id}`), 404);
    await problemOf(await staffApi.delete(`/api/v1/categories/${category.id}`), 404);
  });

  it("answers 400 naming the id when it is not a UUID", async () => {
    const problem = await problemOf(await api("GET", "/api/v1/categories/laptops"), 400);
    expect(fieldsOf(problem)).toEqual(["id"]);
  });

  const staffOnly = async () => ({ authorization: `Bearer ${other.accessToken}` });
  securitySuite("POST /api/v1/categories", {
    method: "POST",
    path: "/api/v1/categories",
    body: { name: "Security" },
    forbidden: staffOnly,
  });
  securitySuite("PATCH /api/v1/categories/{id}", {
    method: "PATCH",
    path: async () => `/api/v1/categories/${(await createCategory()).id}`,
    body: { description: "x" },
    forbidden: staffOnly,
  });
  securitySuite("DELETE /api/v1/categories/{id}", {
    method: "DELETE",
    path: async () => `/api/v1/categories/${(await createCategory()).id}`,
    forbidden: staffOnly,
  });
});

describe("products: create and read", () => {
  it("creates a product owned by the caller, with Location, and anyone reads it", async () => {
    const res = await as(owner.accessToken).post("/api/v1/products", { body: validProduct() });
    const created = await jsonOf<ProductDto>(res, 201);
    expect(res.headers.get("location")).toBe(`/api/v1/products/${created.id}`);
    expect(Object.keys(created).sort()).toEqual(
      [
        "category_id",
        "created_at",
        "created_by",
        "currency",
        "description",
        "id",
        "name",
        "price",
        "updated_at",
      ].sort(),
    );
    expect(created).toMatchObject({ ...validProduct(), created_by: ownerId });
    expect(await jsonOf<ProductDto>(await api("GET", `/api/v1/products/${created.id}`), 200)).toEqual(
      created,
    );

    const [row] = await db.select().from(products).where(eq(products.id, created.id));
    expect(row).toMatchObject({ priceMinor: 189900, priceThousandths: 1899000, currency: "USD" });
  });

  it("stores prices in each currency's minor units and answers them with its exact digits", async () => {
    const cases = [
      { price: "1500", currency: "JPY", minor: 1500, shown: "1500" },
      { price: "12.5", currency: "kwd", minor: 12500, shown: "12.500" },
      { price: "0.5", currency: "EUR", minor: 50, shown: "0.50" },
      { price: "0", currency: "USD", minor: 0, shown: "0.00" },
      { price: "999999999999.99", currency: "USD", minor: 99999999999999, shown: "999999999999.99" },
    ];
    for (const { price, currency, minor, shown } of cases) {
      const created = await createProduct(owner.accessToken, { price, currency });
      expect(created.price, `${price} ${currency}`).toBe(shown);
      expect(created.currency).toBe(currency.toUpperCase());
      const [row] = await db.select().from(products).where(eq(products.id, created.id));
      expect(row?.priceMinor, `${price} ${currency}`).toBe(minor);
    }
  });

  it("refuses prices that are not exact decimal strings for their currency, naming /price", async () => {
    const bad: Array<[unknown, string]> = [
      [1899, "USD"],
      [18.99, "USD"],
      ["18.999", "USD"],
      ["1500.5", "JPY"],
      ["12.5001", "KWD"],
      ["-1.00", "USD"],
      ["1e3", "USD"],
      ["1,000.00", "USD"],
      ["0x10", "USD"],
      [".5", "USD"],
      ["5.", "USD"],
      ["007", "USD"],
      ["9999999999999", "USD"],
      ["", "USD"],
      [null, "USD"],
      ["NaN", "USD"],
    ];
    for (const [price, currency] of bad) {
      const res = await as(owner.accessToken).post("/api/v1/products", {
        body: { ...validProduct(), price, currency },
      });
      const problem = await problemOf(res, 400);
      expect(problem.code, JSON.stringify(price)).toBe("validation_failed");
      expect(fieldsOf(problem), JSON.stringify(price)).toEqual(["/price"]);
    }
    const numeric = await problemOf(
      await as(owner.accessToken).post("/api/v1/products", { body: { ...validProduct(), price: 5 } }),
      400,
    );
    expect(numeric.errors?.[0]?.detail).toMatch(/decimal string/);
  });

  it("refuses unknown currencies, unknown categories, unknown fields and bad names, naming each", async () => {
    const cases: Array<[Record<string, unknown>, string[]]> = [
      [{ currency: "XYZ" }, ["/currency"]],
      [{ currency: "US" }, ["/currency"]],
      [{ currency: 840 }, ["/currency"]],
      [{ category_id: crypto.randomUUID() }, ["/category_id"]],
      [{ category_id: "laptops" }, ["/category_id"]],
      [{ created_by: crypto.randomUUID() }, ["/created_by"]],
      [{ name: "" }, ["/name"]],
      [{ name: "   " }, ["/name"]],
      [{ name: "x".repeat(201) }, ["/name"]],
      [{ name: "Bell\u0007" }, ["/name"]],
      [{ description: "Nul\u0000byte" }, ["/description"]],
      [{ description: "y".repeat(5001) }, ["/description"]],
      [{ name: ["array"] }, ["/name"]],
    ];
    for (const [override, expected] of cases) {
      const res = await as(owner.accessToken).post("/api/v1/products", {
        body: { ...validProduct(), ...override },
      });
      const problem = await problemOf(res, 400);
      expect(fieldsOf(problem), JSON.stringify(override)).toEqual(expected);
    }
    const missing = await problemOf(
      await as(owner.accessToken).post("/api/v1/products", { body: { name: "Only a name" } }),
      400,
    );
    expect(fieldsOf(missing).sort()).toEqual(["/category_id", "/currency", "/price"]);
  });

  it("answers 400 naming the id when it is not a UUID, and 404 for an unknown one", async () => {
    expect(fieldsOf(await problemOf(await api("GET", "/api/v1/products/not-a-uuid"), 400))).toEqual(["id"]);
    expect((await problemOf(await api("GET", `/api/v1/products/${crypto.randomUUID()}`), 404)).code).toBe(
      "not_found",
    );
  });

  it("answers the same for a category's id, and never lets SQL in an id through", async () => {
    expect(fieldsOf(await problemOf(await api("GET", "/api/v1/categories/not-a-uuid"), 400))).toEqual(["id"]);
    expect((await problemOf(await api("GET", `/api/v1/categories/${crypto.randomUUID()}`), 404)).code).toBe(
      "not_found",
    );
    for (const kind of ["products", "categories"]) {
      const injected = `/api/v1/${kind}/${encodeURIComponent("x' or '1'='1")}`;
      expect(fieldsOf(await problemOf(await api("GET", injected), 400)), kind).toEqual(["id"]);
      const long = `/api/v1/${kind}/${"9".repeat(5_000)}`;
      expect(fieldsOf(await problemOf(await api("GET", long), 400)), kind).toEqual(["id"]);
    }
  });
});

describe("products: change and delete", () => {
  it("lets the owner change only the fields sent", async () => {
    const created = await createProduct(owner.accessToken);
    const res = await as(owner.accessToken).patch(`/api/v1/products/${created.id}`, {
      body: { name: "Travel laptop 14 (2027)", price: "1799.5" },
    });
    const changed = await jsonOf<ProductDto>(res, 200);
    expect(changed).toMatchObject({
      ...created,
      name: "Travel laptop 14 (2027)",
      price: "1799.50",
      updated_at: expect.any(String),
    });
    expect(changed.updated_at >= created.updated_at).toBe(true);

    const unchanged = await jsonOf<ProductDto>(
      await as(owner.accessToken).patch(`/api/v1/products/${created.id}`, { body: {} }),
      200,
    );
    expect(unchanged).toEqual(changed);
  });

  it("takes a new currency only with its price, checked against the new currency", async () => {
    const created = await createProduct(owner.accessToken);
    const me = as(owner.accessToken);
    const alone = await problemOf(
      await me.patch(`/api/v1/products/${created.id}`, { body: { currency: "JPY" } }),
      400,
    );
    expect(fieldsOf(alone)).toEqual(["/price"]);
    const tooPrecise = await problemOf(
      await me.patch(`/api/v1/products/${created.id}`, { body: { currency: "JPY", price: "2000.50" } }),
      400,
    );
    expect(fieldsOf(tooPrecise)).toEqual(["/price"]);
    // The stored currency (USD) decides when only the price is sent.
    const storedCurrency = await problemOf(
      await me.patch(`/api/v1/products/${created.id}`, { body: { price: "10.001" } }),
      400,
    );
    expect(fieldsOf(storedCurrency)).toEqual(["/price"]);
    const yen = await jsonOf<ProductDto>(
      await me.patch(`/api/v1/products/${created.id}`, { body: { currency: "jpy", price: "2000" } }),
      200,
    );
    expect(yen).toMatchObject({ price: "2000", currency: "JPY" });
  });

  it("moves a product to another category, and refuses an unknown one naming /category_id", async () => {
    const created = await createProduct(owner.accessToken);
    const target = await createCategory();
    const moved = await jsonOf<ProductDto>(
      await as(owner.accessToken).patch(`/api/v1/products/${created.id}`, {
        body: { category_id: target.id },
      }),
      200,
    );
    expect(moved.category_id).toBe(target.id);
    const unknown = await problemOf(
      await as(owner.accessToken).patch(`/api/v1/products/${created.id}`, {
        body: { category_id: crypto.randomUUID() },
      }),
      400,
    );
    expect(fieldsOf(unknown)).toEqual(["/category_id"]);
  });

  it("answers 403 to another user (the product is public, so not a 404) and changes nothing", async () => {
    const created = await createProduct(owner.accessToken);
    const them = as(other.accessToken);
    const patch = await problemOf(
      await them.patch(`/api/v1/products/${created.id}`, { body: { price: "0.01" } }),
      403,
    );
    expect(patch.code).toBe("forbidden");
    await problemOf(await them.delete(`/api/v1/products/${created.id}`), 403);
    expect(await jsonOf<ProductDto>(await api("GET", `/api/v1/products/${created.id}`), 200)).toEqual(
      created,
    );
  });

  it("lets staff change and delete anyone's product", async () => {
    const created = await createProduct(owner.accessToken);
    const staffApi = as(staff.accessToken);
    const changed = await jsonOf<ProductDto>(
      await staffApi.patch(`/api/v1/products/${created.id}`, { body: { description: "Moderated." } }),
      200,
    );
    expect(changed).toMatchObject({ description: "Moderated.", created_by: ownerId });
    expect((await staffApi.delete(`/api/v1/products/${created.id}`)).status).toBe(204);
    await problemOf(await api("GET", `/api/v1/products/${created.id}`), 404);
  });

  it("lets the owner delete; a second delete and a change of a deleted product are 404s", async () => {
    const created = await createProduct(owner.accessToken);
    const me = as(owner.accessToken);
    expect((await me.delete(`/api/v1/products/${created.id}`)).status).toBe(204);
    await problemOf(await me.delete(`/api/v1/products/${created.id}`), 404);
    await problemOf(await me.patch(`/api/v1/products/${created.id}`, { body: { name: "Back" } }), 404);
  });

  it("erases a user's products with their account, search index included", async () => {
    const { user } = await createUser();
    const tokens = await signIn(user);
    const created = await createProduct(tokens.accessToken, { name: "Quokkaphone ephemeral" });
    const before = await jsonOf<Page<ProductDto>>(await api("GET", "/api/v1/products?q=quokkaphone"), 200);
    expect(before.data.map((product) => product.id)).toEqual([created.id]);

    expect((await as(tokens.accessToken).delete("/api/v1/users/me")).status).toBe(204);
    await problemOf(await api("GET", `/api/v1/products/${created.id}`), 404);
    const after = await jsonOf<Page<ProductDto>>(await api("GET", "/api/v1/products?q=quokkaphone"), 200);
    expect(after).toMatchObject({ data: [], meta: { total: 0 } });
  });

  securitySuite("POST /api/v1/products", { method: "POST", path: "/api/v1/products", body: {} });
  securitySuite("PATCH /api/v1/products/{id}", {
    method: "PATCH",
    path: async () => `/api/v1/products/${(await createProduct(owner.accessToken)).id}`,
    body: { name: "Not yours" },
    forbidden: async () => ({ authorization: `Bearer ${other.accessToken}` }),
  });
  securitySuite("DELETE /api/v1/products/{id}", {
    method: "DELETE",
    path: async () => `/api/v1/products/${(await createProduct(owner.accessToken)).id}`,
    forbidden: async () => ({ authorization: `Bearer ${other.accessToken}` }),
  });
});
