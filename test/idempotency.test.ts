/**
 * Idempotency-Key through HTTP on the catalog's POST and PATCH routes: replays,
 * reuse with another body, concurrent requests with one key, a crashed holder,
 * expiry and the cron clean-up, the header's format, and the OpenAPI document.
 */
import { count, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { idempotencyRecords, products } from "../src/db/schema";
import { requestFingerprint } from "../src/lib/idempotency/fingerprint";
import { purgeIdempotencyRecordsJob } from "../src/lib/idempotency/purge.cron";
import { IDEMPOTENCY_LEASE_MS, IDEMPOTENCY_TTL_MS } from "../src/lib/idempotency/records";
import { uuidv7 } from "../src/lib/ids";
import type { ProductDto } from "../src/modules/catalog/products.schemas";
import { wiring } from "../src/modules/wiring";
import { createCategory, db } from "./catalog.fixtures";
import { runCron } from "./support/background";
import { createStaff, createUser, signIn, type Tokens } from "./support/factories";
import { api, as, jsonOf, problemOf } from "./support/http";

let alice: Tokens;
let aliceId: string;
let bob: Tokens;
let staff: Tokens;
let categoryId: string;

beforeAll(async () => {
  const [a, b, s] = await Promise.all([createUser(), createUser(), createStaff()]);
  aliceId = a.user.id;
  [alice, bob, staff] = await Promise.all([signIn(a.user), signIn(b.user), signIn(s.user)]);
  categoryId = (await createCategory()).id;
});

const newKey = () => crypto.randomUUID();
const productBody = (name: string) => ({ name, price: "49.90", currency: "EUR", category_id: categoryId });

async function productsNamed(name: string): Promise<number> {
  const [row] = await db.select({ value: count() }).from(products).where(eq(products.name, name));
  return row?.value ?? 0;
}

function postProduct(token: string, key: string, body: unknown) {
  return as(token).post("/api/v1/products", { body, headers: { "Idempotency-Key": key } });
}

describe("Idempotency-Key on POST", () => {
  it("runs two identical POSTs once: the second is the first's response, replayed", async () => {
    const key = newKey();
    const body = productBody(`Replayed ${key}`);
    const first = await postProduct(alice.accessToken, key, body);
    const firstBody = await jsonOf<ProductDto>(first, 201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();

    const second = await postProduct(alice.accessToken, key, body);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(await jsonOf<ProductDto>(second, 201)).toEqual(firstBody);
    expect(second.headers.get("location")).toBe(first.headers.get("location"));
    expect(second.headers.get("content-type")).toBe(first.headers.get("content-type"));
    // The retry is still a request of its own: its id and rate-limit headers are fresh.
    expect(second.headers.get("x-request-id")).not.toBe(first.headers.get("x-request-id"));
    expect(second.headers.get("x-ratelimit-remaining")).not.toBeNull();

    expect(await productsNamed(body.name)).toBe(1);
    const [record] = await db.select().from(idempotencyRecords).where(eq(idempotencyRecords.key, key));
    expect(record).toMatchObject({
      scope: `user:${aliceId}`,
      method: "POST",
      route: "/api/v1/products",
      responseStatus: 201,
      lockId: null,
    });
    expect((record?.expiresAt.getTime() ?? 0) - (record?.createdAt.getTime() ?? 0)).toBe(IDEMPOTENCY_TTL_MS);
  });

  it("answers 422 idempotency_key_reused to the same key with another body, and creates nothing", async () => {
    const key = newKey();
    await jsonOf(await postProduct(alice.accessToken, key, productBody(`Original ${key}`)), 201);
    const res = await postProduct(alice.accessToken, key, productBody(`Different ${key}`));
    const problem = await problemOf(res, 422);
    expect(problem.code).toBe("idempotency_key_reused");
    expect(problem.errors).toEqual([
      { parameter: "Idempotency-Key", location: "header", detail: expect.any(String) },
    ]);
    expect(await productsNamed(`Different ${key}`)).toBe(0);

    // The same JSON spelled differently is a different request: the fingerprint is of the raw body.
    const reordered = await as(alice.accessToken).post("/api/v1/products", {
      rawBody: JSON.stringify({ ...productBody(`Original ${key}`) }, null, 2),
      headers: { "Idempotency-Key": key, "content-type": "application/json" },
    });
    expect((await problemOf(reordered, 422)).code).toBe("idempotency_key_reused");
  });

  it("lets exactly one of several concurrent POSTs with one key run; the others get 409 or the replay", async () => {
    for (let round = 0; round < 3; round++) {
      const key = newKey();
      const body = productBody(`Concurrent ${key}`);
      const responses = await Promise.all(
        Array.from({ length: 6 }, () => postProduct(alice.accessToken, key, body)),
      );
      const created: ProductDto[] = [];
      let ran = 0;
      for (const res of responses) {
        if (res.status === 409) {
          expect(res.headers.get("retry-after")).toBe("1");
          expect((await problemOf(res, 409)).code).toBe("idempotency_request_in_progress");
          continue;
        }
        created.push(await jsonOf<ProductDto>(res, 201));
        if (res.headers.get("idempotent-replayed") !== "true") ran += 1;
      }
      expect(ran, `round ${round}`).toBe(1);
      expect(new Set(created.map((product) => product.id)).size).toBe(1);
      expect(await productsNamed(body.name)).toBe(1);
    }
  });

  it("scopes keys to the caller: another user's identical request with the same key runs on its own", async () => {
    const key = newKey();
    const body = productBody(`Shared key ${key}`);
    const mine = await jsonOf<ProductDto>(await postProduct(alice.accessToken, key, body), 201);
    const theirs = await postProduct(bob.accessToken, key, body);
    expect(theirs.headers.get("idempotent-replayed")).toBeNull();
    const theirsBody = await jsonOf<ProductDto>(theirs, 201);
    expect(theirsBody.id).not.toBe(mine.id);
    expect(await productsNamed(body.name)).toBe(2);
  });

  it("scopes keys to the route: one key on two routes is two keys", async () => {
    const key = newKey();
    const category = await as(staff.accessToken).post("/api/v1/categories", {
      body: { name: `Scoped ${key}` },
      headers: { "Idempotency-Key": key },
    });
    await jsonOf(category, 201);
    const product = await postProduct(staff.accessToken, key, productBody(`Scoped ${key}`));
    expect(product.headers.get("idempotent-replayed")).toBeNull();
    await jsonOf(product, 201);
  });

  it("does not store a validation failure: the key stays free for the corrected request", async () => {
    const key = newKey();
    const invalid = await postProduct(alice.accessToken, key, {
      ...productBody("Fixed later"),
      price: "4.999",
    });
    expect((await problemOf(invalid, 400)).code).toBe("validation_failed");
    const unknownCategory = await postProduct(alice.accessToken, key, {
      ...productBody("Fixed later"),
      category_id: crypto.randomUUID(),
    });
    expect((await problemOf(unknownCategory, 400)).code).toBe("validation_failed");
    const fixed = await postProduct(alice.accessToken, key, productBody(`Fixed ${key}`));
    expect(fixed.headers.get("idempotent-replayed")).toBeNull();
    await jsonOf(fixed, 201);
  });

  it("does not claim a key for a request its guards refuse (401)", async () => {
    const key = newKey();
    const refused = await api("POST", "/api/v1/products", {
      body: productBody(`Guarded ${key}`),
      headers: { "Idempotency-Key": key },
    });
    await problemOf(refused, 401);
    const rows = await db.select().from(idempotencyRecords).where(eq(idempotencyRecords.key, key));
    expect(rows).toEqual([]);
  });
});

describe("Idempotency-Key on PATCH", () => {
  it("replays the stored answer, not the product's current state", async () => {
    const created = await jsonOf<ProductDto>(
      await as(alice.accessToken).post("/api/v1/products", { body: productBody("Patched") }),
      201,
    );
    const key = newKey();
    const patch = () =>
      as(alice.accessToken).patch(`/api/v1/products/${created.id}`, {
        body: { price: "39.90" },
        headers: { "Idempotency-Key": key },
      });
    const first = await jsonOf<ProductDto>(await patch(), 200);
    expect(first.price).toBe("39.90");
    await jsonOf(
      await as(alice.accessToken).patch(`/api/v1/products/${created.id}`, { body: { price: "29.90" } }),
      200,
    );
    const retry = await patch();
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(await jsonOf<ProductDto>(retry, 200)).toEqual(first);

    // Same key, same body, another product: a different request.
    const other = await jsonOf<ProductDto>(
      await as(alice.accessToken).post("/api/v1/products", { body: productBody("Patched too") }),
      201,
    );
    const elsewhere = await as(alice.accessToken).patch(`/api/v1/products/${other.id}`, {
      body: { price: "39.90" },
      headers: { "Idempotency-Key": key },
    });
    expect((await problemOf(elsewhere, 422)).code).toBe("idempotency_key_reused");
  });

  it("stores an error the handler answered (403) and replays it", async () => {
    const created = await jsonOf<ProductDto>(
      await as(alice.accessToken).post("/api/v1/products", { body: productBody("Not Bob's") }),
      201,
    );
    const key = newKey();
    const attempt = () =>
      as(bob.accessToken).patch(`/api/v1/products/${created.id}`, {
        body: { price: "0.01" },
        headers: { "Idempotency-Key": key },
      });
    const first = await problemOf(await attempt(), 403);
    const retry = await attempt();
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(retry.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(await problemOf(retry, 403)).toEqual(first);
  });
});

describe("Idempotency-Key: holders that crashed, and expiry", () => {
  async function stage(
    key: string,
    body: unknown,
    fields: Partial<typeof idempotencyRecords.$inferInsert>,
  ): Promise<void> {
    const now = Date.now();
    await db.insert(idempotencyRecords).values({
      id: uuidv7(),
      scope: `user:${aliceId}`,
      method: "POST",
      route: "/api/v1/products",
      key,
      fingerprint: await requestFingerprint("POST", "/api/v1/products", JSON.stringify(body)),
      lockId: "held-by-another-request",
      lockedUntil: new Date(now + IDEMPOTENCY_LEASE_MS),
      createdAt: new Date(now),
      expiresAt: new Date(now + IDEMPOTENCY_TTL_MS),
      ...fields,
    });
  }

  it("answers 409 with Retry-After while another request holds the key", async () => {
    const key = newKey();
    const body = productBody(`Held ${key}`);
    await stage(key, body, {});
    const res = await postProduct(alice.accessToken, key, body);
    expect(res.headers.get("retry-after")).toBe("1");
    expect((await problemOf(res, 409)).code).toBe("idempotency_request_in_progress");
    expect(await productsNamed(body.name)).toBe(0);
    // Even while held, another body under the key is a 422, not a 409.
    expect((await problemOf(await postProduct(alice.accessToken, key, productBody("x")), 422)).code).toBe(
      "idempotency_key_reused",
    );
  });

  it("takes over a claim whose lease lapsed (its request crashed) and runs the request", async () => {
    const key = newKey();
    const body = productBody(`Crashed ${key}`);
    await stage(key, body, { lockedUntil: new Date(Date.now() - 1) });
    const res = await postProduct(alice.accessToken, key, body);
    expect(res.headers.get("idempotent-replayed")).toBeNull();
    await jsonOf(res, 201);
    expect(await productsNamed(body.name)).toBe(1);
    const [record] = await db.select().from(idempotencyRecords).where(eq(idempotencyRecords.key, key));
    expect(record).toMatchObject({ responseStatus: 201, lockId: null });
    const retry = await postProduct(alice.accessToken, key, body);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
  });

  it("treats an expired key as unused, whatever it was used for", async () => {
    const key = newKey();
    await stage(key, productBody("Long ago"), {
      lockId: null,
      lockedUntil: null,
      responseStatus: 201,
      responseHeaders: [["content-type", "application/json"]],
      responseBody: "{}",
      createdAt: new Date(Date.now() - IDEMPOTENCY_TTL_MS - 60_000),
      expiresAt: new Date(Date.now() - 60_000),
    });
    const body = productBody(`Fresh ${key}`);
    const res = await postProduct(alice.accessToken, key, body);
    expect(res.headers.get("idempotent-replayed")).toBeNull();
    await jsonOf(res, 201);
    expect(await productsNamed(body.name)).toBe(1);
  });

  it("is cleaned by the hourly cron job: expired records go, live ones stay", async () => {
    expect(wiring.maintenanceJobs).toContain(purgeIdempotencyRecordsJob);
    const expiredKeys = Array.from({ length: 3 }, newKey);
    for (const key of expiredKeys) {
      await stage(key, {}, { expiresAt: new Date(Date.now() - 1_000), lockId: null, lockedUntil: null });
    }
    const liveKey = newKey();
    await stage(liveKey, {}, {});

    // The next whole hour: a minute at which the hourly job is due.
    const nextHour = Math.ceil(Date.now() / 3_600_000) * 3_600_000;
    const outcomes = await runCron(nextHour, { jobs: [purgeIdempotencyRecordsJob] });
    expect(outcomes).toEqual([
      { job: "idempotency.purge_expired", ok: true, result: { removed: expect.any(Number) } },
    ]);
    const left = await db.select({ key: idempotencyRecords.key }).from(idempotencyRecords);
    const keys = left.map((row) => row.key);
    for (const key of expiredKeys) expect(keys).not.toContain(key);
    expect(keys).toContain(liveKey);
  });
});

describe("Idempotency-Key header format", () => {
  it("refuses an empty, overlong or non-printable key with a 400 naming the header", async () => {
    for (const key of ["", "k".repeat(256), "tab\there", "del\u007f"]) {
      const res = await postProduct(alice.accessToken, key, productBody("Bad key"));
      const problem = await problemOf(res, 400);
      expect(problem.code, JSON.stringify(key)).toBe("validation_failed");
      expect(problem.errors, JSON.stringify(key)).toEqual([
        { parameter: "Idempotency-Key", location: "header", detail: expect.any(String) },
      ]);
    }
    expect(await productsNamed("Bad key")).toBe(0);
  });

  it("accepts 255 printable characters, spaces and punctuation included", async () => {
    const key = `${"~ !#".repeat(63)}abc`;
    expect(key).toHaveLength(255);
    const body = productBody(`Long key ${newKey()}`);
    await jsonOf(await postProduct(alice.accessToken, key, body), 201);
    expect((await postProduct(alice.accessToken, key, body)).headers.get("idempotent-replayed")).toBe("true");
  });
});

describe("Idempotency-Key in the OpenAPI document", () => {
  type Operation = {
    parameters?: Array<{ name: string; in: string }>;
    responses: Record<string, { description: string }>;
  };

  it("is documented with its 409 and 422 on the POST and PATCH routes, and on nothing else", async () => {
    const doc = (await (await api("GET", "/api/openapi.json")).json()) as {
      paths: Record<string, Record<string, Operation>>;
    };
    // Routes declared with defineRoute() get it; the OAuth token endpoint (RFC 6749, form bodies)
    // is declared with createRoute() and keeps the behaviour that RFC defines.
    // Token answers are no-store credentials; Stripe webhooks are de-duplicated by event id instead.
    const exempt = new Set(["post /api/v1/oauth/token", "post /api/v1/webhooks/stripe"]);
    const documentedWrites: string[] = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        const label = `${method} ${path}`;
        const documented = (operation.parameters ?? []).some(
          (parameter) => parameter.name === "Idempotency-Key" && parameter.in === "header",
        );
        if ((method === "post" || method === "patch") && !exempt.has(label)) {
          expect(documented, label).toBe(true);
          expect(operation.responses["409"]?.description, label).toMatch(/idempotency_request_in_progress/);
          expect(operation.responses["422"]?.description, label).toMatch(/idempotency_key_reused/);
          documentedWrites.push(label);
        } else {
          expect(documented, label).toBe(false);
        }
      }
    }
    expect(documentedWrites).toEqual(
      expect.arrayContaining([
        "post /api/v1/products",
        "patch /api/v1/products/{id}",
        "post /api/v1/categories",
        "patch /api/v1/categories/{id}",
        "patch /api/v1/users/me",
      ]),
    );
    // A route's own 409 keeps its meaning, with the idempotency one added.
    expect(doc.paths["/api/v1/categories"]?.post?.responses["409"]?.description).toMatch(
      /category_name_taken/,
    );
  });
});
