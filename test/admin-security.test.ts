/**
 * Deny by default, for every admin route: the table below is read from the admin
 * router itself, so a route added to it later is covered without touching this file.
 * A signed-in person who is not staff, an API key (either header), a client-credentials
 * token and no credentials at all are refused (403/403/403/401) before the route
 * validates anything; staff get through to the route.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Organization } from "../src/db/schema";
import { adminRouter } from "../src/modules/admin/admin.index";
import { AUDIT_ACTIONS, type AuditAction } from "../src/modules/audit/audit.actions";
import { API_KEY_SCOPE_NAMES } from "../src/modules/orgs/permissions";
import { createStaff, createUser, signIn } from "./support/factories";
import { api, jsonOf, problemOf } from "./support/http";
import { apiKeyHeaders, createApiKey, createOrg, type TestApiKey } from "./support/orgs";

/** Any value: the guard runs before path parameters are validated. */
const SAMPLE_PARAM = "0190c6c4-8d1e-7c2a-9f5e-1b2c3d4e5f60";

/**
 * Every (method, path) the admin router serves, from its own route table: router-wide
 * middleware (method ALL) left out, and each route once (its guards and validators are
 * entries of their own with the same method and path).
 */
const adminRoutes = [
  ...new Map(
    adminRouter.routes
      .filter((route) => route.method !== "ALL")
      .map((route) => [`${route.method} ${route.path}`, route] as const),
  ).values(),
].map((route) => ({
  method: route.method,
  template: `/admin/v1${route.path}`,
  path: `/admin/v1${route.path.replace(/:[A-Za-z_]+/g, SAMPLE_PARAM)}`,
}));

const label = (route: { method: string; template: string }) => `${route.method} ${route.template}`;

let userToken: string;
let staffToken: string;
let key: TestApiKey;
let org: Organization;
let clientToken: string;

beforeAll(async () => {
  const member = (await createUser()).user;
  userToken = (await signIn(member)).accessToken;
  staffToken = (await signIn((await createStaff()).user)).accessToken;
  org = await createOrg(member);
  // Every scope a key can hold: even the broadest integrator credential is not staff.
  key = await createApiKey(org, { scopes: [...API_KEY_SCOPE_NAMES] });
  const res = await api("POST", "/api/v1/oauth/token", {
    rawBody: new URLSearchParams({
      grant_type: "client_credentials",
      client_id: key.key.id,
      client_secret: key.secret,
    }).toString(),
    headers: { "content-type": "application/x-www-form-urlencoded" },
  });
  clientToken = (await jsonOf<{ access_token: string }>(res, 200)).access_token;
});

describe("the admin route table", () => {
  it("is read from the router and covers every admin area", () => {
    const templates = adminRoutes.map(label);
    expect(templates.length).toBeGreaterThanOrEqual(20);
    expect(new Set(templates).size).toBe(templates.length);
    for (const area of ["users", "organizations", "tasks", "pre-registrations", "notifications", "summary"]) {
      expect(
        templates.some((t) => t.includes(`/admin/v1/${area}`)),
        area,
      ).toBe(true);
    }
    expect(templates).toEqual(
      expect.arrayContaining(["GET /admin/v1/audit-logs", "PUT /admin/v1/feature-flags/:key"]),
    );
  });

  it("documents every route in /api/openapi.json under the Admin tag, with bearer security, 401 and 403", async () => {
    const doc = await jsonOf<{
      paths: Record<string, Record<string, { tags?: string[]; security?: unknown[]; responses: object }>>;
      tags: Array<{ name: string }>;
    }>(await api("GET", "/api/openapi.json"), 200);
    expect(doc.tags.map((tag) => tag.name)).toContain("Admin");
    for (const route of adminRoutes) {
      const openapiPath = route.template.replace(/:([A-Za-z_]+)/g, "{$1}");
      const operation = doc.paths[openapiPath]?.[route.method.toLowerCase()];
      expect(operation, label(route)).toBeDefined();
      expect(operation?.tags, label(route)).toEqual(["Admin"]);
      expect(operation?.security, label(route)).toEqual([{ bearerAuth: [] }]);
      expect(Object.keys(operation?.responses ?? {}), label(route)).toEqual(
        expect.arrayContaining(["401", "403"]),
      );
    }
  });
});

/**
 * The audit action each admin write records (and the test that shows it: admin-users, admin-tasks,
 * admin-operations, feature-flags). A write route added without an entry here fails the check below.
 */
const AUDITED_WRITES: Record<string, AuditAction[]> = {
  "PATCH /admin/v1/users/:id": ["user.update"],
  "POST /admin/v1/users/:id/revoke-sessions": ["user.sessions_revoke"],
  "DELETE /admin/v1/users/:id": ["user.delete"],
  "POST /admin/v1/tasks/:id/retry": ["task.retry"],
  "POST /admin/v1/tasks/:id/cancel": ["task.cancel"],
  "POST /admin/v1/notifications/broadcast": ["notification.broadcast"],
  "PUT /admin/v1/feature-flags/:key": ["feature_flag.create", "feature_flag.update"],
  "DELETE /admin/v1/feature-flags/:key": ["feature_flag.delete"],
};

describe("admin writes", () => {
  it("each has its audit action: no write route is added without one", () => {
    const writes = adminRoutes.filter((route) => route.method !== "GET").map(label);
    expect(writes.sort()).toEqual(Object.keys(AUDITED_WRITES).sort());
    for (const actions of Object.values(AUDITED_WRITES)) {
      for (const action of actions) expect(Object.keys(AUDIT_ACTIONS)).toContain(action);
    }
  });
});

describe.each(adminRoutes)("$method $template", (route) => {
  it("answers 401 without credentials, with a Bearer challenge", async () => {
    const res = await api(route.method, route.path);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
    expect((await problemOf(res, 401)).code).toBe("unauthorized");
  });

  it("answers 403 to a signed-in user who is not staff", async () => {
    const problem = await problemOf(await api(route.method, route.path, { token: userToken }), 403);
    expect(problem.code).toBe("forbidden");
  });

  it("answers 403 to an API key, whichever header carries it", async () => {
    await problemOf(await api(route.method, route.path, { headers: apiKeyHeaders(key.secret) }), 403);
    await problemOf(await api(route.method, route.path, { token: key.secret }), 403);
  });

  it("answers 403 to a client-credentials access token", async () => {
    await problemOf(await api(route.method, route.path, { token: clientToken }), 403);
  });

  it("lets staff through to the route", async () => {
    const res = await api(route.method, route.path, { token: staffToken });
    // Without a body or with an id that does not exist the route itself answers (400/404), never the guard.
    expect([401, 403], `${label(route)} answered ${res.status}`).not.toContain(res.status);
    expect(res.status).toBeLessThan(500);
  });
});

describe("paths the admin router does not serve", () => {
  it("are refused like the routes, before anything reveals whether they exist", async () => {
    await problemOf(await api("GET", "/admin/v1/no-such-thing"), 401);
    await problemOf(await api("GET", "/admin/v1/no-such-thing", { token: userToken }), 403);
    expect(
      (await problemOf(await api("GET", "/admin/v1/no-such-thing", { token: staffToken }), 404)).code,
    ).toBe("not_found");
  });
});
