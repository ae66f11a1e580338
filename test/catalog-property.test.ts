/**
 * Property: whatever JSON a client sends to the product routes (or whatever
 * query it lists with), the answer is a success or a 4xx problem naming what was
 * wrong, never a 500. Runs are bounded (a few hundred requests in all) and each
 * anonymous request comes from a fresh address, so rate limits stay out of it.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import type { ProductDto } from "../src/modules/catalog/products.schemas";
import { createCategory } from "./catalog.fixtures";
import { createUser, signIn } from "./support/factories";
import { api, jsonOf } from "./support/http";

const PROBLEM_CODES = new Set([
  "validation_failed",
  "malformed_json",
  "invalid_cursor",
  "idempotency_key_reused",
  "idempotency_request_in_progress",
]);

let categoryId: string;

beforeAll(async () => {
  categoryId = (await createCategory()).id;
});

/** A fresh signed-in user per property: each stays far below the per-user rate limit. */
async function freshToken(): Promise<string> {
  const { user } = await createUser();
  return (await signIn(user)).accessToken;
}

/** Asserts the "never a 500" contract and that refusals are well-formed problems. */
async function expectHandled(res: Response, label: string): Promise<void> {
  expect(res.status, label).toBeLessThan(500);
  if (res.status >= 400) {
    expect(res.headers.get("content-type"), label).toMatch(/^application\/problem\+json/);
    const problem = (await res.json()) as { code: string; status: number };
    expect(problem.status, label).toBe(res.status);
    expect(PROBLEM_CODES.has(problem.code), `${label}: ${problem.code}`).toBe(true);
  } else {
    await res.body?.cancel();
  }
}

/** Values that look like what the routes expect, near misses, and anything at all. */
const fieldValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.stringMatching(/^-?\d{0,14}(\.\d{0,5})?$/),
  fc.constantFrom("USD", "usd", "JPY", "KWD", "XYZ", "", "0.00", "999.99", "1e3", "NaN", "\u0000"),
  fc.string({ maxLength: 300 }),
  fc.uuid(),
);

const productLike = fc.dictionary(
  fc.oneof(
    fc.constantFrom("name", "description", "price", "currency", "category_id", "created_by", "id"),
    fc.string(),
  ),
  fieldValue,
  { maxKeys: 8 },
);

/** A valid product with one field replaced or added: reaches the service far more often than noise does. */
const nearlyValid = () =>
  fc
    .tuple(fc.constantFrom("name", "description", "price", "currency", "category_id", "extra"), fieldValue)
    .map(([field, value]) => ({
      name: "Probe",
      price: "10.00",
      currency: "USD",
      category_id: categoryId,
      [field]: value,
    }));

/** Header-safe text (no NUL, CR or LF): anything else fetch itself refuses to send. */
const headerValue = fc
  .string({ unit: "binary-ascii", maxLength: 300 })
  .filter((value) => !/[\0\r\n]/.test(value));

describe("product routes never answer 500", () => {
  it("POST /api/v1/products with arbitrary JSON bodies and Idempotency-Keys", async () => {
    const token = await freshToken();
    const statuses = new Set<number>();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.jsonValue({ maxDepth: 3 }), productLike, nearlyValid()),
        fc.option(headerValue, { nil: undefined }),
        async (body, key) => {
          const headers: Record<string, string> = {};
          if (key !== undefined) headers["idempotency-key"] = key;
          const res = await api("POST", "/api/v1/products", { token, body, headers });
          statuses.add(res.status);
          await expectHandled(res, JSON.stringify({ body, key }));
        },
      ),
      { numRuns: 200 },
    );
    // Both outcomes were exercised: the property did not pass by refusing everything.
    expect(statuses).toContain(201);
    expect(statuses).toContain(400);
  });

  it("PATCH /api/v1/products/{id} with arbitrary JSON bodies", async () => {
    const token = await freshToken();
    const product = await jsonOf<ProductDto>(
      await api("POST", "/api/v1/products", {
        token,
        body: { name: "Target", price: "10.00", currency: "USD", category_id: categoryId },
      }),
      201,
    );
    const statuses = new Set<number>();
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.jsonValue({ maxDepth: 3 }), productLike, nearlyValid()), async (body) => {
        const res = await api("PATCH", `/api/v1/products/${product.id}`, { token, body });
        statuses.add(res.status);
        await expectHandled(res, JSON.stringify(body));
      }),
      { numRuns: 150 },
    );
    expect(statuses).toContain(200);
    expect(statuses).toContain(400);
  });

  it("POST and PATCH with bodies that are not JSON at all", async () => {
    const token = await freshToken();
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 200 }),
        fc.constantFrom("POST", "PATCH"),
        async (raw, method) => {
          const path = method === "POST" ? "/api/v1/products" : `/api/v1/products/${crypto.randomUUID()}`;
          const res = await api(method, path, {
            token,
            rawBody: raw,
            headers: { "content-type": "application/json" },
          });
          // A 404 is the right answer to a well-formed PATCH of a product that does not exist.
          if (res.status === 404) return void (await res.body?.cancel());
          await expectHandled(res, JSON.stringify(raw));
        },
      ),
      { numRuns: 60 },
    );
  });

  it("GET /api/v1/products with arbitrary search, filter, sort, limit and cursor values", async () => {
    const name = fc.constantFrom(
      "q",
      "sort",
      "limit",
      "cursor",
      "filter[category_id]",
      "filter[price][gte]",
      "filter[price][lte]",
      "filter[price]",
      "filter[name]",
    );
    await fc.assert(
      fc.asyncProperty(fc.dictionary(name, fc.string({ maxLength: 120 }), { maxKeys: 5 }), async (query) => {
        const res = await api("GET", `/api/v1/products?${new URLSearchParams(query)}`);
        await expectHandled(res, JSON.stringify(query));
      }),
      { numRuns: 120 },
    );
  });
});
