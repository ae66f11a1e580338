/**
 * Copies the Swagger UI and ReDoc browser bundles out of node_modules into the
 * Worker's static-assets directory, so /api/docs and /api/redoc render with no
 * CDN and no internet. Runs on postinstall, before `dev` and before `deploy`;
 * the output (.generated/assets) is not committed.
 */
import { copyFileSync, existsSync, mkdirSync, statSync } from "node:fs";
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

for (const [pkg, file] of files) {
  const from = join(root, "node_modules", pkg, file);
  if (!existsSync(from)) {
    console.error(`copy-docs-assets: ${from} is missing; run npm install first.`);
    process.exit(1);
  }
  const to = join(target, pkg, file.split("/").pop() as string);
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
}
const total = files.reduce(
  (sum, [pkg, file]) => sum + statSync(join(root, "node_modules", pkg, file)).size,
  0,
);
console.log(`copy-docs-assets: ${files.length} files (${(total / 1024).toFixed(0)} KiB) → .generated/assets`);
