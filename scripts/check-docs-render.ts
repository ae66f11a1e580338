/**
 * `npm run docs:check`: proves /api/docs (Swagger UI) and /api/redoc (ReDoc) render the
 * API with no network, in Debian's Chromium driven by playwright-core.
 *
 *   1. starts the worker (wrangler dev, temporary state, free port)
 *   2. opens both pages with every request that is not to 127.0.0.1/localhost aborted and
 *      recorded: any such attempt fails the check, as do page errors, console errors,
 *      CSP violations and failed or 4xx/5xx local requests
 *   3. waits until Swagger UI shows the operations (GET /health among them) and ReDoc the
 *      API title and the operations; screenshots to .generated/screenshots/{swagger,redoc}.png
 *   4. opens both again under a non-local host name mapped to 127.0.0.1, as a deployment
 *      would serve them (Swagger UI, for one, behaves differently off localhost)
 *   5. restarts the worker with API_DOCS_ENABLED=false: the docs routes must answer 404
 *
 * Exits 1 on any failure. Needs `apt-get install -y chromium`.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { BrowserContext, Page } from "playwright-core";
import { chromium } from "playwright-core";
import { type LocalWorker, startLocalWorker } from "./lib/local-worker.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const screenshotDir = join(root, ".generated", "screenshots");
const RENDER_TIMEOUT_MS = 30_000;
const DOCS_ROUTES = ["/api/docs", "/api/redoc", "/api/openapi.json"] as const;
const HTTP_METHODS = new Set(["get", "put", "post", "delete", "options", "head", "patch", "trace"]);
/** Resolved to 127.0.0.1 inside Chromium only (.test is reserved, never a real host). */
const DEPLOYED_HOST = "api.docs-check.test";
/**
 * Console errors that are artefacts of the check itself, not of the pages: the deployed-host
 * pass is plain http on a non-localhost origin, where Chromium ignores (and says so) the
 * Cross-Origin-Opener-Policy header our security middleware sends; deployments are https.
 */
const IGNORED_CONSOLE_ERRORS: Array<{ pattern: RegExp; onlyOn: string }> = [
  {
    pattern:
      /^The Cross-Origin-Opener-Policy header has been ignored, because the URL's origin was untrustworthy/,
    onlyOn: DEPLOYED_HOST,
  },
];

const failures: string[] = [];
const report: string[] = [];
const fail = (message: string) => failures.push(message);

const chromiumPath = findChromium();
if (!chromiumPath) {
  console.error("docs:check: Chromium not found (command -v chromium). Install Debian's Chromium:");
  console.error("  apt-get install -y chromium");
  process.exit(1);
}

let worker: LocalWorker | undefined;
try {
  worker = await startLocalWorker();
  report.push(`worker: ${worker.url} (wrangler dev, temporary state)`);
  const spec = await checkDocsRoutesOn(worker.url);
  if (spec) await checkPagesRender(worker.url, chromiumPath, spec);
} catch (error) {
  fail(`docs on: ${error instanceof Error ? error.message : String(error)}`);
  if (worker) console.error(`--- wrangler dev log (tail) ---\n${worker.logTail(60)}`);
} finally {
  await worker?.stop();
}

let disabled: LocalWorker | undefined;
try {
  disabled = await startLocalWorker({ vars: { API_DOCS_ENABLED: "false" } });
  await checkDocsRoutesOff(disabled.url);
} catch (error) {
  fail(`docs off: ${error instanceof Error ? error.message : String(error)}`);
  if (disabled) console.error(`--- wrangler dev log (tail) ---\n${disabled.logTail(60)}`);
} finally {
  await disabled?.stop();
}

console.log("\ndocs:check report");
for (const line of report) console.log(`  ${line}`);
if (failures.length > 0) {
  console.log(`\nFAILED (${failures.length}):`);
  for (const line of failures) console.log(`  ✗ ${line}`);
  process.exit(1);
}
console.log(
  "\nOK: /api/docs and /api/redoc render with no network; all docs routes 404 when API_DOCS_ENABLED=false.",
);

// ---------------------------------------------------------------------------

function findChromium(): string | undefined {
  const found = spawnSync("/bin/sh", ["-c", "command -v chromium"], { encoding: "utf8" });
  const path = found.stdout.trim();
  return found.status === 0 && path ? path : undefined;
}

interface SpecSummary {
  title: string;
  operations: string[];
}

