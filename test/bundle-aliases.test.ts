/**
 * The stand-ins wrangler.toml's `alias` puts in the deployed bundle (src/bundle-aliases). Tests run
 * without the aliases (the real packages), so this checks the stand-ins themselves: the zod locale
 * module still carries zod's English messages, and the postal-mime stand-in refuses loudly.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import PostalMimeNotBundled from "../src/bundle-aliases/postal-mime";
import * as bundledLocales from "../src/bundle-aliases/zod-locales";

describe("bundle aliases", () => {
  it("keeps zod's English locale, the one zod configures itself with", () => {
    expect(Object.keys(bundledLocales)).toEqual(["en"]);
    expect(bundledLocales.en).toBe(z.locales.en);
    const issue = z.string().min(3).safeParse("ab").error?.issues[0];
    const localeError = bundledLocales.en().localeError;
    expect(typeof localeError === "function" ? localeError(issue as never) : undefined).toBe(issue?.message);
  });

  it("postal-mime's stand-in throws, naming the alias to remove, instead of parsing nothing", () => {
    expect(() => PostalMimeNotBundled.parse()).toThrow(/not bundled.*wrangler\.toml alias/);
  });
});
