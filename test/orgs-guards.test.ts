/**
 * The guards other modules build on — requireOrgRole(), requireScopes(),
 * requireOrgAccess(), requireVerifiedEmail() and orgContext() — on a small app
 * with the real middleware chain, and the permission table's own invariants.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { createRouter } from "../src/lib/create-router";
import { authenticate } from "../src/middleware/authenticate";
import { handleError } from "../src/middleware/error-handler";
import { requestContext } from "../src/middleware/request-context";
import {
  orgContext,
  requireOrgAccess,
  requireOrgRole,
  requireScopes,
  requireVerifiedEmail,
} from "../src/middleware/require";
import "../src/modules/index";
import type { Organization } from "../src/db/schema";
import {
  API_KEY_SCOPE_NAMES,
  API_KEY_SCOPES,
  type ApiKeyScope,
  type OrgPermission,
  type OrgRole,
  orgRoles,
  PERMISSIONS,
  roleMayGrant,
} from "../src/modules/orgs/permissions";
import { createUser, signIn } from "./support/factories";
import { addMember, createApiKey, createOrg } from "./support/orgs";

function guardedApp() {
  const app = createRouter();
  app.use(requestContext());
  app.use(authenticate());
  app.get("/billing/:org_id", requireOrgRole("owner", "billing"), (c) => c.json(orgContext(c).actor));
  app.get("/tasks", requireScopes("tasks:read"), (c) => c.json({ principal: c.var.principal.kind }));
  app.get("/read/:org_id", requireOrgAccess("org:read"), (c) =>
    c.json({ org: orgContext(c).organization.id }),
  );
  app.get("/verified", requireVerifiedEmail(), (c) => c.json({ ok: true }));
  app.get("/unguarded/:org_id", (c) => c.json(orgContext(c).organization));
  app.onError(handleError);
  return app;
}

const app = guardedApp();
const call = async (path: string, token?: string) => {
  const res = await app.request(path, { headers: token ? { authorization: `Bearer ${token}` } : {} }, env);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

let org: Organization;
const tokens: Record<string, string> = {};
let keyOfOrg: string;
let keyWithTasks: string;
beforeAll(async () => {
  const owner = await createUser({ emailVerifiedAt: new Date() });
  org = await createOrg(owner.user);
  tokens.owner = (await signIn(owner.user)).accessToken;
  for (const role of ["admin", "member", "billing"] as const) {
    const account = await createUser();
    await addMember(org, account.user, role);
    tokens[role] = (await signIn(account.user)).accessToken;
  }
  tokens.stranger = (await signIn((await createUser()).user)).accessToken;
  keyOfOrg = (await createApiKey(org, { scopes: ["org:read"] })).secret;
  keyWithTasks = (await createApiKey(org, { scopes: ["tasks:read"] })).secret;
});

describe("requireOrgRole()", () => {
  it("lets the listed roles in with their membership as the actor", async () => {
    expect(await call(`/billing/${org.id}`, tokens.owner)).toMatchObject({
      status: 200,
      body: { role: "owner" },
    });
    expect(await call(`/billing/${org.id}`, tokens.billing)).toMatchObject({
      status: 200,
      body: { role: "billing" },
    });
  });

  it("403 for other roles and API keys, 404 for non-members, 401 without credentials, 400 for a bad id", async () => {
    expect((await call(`/billing/${org.id}`, tokens.admin)).status).toBe(403);
    expect((await call(`/billing/${org.id}`, tokens.member)).status).toBe(403);
    expect((await call(`/billing/${org.id}`, keyOfOrg)).status).toBe(403);
    expect((await call(`/billing/${org.id}`, tokens.stranger)).status).toBe(404);
    expect((await call(`/billing/${crypto.randomUUID()}`, tokens.owner)).status).toBe(404);
    expect((await call(`/billing/${org.id}`)).status).toBe(401);
    expect((await call("/billing/123", tokens.owner)).body).toMatchObject({
      code: "validation_failed",
      errors: [{ parameter: "org_id", location: "path" }],
    });
  });

  it("refuses to be built without roles or with an unknown one", () => {
    expect(() => requireOrgRole()).toThrow(TypeError);
    expect(() => requireOrgRole("superuser" as OrgRole)).toThrow(/unknown: superuser/);
  });
});

describe("requireScopes()", () => {
  it("holds API keys to their scopes and lets people through", async () => {
    expect(await call("/tasks", keyWithTasks)).toMatchObject({ status: 200, body: { principal: "api_key" } });
    const refused = await call("/tasks", keyOfOrg);
    expect(refused).toMatchObject({
      status: 403,
      body: { code: "insufficient_scope", required_scopes: ["tasks:read"] },
    });
    expect(await call("/tasks", tokens.member)).toMatchObject({ status: 200, body: { principal: "user" } });
    expect((await call("/tasks")).status).toBe(401);
  });

  it("refuses to be built with no scope or an unknown one", () => {
    expect(() => requireScopes()).toThrow(TypeError);
    expect(() => requireScopes("tasks:delete" as ApiKeyScope)).toThrow(/unknown: tasks:delete/);
    expect(() => requireOrgAccess("org:own" as OrgPermission)).toThrow(TypeError);
  });
});

describe("requireOrgAccess() and orgContext()", () => {
  it("follows the permission table for people and keys", async () => {
    expect(await call(`/read/${org.id}`, keyOfOrg)).toMatchObject({ status: 200, body: { org: org.id } });
    expect((await call(`/read/${org.id}`, keyWithTasks)).status).toBe(403);
    expect((await call(`/read/${org.id}`, tokens.billing)).status).toBe(200);
  });

  it("orgContext() on a route without a guard is a bug (500), never an unscoped answer", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await call(`/unguarded/${org.id}`, tokens.owner);
    expect(res).toMatchObject({ status: 500, body: { code: "internal_error" } });
    expect(String(logged.mock.calls[0]?.[0])).toContain(
      "the route has no requireOrgAccess()/requireOrgRole() guard",
    );
    logged.mockRestore();
  });
});

describe("requireVerifiedEmail()", () => {
  it("403 email_not_verified until the address is verified; 403 for keys; 401 anonymous", async () => {
    expect((await call("/verified", tokens.owner)).status).toBe(200);
    expect(await call("/verified", tokens.member)).toMatchObject({
      status: 403,
      body: { code: "email_not_verified" },
    });
    expect((await call("/verified", keyOfOrg)).status).toBe(403);
    expect((await call("/verified")).status).toBe(401);
  });
});

describe("the permission table", () => {
  it("never lets a scope do more than every role that may grant it", () => {
    for (const [permission, rule] of Object.entries(PERMISSIONS)) {
      if (rule.scope === null) continue;
      for (const role of orgRoles) {
        if (roleMayGrant(role, rule.scope)) {
          expect(
            (rule.roles as readonly string[]).includes(role),
            `${role} grants ${rule.scope} → ${permission}`,
          ).toBe(true);
        }
      }
    }
  });

  it("gives owners every permission and every grantable scope; keys never manage people or keys", () => {
    for (const rule of Object.values(PERMISSIONS)) expect(rule.roles).toContain("owner");
    for (const scope of API_KEY_SCOPE_NAMES) expect(API_KEY_SCOPES[scope].rolesGranting).toContain("owner");
    for (const permission of [
      "org:update",
      "org:delete",
      "members:manage",
      "invitations:manage",
      "api_keys:manage",
    ] as const) {
      expect(PERMISSIONS[permission].scope).toBeNull();
    }
  });
});
