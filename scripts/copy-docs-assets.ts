/**
 * Copies the Swagger UI and ReDoc browser bundles out of node_modules into the
 * Worker's static-assets directory, so /api/docs and /api/redoc render with no
 * CDN and no internet. Runs on postinstall, before `dev` and before `deploy`;
 * the output (.generated/assets) is not committed.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
/** Served by src/modules/docs at /api/docs/assets/<package>/<file>. */
const target = join(root, ".generated/assets/api/docs/assets");

const files: Array<[pkg: string, file: string]> = [
  ["swagger-ui-dist", "swagger-ui.css"],
  ["swagger-ui-dist", "swagger-ui-bundle.js"],
  ["swagger-ui-dist", "favicon-32x32.png"],
  ["redoc", "bundles/redoc.standalone.js"],
];

/**
 * Off-host URLs the bundles load at run time, replaced so the pages never reach for the
 * network: ReDoc 2.x always renders its sidebar footer with an <img> from cdn.redoc.ly
 * (no option turns it off), which the docs CSP blocks with a console error. A 1x1
 * transparent SVG keeps the footer's layout. `npm run docs:check` fails on any other.
 */
const TRANSPARENT_SVG =
  "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/%3E";
const rewrites: Record<string, Array<[from: string, to: string]>> = {
  "redoc/bundles/redoc.standalone.js": [["https://cdn.redoc.ly/redoc/logo-mini.svg", TRANSPARENT_SVG]],
};

for (const [pkg, file] of files) {
  const from = join(root, "node_modules", pkg, file);
  if (!existsSync(from)) {
    console.error(`copy-docs-assets: ${from} is missing; run npm install first.`);
    process.exit(1);
  }
  const to = join(target, pkg, file.split("/").pop() as string);
  mkdirSync(dirname(to), { recursive: true });
  const replacements = rewrites[`${pkg}/${file}`];
  if (!replacements) {
    copyFileSync(from, to);
    continue;
  }
  let text = readFileSync(from, "utf8");
  for (const [url, replacement] of replacements) {
    if (!text.includes(url))
      console.warn(`copy-docs-assets: ${url} no longer in ${pkg}/${file} (package updated?)`);
    text = text.replaceAll(url, replacement);
  }
  writeFileSync(to, text);
}
const total = files.reduce(
  (sum, [pkg, file]) => sum + statSync(join(root, "node_modules", pkg, file)).size,
  0,
);
console.log(`copy-docs-assets: ${files.length} files (${(total / 1024).toFixed(0)} KiB) → .generated/assets`);
