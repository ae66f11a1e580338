/**
 * GET /api/v1/products against a seeded set: every combination of filters,
 * search and sort is checked for membership and order (including ties, broken by
 * id) against the same rules computed here; cursors walk the whole set without
 * gaps or repeats while rows are being inserted; every bad parameter is a 400.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Product } from "../src/db/schema";
import { amountToThousandths } from "../src/modules/catalog/money";
import type { ProductDto } from "../src/modules/catalog/products.schemas";
import { createCategory, seedProducts } from "./catalog.fixtures";
import { createUser } from "./support/factories";
import { api, fieldsOf, jsonOf, type Page, type Problem, problemOf } from "./support/http";

const WORDS = ["laptop", "lamp", "phone", "cable", "desk", "chair", "crème", "brûlée", "pro", "mini"];
const CURRENCIES = [
  { code: "USD", prices: ["0.00", "9.99", "10.00", "10.01", "199.50", "500.50", "1899.00"] },
  { code: "JPY", prices: ["10", "500", "1500", "250000"] },
  { code: "KWD", prices: ["9.999", "10.000", "12.500"] },
  { code: "EUR", prices: ["10.00", "500.51", "75.25"] },
];

let seeded: Product[] = [];
let categoryIds: string[] = [];

beforeAll(async () => {
  const { user } = await createUser();
  categoryIds = [(await createCategory()).id, (await createCategory()).id, (await createCategory()).id];
  const base = Date.UTC(2026, 10, 1);
  const seeds = Array.from({ length: 72 }, (_, i) => {
    const currency = CURRENCIES[i % CURRENCIES.length] as (typeof CURRENCIES)[number];
    return {
      // Names repeat (every 24th) so that sorting by name needs the id tie-breaker.
      name: `${WORDS[i % WORDS.length]} ${WORDS[(i * 3 + 1) % WORDS.length]} ${i % 24}`,
      description:
        i % 5 === 0 ? "Pro grade, crème finish." : `Item ${i} of the ${WORDS[(i * 7) % WORDS.length]} line`,
      price: currency.prices[Math.floor(i / 4) % currency.prices.length] as string,
      currency: currency.code,
      categoryId: categoryIds[i % 3] as string,
      createdBy: user.id,
      // Pairs share a timestamp: created_at ties are broken by id too.
      createdAt: new Date(base + Math.floor(i / 2) * 60_000),
    };
  });
  seeded = await seedProducts(seeds);
  expect(seeded).toHaveLength(72);
});

// ---------------------------------------------------------------------------
// The rules, computed here from the rows

/** Lower-case, accents removed: what unicode61 remove_diacritics compares. */
const fold = (text: string) => text.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();
const wordsOf = (text: string) => fold(text).match(/[\p{L}\p{N}]+/gu) ?? [];

function matchesSearch(product: Product, q: string): boolean {
  const words = [...wordsOf(product.name), ...wordsOf(product.description)];
  return wordsOf(q).every((term) => words.some((word) => word.startsWith(term)));
}

type Filters = { category?: string; gte?: string; lte?: string; q?: string };
type SortKey = { field: "name" | "price" | "created_at"; desc: boolean };

const sortValue = (product: Product, field: SortKey["field"]): string | number =>
  field === "name"
    ? product.name
    : field === "price"
      ? product.priceThousandths
      : product.createdAt.getTime();

