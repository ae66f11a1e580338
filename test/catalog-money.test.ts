/** The catalog's pure helpers: money conversion, the FTS5 query builder, slugs, constraint errors. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { constraintFailure } from "../src/db/constraint-errors";
import { slugify } from "../src/modules/catalog/categories.service";
import {
  amountToThousandths,
  CURRENCIES,
  currencyExponent,
  formatPrice,
  parsePrice,
} from "../src/modules/catalog/money";
import { ftsMatchExpression, MAX_SEARCH_TERMS } from "../src/modules/catalog/search";

describe("money", () => {
  it("knows the minor-unit exponent of 2-, 0- and 3-decimal currencies", () => {
    expect(currencyExponent("USD")).toBe(2);
    expect(currencyExponent("EUR")).toBe(2);
    expect(currencyExponent("JPY")).toBe(0);
    expect(currencyExponent("KRW")).toBe(0);
    expect(currencyExponent("KWD")).toBe(3);
    expect(currencyExponent("usd")).toBeUndefined();
    expect(currencyExponent("XAU")).toBeUndefined();
    expect(CURRENCIES.length).toBeGreaterThan(150);
    expect(CURRENCIES.every((code) => /^[A-Z]{3}$/.test(code))).toBe(true);
  });

  it("parses decimal strings into minor units and thousandths exactly", () => {
    expect(parsePrice("999.99", "USD")).toEqual({ priceMinor: 99999, priceThousandths: 999990 });
    expect(parsePrice("0.1", "USD")).toEqual({ priceMinor: 10, priceThousandths: 100 });
    expect(parsePrice("1500", "JPY")).toEqual({ priceMinor: 1500, priceThousandths: 1500000 });
    expect(parsePrice("1.005", "KWD")).toEqual({ priceMinor: 1005, priceThousandths: 1005 });
    expect(parsePrice("999999999999.999", "KWD")).toEqual({
      priceMinor: 999999999999999,
      priceThousandths: 999999999999999,
    });
  });

  it("explains what is wrong with a price", () => {
    expect(parsePrice("1.5", "JPY")).toEqual({ error: expect.stringMatching(/no minor unit/) });
    expect(parsePrice("1.001", "USD")).toEqual({ error: expect.stringMatching(/2 decimal places/) });
    expect(parsePrice("1", "XYZ")).toEqual({ error: expect.stringMatching(/not a currency/) });
    for (const bad of ["", "-1", "+1", "1e2", "01", ".5", "5.", "1 000", "１２", "1.2.3", "0x1f"]) {
      expect(parsePrice(bad, "USD"), bad).toHaveProperty("error");
    }
  });

  it("formats minor units with exactly the currency's digits", () => {
    expect(formatPrice(99999, "USD")).toBe("999.99");
    expect(formatPrice(5, "USD")).toBe("0.05");
    expect(formatPrice(0, "EUR")).toBe("0.00");
    expect(formatPrice(1500, "JPY")).toBe("1500");
    expect(formatPrice(12500, "KWD")).toBe("12.500");
  });

  it("round-trips every amount a currency can hold (property)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("USD", "JPY", "KWD", "EUR", "CLP", "BHD"),
        fc.integer({ min: 0, max: 999_999_999_999_999 }),
        (currency, minor) => {
          const exponent = currencyExponent(currency) as number;
          const bounded = Math.min(minor, 10 ** (12 + exponent) - 1);
          const parsed = parsePrice(formatPrice(bounded, currency), currency);
          expect(parsed).toEqual({ priceMinor: bounded, priceThousandths: bounded * 10 ** (3 - exponent) });
          expect(Number.isSafeInteger(bounded * 10 ** (3 - exponent))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("reads filter amounts at the thousandths scale", () => {
    expect(amountToThousandths("10")).toBe(10000);
    expect(amountToThousandths("9.99")).toBe(9990);
    expect(amountToThousandths("0.001")).toBe(1);
    expect(amountToThousandths("1.0001")).toBeNull();
    expect(amountToThousandths("-1")).toBeNull();
  });
});

describe("ftsMatchExpression", () => {
  it("quotes each word as a prefix term and ANDs them", () => {
    expect(ftsMatchExpression("travel laptop")).toBe('"travel"* "laptop"*');
    expect(ftsMatchExpression("Crème  brûlée")).toBe('"Crème"* "brûlée"*');
  });

  it("turns FTS5 syntax into plain words", () => {
    expect(ftsMatchExpression('"laptop" OR name:phone*')).toBe('"laptop"* "OR"* "name"* "phone"*');
    expect(ftsMatchExpression("NEAR(a b) ^c -d")).toBe('"NEAR"* "a"* "b"* "c"* "d"*');
    expect(ftsMatchExpression("'; DROP TABLE products; --")).toBe('"DROP"* "TABLE"* "products"*');
  });

  it("has nothing to search for in punctuation, and keeps at most MAX_SEARCH_TERMS words", () => {
    expect(ftsMatchExpression("!!! ... ***")).toBeNull();
    expect(ftsMatchExpression("")).toBeNull();
    const many = Array.from({ length: 30 }, (_, i) => `w${i}`).join(" ");
    expect(ftsMatchExpression(many)?.split(" ")).toHaveLength(MAX_SEARCH_TERMS);
  });

  it("never lets a double quote into a term (property)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (q) => {
        const match = ftsMatchExpression(q);
        if (match === null) return;
        for (const term of match.split(" ")) expect(term).toMatch(/^"[^"]+"\*$/);
      }),
      { numRuns: 500 },
    );
  });
});

describe("slugify", () => {
  it("makes lower-case hyphenated ASCII slugs, or nothing", () => {
    expect(slugify("Gaming Laptops & Docks")).toBe("gaming-laptops-docks");
    expect(slugify("  Crème Brûlée Tools ")).toBe("creme-brulee-tools");
    expect(slugify("日本")).toBe("");
    expect(slugify(`${"a".repeat(63)} b`)).toBe("a".repeat(63));
  });
});

describe("constraintFailure", () => {
  it("finds the constraint through drizzle's error wrapping", () => {
    const wrapped = (message: string) => new Error("Failed query: insert …", { cause: new Error(message) });
    expect(
      constraintFailure(wrapped("D1_ERROR: UNIQUE constraint failed: categories.slug: SQLITE_CONSTRAINT")),
    ).toEqual({ kind: "unique", target: "categories.slug" });
    expect(
      constraintFailure(
        wrapped("UNIQUE constraint failed: index 'categories_name_unique': SQLITE_CONSTRAINT"),
      ),
    ).toEqual({ kind: "unique", target: "categories_name_unique" });
    expect(constraintFailure(wrapped("FOREIGN KEY constraint failed: SQLITE_CONSTRAINT"))).toEqual({
      kind: "foreign_key",
    });
    expect(constraintFailure(new Error("network down"))).toBeNull();
    expect(constraintFailure("not an error")).toBeNull();
  });

  it("names every column of a composite index, and believes the database over the query's parameters", () => {
    expect(
      constraintFailure(
        new Error("UNIQUE constraint failed: credit_ledger.organization_id, credit_ledger.reference"),
      ),
    ).toEqual({ kind: "unique", target: "credit_ledger.organization_id, credit_ledger.reference" });
    // Drizzle's own message repeats the bound parameters, which a client chose.
    const spoofed = new Error("Failed query: insert …\nparams: UNIQUE constraint failed: users.email", {
      cause: new Error("D1_ERROR: UNIQUE constraint failed: users.username: SQLITE_CONSTRAINT"),
    });
    expect(constraintFailure(spoofed)).toEqual({ kind: "unique", target: "users.username" });
  });
});
