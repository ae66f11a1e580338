/**
 * What the scenarios need, created through the public API as a client would (ctx.api) and
 * shared between scenarios with ctx.once(), so each is made once per worker:
 *
 * - benchUser(): a registered account, its access token and its personal organization;
 * - benchApiKey(): an API key of that organization, with the given scopes (and own limit);
 * - staffToken(): an access token of a staff account, for the catalog's staff-only writes;
 * - seedCatalog(): CATALOG_CATEGORIES categories and CATALOG_PRODUCTS products.
 *
 * One step is not an API call: making an account staff. No public route grants `is_staff`
 * (by design), so staffToken() sets it with `wrangler d1 execute` on the worker's local
 * database (ctx.d1), as `npm run db:seed:local` does, then signs in again for a token
 * that carries the claim.
 */
import type { ScenarioContext } from "./scenarios.ts";

export const CATALOG_CATEGORIES = 8;
export const CATALOG_PRODUCTS = 10_000;
/** Concurrent POST /products while seeding: enough to keep both workerd busy, few enough not to queue for long. */
const SEED_CONCURRENCY = 16;

export type BenchUser = {
  email: string;
  password: string;
  userId: string;
  accessToken: string;
  /** The personal organization every account gets at sign-up. */
  orgId: string;
};

const uniqueSuffix = () => `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

/** A new account through POST /auth/register; `label` only makes the address readable in logs. */
export async function registerUser(ctx: ScenarioContext, label: string): Promise<BenchUser> {
  const email = `bench-${label}-${uniqueSuffix()}@example.com`;
  const password = `bench ${Math.random().toString(36).slice(2)} long passphrase`;
  const registered = await ctx.api(
    "POST",
    "/api/v1/auth/register",
    { email, password, password_confirm: password },
    201,
  );
  const body = registered.body as { user: { id: string }; access_token: string };
  const orgs = await ctx.api("GET", "/api/v1/orgs", undefined, 200, bearer(body.access_token));
  const personal = (orgs.body as { data: Array<{ id: string; is_personal: boolean }> }).data.find(
    (org) => org.is_personal,
  );
  if (!personal) throw new Error(`${email} has no personal organization in GET /api/v1/orgs`);
  return { email, password, userId: body.user.id, accessToken: body.access_token, orgId: personal.id };
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** The account most scenarios act as. */
export function benchUser(ctx: ScenarioContext): Promise<BenchUser> {
  return ctx.once("user", () => registerUser(ctx, "user"));
}

/**
 * An API key of benchUser()'s personal organization (POST /orgs/{org_id}/api-keys), created once
 * per `name`. `rateLimit` is the key's own limit, which replaces the `api_key` policy for it.
 */
export function benchApiKey(
  ctx: ScenarioContext,
  name: string,
  scopes: string[],
  rateLimit?: { limit: number; window_seconds: number },
): Promise<{ key: string; orgId: string }> {
  return ctx.once(`api-key:${name}`, async () => {
    const user = await benchUser(ctx);
    const created = await ctx.api(
      "POST",
      `/api/v1/orgs/${user.orgId}/api-keys`,
      { name: `bench ${name}`, scopes, ...(rateLimit ? { rate_limit: rateLimit } : {}) },
      201,
      bearer(user.accessToken),
    );
    return { key: (created.body as { key: string }).key, orgId: user.orgId };
  });
}

/** A staff account's access token: registered through the API, made staff in D1 (see above), signed in again. */
export function staffToken(ctx: ScenarioContext): Promise<string> {
  return ctx.once("staff", async () => {
    const staff = await registerUser(ctx, "staff");
    ctx.d1(`UPDATE users SET is_staff = 1 WHERE id = '${staff.userId.replaceAll("'", "''")}'`);
    const login = await ctx.api("POST", "/api/v1/auth/login", {
      email: staff.email,
      password: staff.password,
    });
    if (login.status !== 200) throw new Error(`staff sign-in answered ${login.status}`);
    return (login.body as { access_token: string }).access_token;
  });
}

const ADJECTIVES = [
  "Travel",
  "Compact",
  "Rugged",
  "Silent",
  "Wireless",
  "Solar",
  "Classic",
  "Pro",
  "Mini",
  "Ultra",
];
const NOUNS = [
  "laptop",
  "kettle",
  "backpack",
  "speaker",
  "lamp",
  "drone",
  "keyboard",
  "jacket",
  "camera",
  "bottle",
];
const CURRENCIES = ["USD", "EUR", "GBP"];

/** The element of `list` at `fraction` (0 ≤ fraction < 1) of its length. */
const pick = (list: readonly string[], fraction: number): string =>
  list[Math.floor(fraction * list.length)] as string;

/** Runs `work` over 0..count-1 with at most `concurrency` in flight; the first failure stops it. */
async function inParallel(count: number, concurrency: number, work: (index: number) => Promise<void>) {
  let next = 0;
  const lane = async () => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
}

export type Catalog = { categoryIds: string[]; products: number; seedSeconds: number };

/**
 * CATALOG_CATEGORIES categories (staff) and CATALOG_PRODUCTS products spread evenly over them,
 * with prices from 1.00 to 2,000.00 and words that full-text search can find, all through
 * POST /api/v1/categories and POST /api/v1/products. Products are created by benchUser(): any
 * signed-in person may.
 */
export function seedCatalog(ctx: ScenarioContext): Promise<Catalog> {
  return ctx.once("catalog", async () => {
    const started = performance.now();
    const staff = await staffToken(ctx);
    const suffix = uniqueSuffix();
    const categoryIds: string[] = [];
    for (let i = 0; i < CATALOG_CATEGORIES; i++) {
      const created = await ctx.api(
        "POST",
        "/api/v1/categories",
        { name: `Bench ${i} ${suffix}`, description: "Seeded by npm run bench." },
        201,
        bearer(staff),
      );
      categoryIds.push((created.body as { id: string }).id);
    }
    const owner = await benchUser(ctx);
    let random = 0x2545f491; // xorshift32: the same catalog on every run
    const nextRandom = () => {
      random ^= random << 13;
      random ^= random >>> 17;
      random ^= random << 5;
      return (random >>> 0) / 2 ** 32;
    };
    const bodies = Array.from({ length: CATALOG_PRODUCTS }, (_, i) => {
      const adjective = pick(ADJECTIVES, nextRandom());
      const noun = pick(NOUNS, nextRandom());
      const cents = 100 + Math.floor(nextRandom() * 199_900);
      return JSON.stringify({
        name: `${adjective} ${noun} ${i}`,
        description: `A ${adjective.toLowerCase()} ${noun} for the benchmark, item ${i} of ${CATALOG_PRODUCTS}.`,
        price: (cents / 100).toFixed(2),
        currency: CURRENCIES[i % CURRENCIES.length],
        category_id: categoryIds[i % CATALOG_CATEGORIES],
      });
    });
    await inParallel(CATALOG_PRODUCTS, SEED_CONCURRENCY, async (i) => {
      await ctx.api("POST", "/api/v1/products", bodies[i], 201, bearer(owner.accessToken));
    });
    const seedSeconds = Math.round((performance.now() - started) / 100) / 10;
    console.log(
      `  seeded ${CATALOG_PRODUCTS} products in ${CATALOG_CATEGORIES} categories through the API in ${seedSeconds} s`,
    );
    return { categoryIds, products: CATALOG_PRODUCTS, seedSeconds };
  });
}