/** SQLite compares TEXT by bytes; for this ASCII-and-Latin data that is code-point order, as here. */
function compare(a: string | number, b: string | number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function expected(filters: Filters, sort: SortKey[]): Product[] {
  const gte = filters.gte === undefined ? undefined : amountToThousandths(filters.gte);
  const lte = filters.lte === undefined ? undefined : amountToThousandths(filters.lte);
  const tieDesc = sort.at(-1)?.desc ?? false;
  return seeded
    .filter((p) => filters.category === undefined || p.categoryId === filters.category)
    .filter((p) => gte == null || p.priceThousandths >= gte)
    .filter((p) => lte == null || p.priceThousandths <= lte)
    .filter((p) => filters.q === undefined || matchesSearch(p, filters.q))
    .sort((a, b) => {
      for (const term of sort) {
        const order = compare(sortValue(a, term.field), sortValue(b, term.field));
        if (order !== 0) return term.desc ? -order : order;
      }
      return tieDesc ? compare(b.id, a.id) : compare(a.id, b.id);
    });
}

function queryString(filters: Filters, sort: string, limit: number): string {
  const params = new URLSearchParams({ sort, limit: String(limit) });
  if (filters.category) params.set("filter[category_id]", filters.category);
  if (filters.gte) params.set("filter[price][gte]", filters.gte);
  if (filters.lte) params.set("filter[price][lte]", filters.lte);
  if (filters.q) params.set("q", filters.q);
  return params.toString();
}

/** Follows meta.next (checking the Link header agrees) until the last page. */
async function walk(query: string): Promise<{ ids: string[]; total: number; pages: number }> {
  const ids: string[] = [];
  let url: string | null = `/api/v1/products?${query}`;
  let total = -1;
  let pages = 0;
  while (url) {
    const res = await api("GET", url);
    const link = res.headers.get("link");
    const page = await jsonOf<Page<ProductDto>>(res, 200);
    pages += 1;
    if (total === -1) total = page.meta.total;
    expect(page.meta.total, url).toBe(total);
    ids.push(...page.data.map((product) => product.id));
    if (page.meta.next) {
      expect(link).toContain('rel="next"');
      const next = new URL((/<([^>]+)>; rel="next"/.exec(link ?? "") ?? [])[1] ?? "http://x/");
      expect(next.searchParams.get("cursor")).toBe(page.meta.next);
      url = `${next.pathname}${next.search}`;
    } else {
      url = null;
    }
    if (pages > 100) throw new Error("walk: too many pages");
  }
  return { ids, total, pages };
}

// ---------------------------------------------------------------------------

const SORTS: Array<[string, SortKey[]]> = [
  ["-created_at", [{ field: "created_at", desc: true }]],
  ["created_at", [{ field: "created_at", desc: false }]],
  ["name", [{ field: "name", desc: false }]],
  ["-name", [{ field: "name", desc: true }]],
  ["price", [{ field: "price", desc: false }]],
  ["-price", [{ field: "price", desc: true }]],
  [
    "price,-name",
    [
      { field: "price", desc: false },
      { field: "name", desc: true },
    ],
  ],
];

describe("GET /api/v1/products: filters × search × sort", () => {
  const filterSets = (): Filters[] => {
    const parts: Array<Partial<Filters>> = [
      { category: categoryIds[1] },
      { gte: "10" },
      { lte: "500.5" },
      { q: "lap" },
    ];
    // Every subset of the four filters, the empty one included.
    return Array.from({ length: 1 << parts.length }, (_, mask) =>
      Object.assign({}, ...parts.filter((_, bit) => mask & (1 << bit))),
    );
  };

  for (const [sort, keys] of SORTS) {
    it(`sort=${sort}: every combination of filters answers exactly the matching rows, in order`, async () => {
      let nonEmpty = 0;
      for (const filters of filterSets()) {
        const want = expected(filters, keys).map((product) => product.id);
        const got = await walk(queryString(filters, sort, 9));
        expect(got.ids, `${sort} ${JSON.stringify(filters)}`).toEqual(want);
        expect(got.total).toBe(want.length);
        if (want.length > 0) nonEmpty += 1;
      }
      // The seed is built so that every combination selects something: no check passes vacuously.
      expect(nonEmpty).toBe(16);
    });
  }

  it("searches name and description by word prefix, ignoring case and accents, all words required", async () => {
    for (const q of ["creme", "CRÈME brulee", "pro", "lamp desk", "laptop 1", "item 7", "zzz"]) {
      const want = expected({ q }, [{ field: "name", desc: false }]).map((product) => product.id);
      const got = await walk(queryString({ q }, "name", 100));
      expect(got.ids, q).toEqual(want);
    }
    expect(expected({ q: "creme" }, []).length).toBeGreaterThan(0);
    expect(expected({ q: "lamp desk" }, []).length).toBeGreaterThan(0);
  });

  it("treats quotes, operators and column filters in q as plain words, never as FTS syntax", async () => {
    const hostile = [
      '"',
      'laptop"',
      "laptop OR phone",
      "laptop AND NOT phone",
      "name:laptop",
      "lap*",
      "^laptop",
      "NEAR(laptop phone)",
      "(laptop",
      "laptop -phone",
      "'; DROP TABLE products; --",
      "\u0000laptop",
      "🙂 laptop",
    ];
    for (const q of hostile) {
      const res = await api("GET", `/api/v1/products?${new URLSearchParams({ q })}`);
      expect(res.status, q).not.toBe(500);
      if (res.status === 200) {
        const page = await jsonOf<Page<ProductDto>>(res, 200);
        const want = seeded.filter((product) => matchesSearch(product, q));
        expect(page.meta.total, q).toBe(want.length);
      } else {
        expect((await problemOf(res, 400)).errors?.[0]?.parameter, q).toBe("q");
      }
    }
    expect(expected({ q: "laptop OR phone" }, [])).toEqual([]);
  });

  it("compares price bounds by face value whatever the currency, inclusive", async () => {
    const page = await jsonOf<Page<ProductDto>>(
      await api("GET", "/api/v1/products?filter[price][gte]=10&filter[price][lte]=10&limit=100"),
      200,
    );
    const shown = page.data.map((product) => `${product.price} ${product.currency}`).sort();
    expect(shown).toEqual(expect.arrayContaining(["10.00 USD", "10 JPY", "10.000 KWD", "10.00 EUR"]));
    expect(new Set(shown)).toEqual(new Set(["10.00 USD", "10 JPY", "10.000 KWD", "10.00 EUR"]));
  });
});

describe("GET /api/v1/products: cursors", () => {
  it("walks the whole set without gaps or repeats while rows are inserted between pages", async () => {
    const { user } = await createUser();
    for (const sort of ["name", "-price", "-created_at"]) {
      const before = new Set(seeded.map((product) => product.id));
      const seen: string[] = [];
      let url: string | null = `/api/v1/products?sort=${sort}&limit=7`;
      let inserted = 0;
      while (url) {
        const page: Page<ProductDto> = await jsonOf<Page<ProductDto>>(await api("GET", url), 200);
        seen.push(...page.data.map((product) => product.id));
        // New rows land before, among and after the rows still to come.
        await seedProducts(
          ["aardvark", "m-middle", "zz-last"].map((prefix, i) => ({
            name: `${prefix} ${sort} ${inserted}`,
            price: `${(inserted * 37 + i * 500) % 2000}.00`,
            categoryId: categoryIds[0] as string,
            createdBy: user.id,
          })),
        );
        inserted += 1;
        url = page.meta.next ? `/api/v1/products?sort=${sort}&limit=7&cursor=${page.meta.next}` : null;
      }
      expect(new Set(seen).size, sort).toBe(seen.length);
      for (const id of before) expect(seen, sort).toContain(id);
    }
  });

  it("pages backwards with meta.prev to exactly the pages seen going forwards", async () => {
    const forward: string[][] = [];
    const cursors: Array<string | null> = [];
    let url: string | null = `/api/v1/products?sort=price&filter[category_id]=${categoryIds[2]}&limit=5`;
    let last: Page<ProductDto> | undefined;
    while (url) {
      const page: Page<ProductDto> = await jsonOf<Page<ProductDto>>(await api("GET", url), 200);
      forward.push(page.data.map((product) => product.id));
      cursors.push(page.meta.prev);
      last = page;
      url = page.meta.next ? `${url.replace(/&cursor=.*/, "")}&cursor=${page.meta.next}` : null;
    }
    expect(forward.length).toBeGreaterThan(2);
    expect(cursors[0]).toBeNull();

    const backward: string[][] = [];
    let prev = last?.meta.prev ?? null;
    while (prev) {
      const res = await api(
        "GET",
        `/api/v1/products?sort=price&filter[category_id]=${categoryIds[2]}&limit=5&cursor=${prev}`,
      );
      expect(res.headers.get("link")).toContain('rel="next"');
      const page = await jsonOf<Page<ProductDto>>(res, 200);
      backward.unshift(page.data.map((product) => product.id));
      prev = page.meta.prev;
    }
    expect(backward).toEqual(forward.slice(0, -1));
  });
});

describe("GET /api/v1/products: bad parameters", () => {
  const problemFor = async (query: string): Promise<Problem> =>
    problemOf(await api("GET", `/api/v1/products?${query}`), 400);

  it("refuses unknown filter and sort fields, naming the parameter", async () => {
    expect(fieldsOf(await problemFor("filter[colour]=red"))).toEqual(["filter[colour]"]);
    expect(fieldsOf(await problemFor("filter[price]=10"))).toEqual(["filter[price]"]);
    expect(fieldsOf(await problemFor("filter[price][gt]=10"))).toEqual(["filter[price][gt]"]);
    expect(fieldsOf(await problemFor("filter[created_by]=x"))).toEqual(["filter[created_by]"]);
    for (const sort of ["description", "-category_id", "name,name", "name,", "price;DROP"]) {
      expect(fieldsOf(await problemFor(`sort=${encodeURIComponent(sort)}`)), sort).toEqual(["sort"]);
    }
  });

  it("refuses limit=0, limit=1000 and non-numbers", async () => {
    for (const limit of ["0", "1000", "101", "-1", "abc", "1.5"]) {
      expect(fieldsOf(await problemFor(`limit=${limit}`)), limit).toEqual(["limit"]);
    }
    const ok = await jsonOf<Page<ProductDto>>(await api("GET", "/api/v1/products?limit=100"), 200);
    expect(ok.data).toHaveLength(Math.min(100, ok.meta.total));
  });

  it("refuses malformed filter values", async () => {
    for (const query of [
      "filter[category_id]=laptops",
      "filter[price][gte]=abc",
      "filter[price][gte]=-1",
      "filter[price][lte]=1.2345",
      "filter[price][lte]=1e3",
      "filter[price][gte]=",
    ]) {
      const problem = await problemFor(query);
      expect(fieldsOf(problem), query).toEqual([query.split("=")[0]]);
    }
    const inverted = await problemFor("filter[price][gte]=20&filter[price][lte]=10");
    expect(fieldsOf(inverted)).toEqual(["filter[price][gte]"]);
    const repeated = await problemFor(
      `filter[category_id]=${categoryIds[0]}&filter[category_id]=${categoryIds[1]}`,
    );
    expect(fieldsOf(repeated)).toEqual(["filter[category_id]"]);
    expect(fieldsOf(await problemFor("q=%21%21%21"))).toEqual(["q"]);
    expect(fieldsOf(await problemFor(`q=${"a".repeat(201)}`))).toEqual(["q"]);
  });

  it("refuses forged, tampered and foreign cursors with invalid_cursor", async () => {
    const first = await jsonOf<Page<ProductDto>>(await api("GET", "/api/v1/products?sort=name&limit=3"), 200);
    const good = first.meta.next as string;
    const encode = (value: unknown) =>
      btoa(JSON.stringify(value)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
    const forged = [
      "not-a-cursor!",
      "AAAA",
      encode("just a string"),
      encode({ v: [], d: "n", s: "name" }),
      encode({ v: ["a"], d: "n", s: "name" }),
      encode({ v: ["a", "b"], d: "sideways", s: "name" }),
      encode({ v: [{ $gt: "" }, "b"], d: "n", s: "name" }),
      `${good}x`,
    ];
    for (const cursor of forged) {
      const problem = await problemFor(`sort=name&limit=3&cursor=${encodeURIComponent(cursor)}`);
      expect(problem.code, cursor).toBe("invalid_cursor");
      expect(fieldsOf(problem), cursor).toEqual(["cursor"]);
    }
    // A real cursor, but made for another sort.
    const foreign = await problemFor(`sort=-price&limit=3&cursor=${good}`);
    expect(foreign.code).toBe("invalid_cursor");
  });
});