/** Plain fetches with the docs on: the three routes answer, the pages carry their CSP. */
async function checkDocsRoutesOn(url: string): Promise<SpecSummary | undefined> {
  let spec: SpecSummary | undefined;
  for (const path of DOCS_ROUTES) {
    const response = await fetch(`${url}${path}`);
    const type = response.headers.get("content-type") ?? "";
    const body = await response.text();
    report.push(`docs on:  GET ${path} → ${response.status} ${type}`);
    if (response.status !== 200) {
      fail(`GET ${path} answered ${response.status}, expected 200: ${body.slice(0, 200)}`);
      continue;
    }
    if (path === "/api/openapi.json") {
      const document = JSON.parse(body) as {
        info?: { title?: string };
        paths?: Record<string, Record<string, unknown>>;
      };
      const operations = Object.entries(document.paths ?? {}).flatMap(([route, item]) =>
        Object.keys(item)
          .filter((method) => HTTP_METHODS.has(method))
          .map((method) => `${method.toUpperCase()} ${route}`),
      );
      spec = { title: document.info?.title ?? "", operations };
      report.push(`          ${operations.length} operations in the OpenAPI document, title "${spec.title}"`);
      if (!operations.includes("GET /health")) fail("the OpenAPI document has no GET /health");
    } else if (!response.headers.get("content-security-policy")) {
      fail(`GET ${path} has no Content-Security-Policy header`);
    }
  }
  return spec;
}

async function checkPagesRender(url: string, executablePath: string, spec: SpecSummary): Promise<void> {
  const userDataDir = mkdtempSync(join(tmpdir(), "docs-check-chromium-"));
  const offHost: string[] = [];
  const localRequests: string[] = [];
  let context: BrowserContext | undefined;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      viewport: { width: 1280, height: 1000 },
      serviceWorkers: "block",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        // Belt and braces under the request interception: even Chromium's own traffic,
        // which page routes never see, cannot resolve any host but the local one.
        `--host-resolver-rules=MAP ${DEPLOYED_HOST} 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1`,
      ],
    });
    await context.route("**/*", (route) => {
      const request = route.request();
      const target = new URL(request.url());
      if (isLocal(target)) {
        localRequests.push(`${request.method()} ${target.pathname}`);
        return route.continue();
      }
      offHost.push(`${request.method()} ${request.url()} (${request.resourceType()})`);
      return route.abort("blockedbyclient");
    });
    // CSP violations, recorded where the page sees them (the init script is not subject to CSP).
    await context.addInitScript(() => {
      const violations: string[] = [];
      (window as unknown as { __cspViolations: string[] }).__cspViolations = violations;
      document.addEventListener("securitypolicyviolation", (event) => {
        violations.push(`${event.effectiveDirective} blocked ${event.blockedURI || "(inline)"}`);
      });
    });
    mkdirSync(screenshotDir, { recursive: true });

    const deployedUrl = url.replace("127.0.0.1", DEPLOYED_HOST);
    for (const [base, label] of [
      [url, ""],
      [deployedUrl, " (deployed host)"],
    ] as const) {
      await checkSwagger(context, base, label, spec);
      await checkRedoc(context, base, label, spec);
    }
  } finally {
    await context?.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }

  report.push(
    `network:  ${localRequests.length} requests to the local worker, ${offHost.length} attempts elsewhere`,
  );
  for (const attempt of offHost) fail(`the page tried to reach another host: ${attempt}`);
}

async function checkSwagger(
  context: BrowserContext,
  base: string,
  label: string,
  spec: SpecSummary,
): Promise<void> {
  const name = `swagger${label}`;
  await checkPage(context, `${base}/api/docs`, name, label ? undefined : "swagger.png", async (page) => {
    await page.waitForFunction(
      () => {
        const paths = [...document.querySelectorAll(".opblock.opblock-get .opblock-summary-path")].map(
          (element) =>
            (element.getAttribute("data-path") ?? element.textContent ?? "").replaceAll("\u200b", "").trim(),
        );
        return paths.includes("/health");
      },
      undefined,
      { timeout: RENDER_TIMEOUT_MS },
    );
    const seen = await page.evaluate(() => ({
      title: document.querySelector(".swagger-ui .info .title")?.textContent?.trim() ?? "",
      operations: document.querySelectorAll(".swagger-ui .opblock").length,
      tags: document.querySelectorAll(".swagger-ui .opblock-tag").length,
      loadError: document.querySelector(".swagger-ui .errors-wrapper")?.textContent?.trim() ?? "",
    }));
    report.push(
      `${name}: title "${seen.title}", ${seen.tags} tags, ${seen.operations} operations rendered (GET /health among them)`,
    );
    if (!seen.title.includes(spec.title)) fail(`${name}: title "${seen.title}" lacks "${spec.title}"`);
    if (seen.operations < spec.operations.length) {
      fail(`${name}: rendered ${seen.operations} operations, the document has ${spec.operations.length}`);
    }
    if (seen.loadError) fail(`${name}: Swagger UI shows an error: ${seen.loadError.slice(0, 200)}`);
  });
}

