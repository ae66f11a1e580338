/**
 * The two documentation pages. Their scripts and styles come from the Worker's
 * own static assets (copied out of node_modules at build time), so the pages
 * render with no CDN and no internet.
 */
import { SwaggerUI } from "@hono/swagger-ui";
import { DOCS_PATHS } from "./docs.links";

/** Swagger UI initialises inline and styles inline; ReDoc also starts a blob: web worker. */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self' 'unsafe-inline'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

const escapeHtml = (text: string) =>
  text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");

function page(title: string, head: string, body: string): string {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${escapeHtml(title)}</title>
    <link rel="icon" type="image/png" href="${DOCS_PATHS.assets}/swagger-ui-dist/favicon-32x32.png" />
    ${head}
  </head>
  <body style="margin:0">
    ${body}
  </body>
</html>`;
}

export function swaggerPage(appName: string): string {
  const ui = SwaggerUI({
    baseUrl: DOCS_PATHS.assets,
    url: DOCS_PATHS.openapi,
    persistAuthorization: true,
    displayRequestDuration: true,
    tryItOutEnabled: true,
    filter: true,
  });
  return page(`${appName} — API docs`, "", ui);
}

export function redocPage(appName: string): string {
  return page(
    `${appName} — API reference`,
    "",
    `<redoc spec-url="${DOCS_PATHS.openapi}" hide-download-button="false"></redoc>
    <script src="${DOCS_PATHS.assets}/redoc/redoc.standalone.js"></script>`,
  );
}
