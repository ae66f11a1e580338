/**
 * Stands in for zod's `locales/index.js` in the Worker bundle (wrangler.toml `alias`), so the
 * bundle carries the one locale zod configures itself with (English) instead of all of them.
 *
 * Why an alias and not tree-shaking: zod's classic API is the namespace `z`, which exports
 * `locales` (every language zod ships, ~260 KiB minified); @hono/zod-openapi passes `z` as a
 * value (`extendZodWithOpenApi(z)`), so esbuild must build the whole namespace object and keeps
 * every locale. Nothing in this project calls `z.config(z.locales.xx())`: error messages are
 * ours (problem+json, `src/lib/validation.ts`), and zod's own defaults are English, imported by
 * zod directly from `locales/en.js`, which this alias does not touch.
 *
 * `z.locales.en` keeps working; any other locale is `undefined` in the deployed bundle. Adding
 * a language means exporting it here. Tests run without the alias (full zod); test/bundle-aliases
 * checks that this module and zod's own English locale are the same function.
 */
export { default as en } from "zod/v4/locales/en.js";