async function checkRedoc(
  context: BrowserContext,
  base: string,
  label: string,
  spec: SpecSummary,
): Promise<void> {
  const name = `redoc${label}`;
  await checkPage(context, `${base}/api/redoc`, name, label ? undefined : "redoc.png", async (page) => {
    await page.waitForFunction(
      (title) =>
        [...document.querySelectorAll("h1")].some((h1) => h1.textContent?.includes(title)) &&
        document.querySelector('[data-section-id$="paths/~1health/get"], [data-section-id*="operation/"]') !==
          null,
      spec.title,
      { timeout: RENDER_TIMEOUT_MS },
    );
    const seen = await page.evaluate(() => {
      const ids = [...document.querySelectorAll("[data-section-id]")].map((element) =>
        element.getAttribute("data-section-id"),
      );
      const operations = ids.filter((id) => id && /(\/paths\/.+\/[a-z]+|operation\/.+)$/.test(id));
      return {
        title: document.querySelector("h1")?.textContent?.trim() ?? "",
        operations: new Set(operations).size,
        health: ids.some((id) => id?.endsWith("paths/~1health/get")),
        menuItems: document.querySelectorAll('[role="menuitem"]').length,
        error: /Something went wrong/i.test(document.body.textContent ?? ""),
      };
    });
    report.push(
      `${name}: title "${seen.title}", ${seen.operations} operation sections, ${seen.menuItems} menu items, GET /health ${seen.health ? "present" : "MISSING"}`,
    );
    if (!seen.health) fail(`${name}: no GET /health section`);
    if (seen.operations < spec.operations.length) {
      fail(`${name}: rendered ${seen.operations} operations, the document has ${spec.operations.length}`);
    }
    if (seen.error) fail(`${name}: ReDoc shows its 'Something went wrong' error`);
  });
}

/** Opens one page, runs its render check, then screenshots and collects its errors. */
async function checkPage(
  context: BrowserContext,
  url: string,
  name: string,
  screenshotFile: string | undefined,
  rendered: (page: Page) => Promise<void>,
): Promise<void> {
  const page = await context.newPage();
  const consoleErrors: string[] = [];
  const ignoredErrors: string[] = [];
  const badResponses: string[] = [];
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const text = message.text();
    const host = new URL(page.url()).hostname;
    const ignored = IGNORED_CONSOLE_ERRORS.find((rule) => rule.onlyOn === host && rule.pattern.test(text));
    if (ignored) ignoredErrors.push(text);
    else consoleErrors.push(text);
  });
  page.on("pageerror", (error) => consoleErrors.push(`uncaught: ${error.message}`));
  page.on("requestfailed", (request) => {
    // Off-host requests are aborted on purpose and reported as such.
    if (isLocal(new URL(request.url()))) {
      badResponses.push(`${request.method()} ${request.url()} failed: ${request.failure()?.errorText}`);
    }
  });
  page.on("response", (response) => {
    if (response.status() >= 400)
      badResponses.push(`${response.request().method()} ${response.url()} → ${response.status()}`);
  });

  const started = Date.now();
  try {
    const response = await page.goto(url, { waitUntil: "load" });
    if (response?.status() !== 200) fail(`${name}: GET ${url} answered ${response?.status()}`);
    await rendered(page);
  } catch (error) {
    fail(
      `${name}: did not render within ${RENDER_TIMEOUT_MS / 1000} s (${error instanceof Error ? error.message.split("\n")[0] : error})`,
    );
  }
  if (screenshotFile) {
    const screenshot = join(screenshotDir, screenshotFile);
    // Swagger UI whole (every operation visible); ReDoc's three panels as a reader first sees them.
    await page.screenshot({ path: screenshot, fullPage: screenshotFile === "swagger.png" });
    report.push(`${" ".repeat(name.length)}  screenshot ${relative(root, screenshot)}`);
  }
  const violations = await page
    .evaluate(() => (window as unknown as { __cspViolations?: string[] }).__cspViolations ?? [])
    .catch(() => [] as string[]);
  report.push(`${" ".repeat(name.length)}  rendered in ${Date.now() - started} ms`);

  for (const violation of violations) fail(`${name}: Content-Security-Policy violation: ${violation}`);
  for (const line of badResponses) fail(`${name}: ${line}`);
  for (const text of consoleErrors) fail(`${name}: console error: ${text}`);
  for (const text of ignoredErrors)
    report.push(`${" ".repeat(name.length)}  ignored (http test origin): ${text.slice(0, 90)}…`);
  await page.close();
}

function isLocal(url: URL): boolean {
  if (url.protocol === "data:" || url.protocol === "blob:") return true;
  return ["127.0.0.1", "localhost", "[::1]", DEPLOYED_HOST].includes(url.hostname);
}

/** With API_DOCS_ENABLED=false every docs route, and the assets, answer 404 problem+json. */
async function checkDocsRoutesOff(url: string): Promise<void> {
  report.push(`docs off: ${url} started with --var API_DOCS_ENABLED:false`);
  for (const path of [...DOCS_ROUTES, "/api/docs/assets/swagger-ui-dist/swagger-ui.css"]) {
    const response = await fetch(`${url}${path}`);
    await response.arrayBuffer();
    const type = response.headers.get("content-type") ?? "";
    report.push(`docs off: GET ${path} → ${response.status} ${type}`);
    if (response.status !== 404)
      fail(`with API_DOCS_ENABLED=false GET ${path} answered ${response.status}, expected 404`);
  }
  const info = (await (await fetch(`${url}/`)).json()) as { links?: Record<string, unknown> };
  report.push(`docs off: GET / links ${JSON.stringify(info.links)}`);
  if (info.links?.docs !== null) fail("with API_DOCS_ENABLED=false GET / still links the docs");
}
