/**
 * The typed client: `hc<AppType>` from hono/client, compiled against the app's
 * route types (so `npm run typecheck` fails when a route and its callers drift
 * apart) and run against the Worker itself through a custom fetch.
 */
import { exports } from "cloudflare:workers";
import { hc } from "hono/client";
import { beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import type { AppType } from "../src/app";
import { createCategory } from "./catalog.fixtures";
import { createUser, signIn } from "./support/factories";
import { testIp } from "./support/http";

/** What an integrator writes, with the Worker's own fetch in place of the network. */
const client = hc<AppType>("http://localhost", {
  fetch: (input: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(input, init),
  // A fresh address per request, as test/support/http.ts does, so the per-IP limit stays out of it.
  headers: () => ({ "cf-connecting-ip": testIp() }),
});

let auth: { headers: { authorization: string } };
let categoryId: string;

beforeAll(async () => {
  const { user } = await createUser();
  auth = { headers: { authorization: `Bearer ${(await signIn(user)).accessToken}` } };
  categoryId = (await createCategory()).id;
});

describe("hc<AppType>", () => {
  it("creates, reads, searches, changes and deletes a product with request and response types", async () => {
    const created = await client.api.v1.products.$post(
      { json: { name: "Typed kettle", price: "39.90", currency: "EUR", category_id: categoryId } },
      auth,
    );
    expect(created.status).toBe(201);
    if (created.status !== 201) return;
    const product = await created.json();
    expectTypeOf(product.price).toEqualTypeOf<string>();
    expectTypeOf(product.created_by).toEqualTypeOf<string>();
    expect(product).toMatchObject({ name: "Typed kettle", price: "39.90", currency: "EUR" });

    const read = await client.api.v1.products[":id"].$get({ param: { id: product.id } });
    expect(read.status).toBe(200);
    if (read.status === 200) expect((await read.json()).id).toBe(product.id);

    const page = await client.api.v1.products.$get({
      query: { q: "kettle", sort: "-price", "filter[price][gte]": "10" },
    });
    expect(page.status).toBe(200);
    if (page.status === 200) {
      const body = await page.json();
      expectTypeOf(body.meta.next).toEqualTypeOf<string | null>();
      expect(body.data.map((item) => item.id)).toEqual([product.id]);
    }

    const changed = await client.api.v1.products[":id"].$patch(
      { param: { id: product.id }, json: { price: "35.00" } },
      auth,
    );
    expect(changed.status).toBe(200);
    if (changed.status === 200) expect((await changed.json()).price).toBe("35.00");

    const deleted = await client.api.v1.products[":id"].$delete({ param: { id: product.id } }, auth);
    expect(deleted.status).toBe(204);
  });

  it("types the request body: a price must be a decimal string", async () => {
    const res = await client.api.v1.products.$post(
      // @ts-expect-error price is a decimal string, not a number (a float cannot carry money exactly)
      { json: { name: "Untyped", price: 39.9, currency: "EUR", category_id: categoryId } },
      auth,
    );
    expect(res.status).toBe(400);
  });

  it("carries the other modules' routes too", async () => {
    const res = await client.api.v1.users.me.$get({}, auth);
    expect(res.status).toBe(200);
    if (res.status === 200) {
      const me = await res.json();
      expectTypeOf(me.email).toEqualTypeOf<string>();
      expect(me.email).toMatch(/@example\.test$/);
    }
    const categories = await client.api.v1.categories.$get({ query: {} });
    expect(categories.status).toBe(200);
  });
});
