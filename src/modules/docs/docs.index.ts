/**
 * /api/openapi.json, /api/docs (Swagger UI), /api/redoc and their assets, all
 * answering 404 when API_DOCS_ENABLED=false; and GET /problems/{code}, which is
 * always on because problem `type` URIs point at it.
 */
import { z } from "@hono/zod-openapi";
import { getConfig } from "../../env";
import type { AppRouter } from "../../lib/create-router";
import { createRouter } from "../../lib/create-router";
import { defineRoute, jsonContent, problemResponse, SECURITY_SCHEMES } from "../../lib/openapi";
import { PROBLEM_CATALOG, ProblemError, statusTitle } from "../../lib/problem";
import { switchedOn } from "../../middleware/switched-on";
import { VERSION } from "../health/health.handlers";
import { DOCS_PATHS } from "./docs.links";
import { DOCS_CSP, redocPage, swaggerPage } from "./docs.pages";
import { declareMiddlewareResponses } from "./middleware-responses";

const TAGS = [
  { name: "Operations", description: "Service info, health checks and metrics." },
  {
    name: "Auth",
    description:
      "Accounts, tokens, sessions, email verification, password reset, magic codes, sign-in with Google, GitHub and OIDC providers.",
  },
  {
    name: "Passkeys",
    description:
      "WebAuthn passkeys: adding one (register options → navigator.credentials.create → verify), signing in with one (login options → navigator.credentials.get → verify), and managing yours.",
  },
  { name: "Users", description: "Profiles, avatars, devices (sessions), linked identity-provider accounts." },
  { name: "Organizations", description: "Tenants: organizations, members and their roles." },
  { name: "Invitations", description: "Inviting people to an organization by email, and accepting." },
  {
    name: "API keys",
    description:
      "An organization's keys for integrators: sk_live_/sk_test_ secrets with scopes, rotation, expiry.",
  },
  {
    name: "Files",
    description:
      "An organization's private files in R2: uploads by short-lived single-use URLs (presigned to R2, or on this API), content checked on complete, downloads by signed URLs, size limits and a quota.",
  },
  {
    name: "OAuth",
    description:
      "RFC 6749 client credentials: an API key exchanged for a short-lived access token. (Signing people in with Google, GitHub or an OIDC provider is under Auth.)",
  },
  {
    name: "Catalog",
    description:
      "Categories and products: public reads, full-text search, filters, sorting and cursor pages; the reference resource.",
  },
  {
    name: "Billing",
    description:
      "Stripe: plans and credit packs, checkout and the billing portal, an organization's subscription and credits, and the Stripe webhook.",
  },
  {
    name: "Webhooks",
    description:
      "Outbound webhooks for integrators: an organization's endpoints, signed (Standard Webhooks), retried on a schedule, logged and replayable; the event catalogue.",
  },
  {
    name: "Push notifications",
    description:
      "Devices that receive notifications by push: browsers (Web Push with VAPID) and Android/iOS apps (FCM), and the VAPID key browsers subscribe with.",
  },
  {
    name: "Feature flags",
    description: "The caller's evaluated feature flags (staff manage them under Admin).",
  },
  {
    name: "Admin",
    description:
      "Staff only (/admin/v1): users, organizations, tasks, waitlist, broadcasts, the platform summary, the audit log and feature flags. Every write is audited.",
  },
  { name: "Docs", description: "Problem types referenced by error responses." },
  {
    name: "Development",
    description: "Local development aids, on only in development (404 elsewhere): the dev mailbox.",
  },
];

/** Problem codes are short; a longer path segment is not repeated back in the 404. */
const MAX_ECHOED_CODE_LENGTH = 64;

const docsEnabled = switchedOn((config) => config.API_DOCS_ENABLED);

const problemType = defineRoute({
  method: "get",
  path: "/problems/{code}",
  tags: ["Docs"],
  summary: "Describe a problem type",
  description:
    "Problem `type` URIs (`/problems/<code>`) resolve here. A code that is not in the catalogue, whatever its length or characters, is a 404.",
  request: {
    // Any text: a code is either in the catalogue or not found (no 400 for a long or odd one).
    params: z.object({ code: z.string().openapi({ example: "validation_failed" }) }),
  },
  responses: {
    200: jsonContent(
      z
        .object({ code: z.string(), status: z.number().int(), title: z.string(), description: z.string() })
        .openapi("ProblemType"),
      "The problem type.",
      {
        code: "validation_failed",
        status: 400,
        title: "Bad Request",
        description: "A field failed validation.",
      },
    ),
    404: problemResponse(404),
  },
});

/** Adds the docs routes to the root app; the OpenAPI document is built once per isolate. */
export function mountDocs(app: AppRouter): void {
  for (const [name, scheme] of Object.entries(SECURITY_SCHEMES)) {
    app.openAPIRegistry.registerComponent("securitySchemes", name, scheme);
  }

  const docs = createRouter();
  docs.openapi(problemType, (c) => {
    const { code } = c.req.valid("param");
    // Own properties only: "constructor" or "__proto__" are not problem types.
    const entry = Object.hasOwn(PROBLEM_CATALOG, code) ? PROBLEM_CATALOG[code] : undefined;
    if (!entry) {
      const named = code.length <= MAX_ECHOED_CODE_LENGTH ? ` "${code}"` : "";
      throw new ProblemError({ status: 404, code: "not_found", detail: `No problem type${named}.` });
    }
    return c.json(
      { code, status: entry.status, title: statusTitle(entry.status), description: entry.description },
      200,
    );
  });

  let document: unknown;
  docs.get(DOCS_PATHS.openapi, docsEnabled, (c) => {
    // Built on first use, when every route is registered: each gets the middleware's answers.
    if (document === undefined) declareMiddlewareResponses(app.openAPIRegistry);
    document ??= app.getOpenAPI31Document({
      openapi: "3.1.0",
      info: {
        title: getConfig(c.env).APP_NAME,
        version: VERSION,
        description:
          "Every error is RFC 9457 application/problem+json with a stable `code` and the `request_id`. Collections are cursor-paginated (`limit`, `cursor`; `meta.next`/`meta.prev`, RFC 8288 `Link`). A response that used the database carries `X-D1-Bookmark`: send the last one you received as `X-D1-Bookmark` on later requests to read your own writes wherever they are served.",
      },
      servers: [{ url: "/", description: "This deployment" }],
      tags: TAGS,
    });
    c.header("Cache-Control", "public, max-age=60");
    return c.json(document as object);
  });
  docs.get(DOCS_PATHS.docs, docsEnabled, (c) => {
    c.header("Content-Security-Policy", DOCS_CSP);
    return c.html(swaggerPage(getConfig(c.env).APP_NAME));
  });
  docs.get(DOCS_PATHS.redoc, docsEnabled, (c) => {
    c.header("Content-Security-Policy", DOCS_CSP);
    return c.html(redocPage(getConfig(c.env).APP_NAME));
  });
  docs.get(`${DOCS_PATHS.assets}/*`, docsEnabled, async (c) => {
    const response = await c.env.ASSETS.fetch(c.req.raw);
    if (response.status === 404) {
      throw new ProblemError({ status: 404, code: "not_found", detail: `No docs asset at ${c.req.path}.` });
    }
    // Asset responses have immutable headers; copy so the security middleware can add its own.
    const copy = new Response(response.body, response);
    copy.headers.set("Cache-Control", "public, max-age=86400");
    return copy;
  });

  app.route("/", docs);
}
