/**
 * Managing API keys through HTTP: create (secret shown once, only its hash
 * stored), list and read (never the secret), rename / re-scope / re-limit,
 * revoke, rotate with a grace period, expiry, and the scopes a role may grant.
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { apiKeySecrets, apiKeys, type Organization, users } from "../src/db/schema";
import { sha256Hex } from "../src/lib/crypto";
import type { ApiKeyDto } from "../src/modules/api-keys/api-keys.schemas";
import { API_KEY_REGEX, generateApiKey, parseApiKey } from "../src/modules/api-keys/key-format";
import { createUser, type Person, person, signIn } from "./support/factories";
import { api, as, fieldsOf, jsonOf, type Page, problemOf } from "./support/http";
import type { ApiKeyWithSecretDto, RotatedApiKeyDto } from "./support/orgs";
import { addMember, apiKeyHeaders, createApiKey, createOrg, readOrg } from "./support/orgs";
import { securitySuite } from "./support/security";

vi.setConfig({ testTimeout: 30_000 });

const db = getDb(env);

afterEach(() => {
  vi.useRealTimers();
});

let owner: Person;
let admin: Person;
beforeAll(async () => {
  owner = await person();
  admin = await person();
});

async function team(): Promise<Organization> {
  const org = await createOrg(owner.user);
  await addMember(org, admin.user, "admin");
  return org;
}

const keysPath = (org: Organization, suffix = "") => `/api/v1/orgs/${org.id}/api-keys${suffix}`;

describe("POST /orgs/{org_id}/api-keys", () => {
  it("answers the secret once, in the documented format, and stores only its SHA-256", async () => {
    const org = await team();
    const res = await admin.api.post(keysPath(org), {
      body: { name: "CI deploys", scopes: ["org:read", "tasks:write"] },
    });
    const created = await jsonOf<ApiKeyWithSecretDto>(res, 201);
    expect(res.headers.get("location")).toBe(`/api/v1/orgs/${org.id}/api-keys/${created.id}`);
    expect(res.headers.get("cache-control")).toBe("no-store");
    // Outside production keys are test keys: sk_test_ + 43 base62 random + 6 base62 CRC32.
    expect(created.key).toMatch(API_KEY_REGEX);
    expect(created.key.startsWith("sk_test_")).toBe(true);
    expect(parseApiKey(created.key)).toEqual({ mode: "test" });
    expect(created).toMatchObject({
      name: "CI deploys",
      mode: "test",
      prefix: created.key.slice(0, 16),
      scopes: ["org:read", "tasks:write"],
      status: "active",
      created_by: admin.user.id,
      last_used_at: null,
      expires_at: null,
      revoked_at: null,
      rate_limit: null,
    });

    const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, created.id));
    const secrets = await db.select().from(apiKeySecrets).where(eq(apiKeySecrets.keyId, created.id));
    expect(JSON.stringify([row, secrets])).not.toContain(created.key.slice(16));
    expect(secrets.map((s) => s.secretHash)).toEqual([await sha256Hex(created.key)]);

    expect((await readOrg(org, created.key)).status).toBe(200);
  });

  it("gives a key only scopes the creator's role may grant (403 scope_not_allowed)", async () => {
    const org = await team();
    const refused = await admin.api.post(keysPath(org), {
      body: { name: "Billing sync", scopes: ["org:read", "billing:read"] },
    });
    const problem = await problemOf(refused, 403);
    expect(problem).toMatchObject({ code: "scope_not_allowed", scopes_not_allowed: ["billing:read"] });
    expect(fieldsOf(problem)).toEqual(["/scopes"]);
    expect(await db.select().from(apiKeys).where(eq(apiKeys.organizationId, org.id))).toEqual([]);

    const byOwner = await owner.api.post(keysPath(org), {
      body: { name: "Billing sync", scopes: ["billing:read"] },
    });
    expect((await jsonOf<ApiKeyWithSecretDto>(byOwner, 201)).scopes).toEqual(["billing:read"]);
  });

  it.each([
    ["no name", { scopes: ["org:read"] }, "/name"],
    ["a name over 100 characters", { name: "k".repeat(101), scopes: ["org:read"] }, "/name"],
    ["no scopes", { name: "k", scopes: [] }, "/scopes"],
    ["an unknown scope", { name: "k", scopes: ["admin:all"] }, "/scopes/0"],
    ["a repeated scope", { name: "k", scopes: ["org:read", "org:read"] }, "/scopes"],
    [
      "an expiry in the past",
      { name: "k", scopes: ["org:read"], expires_at: "2020-01-01T00:00:00Z" },
      "/expires_at",
    ],
    ["an expiry that is no date", { name: "k", scopes: ["org:read"], expires_at: "tomorrow" }, "/expires_at"],
    [
      "an expiry beyond three years",
      { name: "k", scopes: ["org:read"], expires_at: "2099-01-01T00:00:00Z" },
      "/expires_at",
    ],
    [
      "a rate limit of 0",
      { name: "k", scopes: ["org:read"], rate_limit: { limit: 0, window_seconds: 60 } },
      "/rate_limit/limit",
    ],
    [
      "a window over a day",
      { name: "k", scopes: ["org:read"], rate_limit: { limit: 10, window_seconds: 90_000 } },
      "/rate_limit/window_seconds",
    ],
    [
      "an unknown field",
      { name: "k", scopes: ["org:read"], organization_id: crypto.randomUUID() },
      "/organization_id",
    ],
    ["a secret of your choosing", { name: "k", scopes: ["org:read"], key: "sk_test_mine" }, "/key"],
    [
      "a secret pasted as the name",
      { name: `prod ${generateApiKey("live")}`, scopes: ["org:read"] },
      "/name",
    ],
  ])("refuses %s with 400 naming the field", async (_label, body, field) => {
    const org = await team();
    const problem = await problemOf(await owner.api.post(keysPath(org), { body }), 400);
    expect(problem.code).toBe("validation_failed");
    expect(fieldsOf(problem)).toContain(field);
  });

  it("lets a key carry its own, lower rate limit; above the api_key policy only staff may set it", async () => {
    const org = await team();
    const lower = await owner.api.post(keysPath(org), {
      body: { name: "slow", scopes: ["org:read"], rate_limit: { limit: 100, window_seconds: 60 } },
    });
    expect((await jsonOf<ApiKeyWithSecretDto>(lower, 201)).rate_limit).toEqual({
      limit: 100,
      window_seconds: 60,
    });
    const higher = await owner.api.post(keysPath(org), {
      body: { name: "fast", scopes: ["org:read"], rate_limit: { limit: 5000, window_seconds: 60 } },
    });
    expect((await problemOf(higher, 403)).code).toBe("rate_limit_above_policy");

    const staff = await person({ isStaff: true });
    await addMember(org, staff.user, "admin");
    const byStaff = await staff.api.post(keysPath(org), {
      body: { name: "fast", scopes: ["org:read"], rate_limit: { limit: 5000, window_seconds: 60 } },
    });
    expect((await jsonOf<ApiKeyWithSecretDto>(byStaff, 201)).rate_limit).toEqual({
      limit: 5000,
      window_seconds: 60,
    });
  });
});

describe("GET /orgs/{org_id}/api-keys and /{key_id}", () => {
  it("never shows a secret, in lists or reads, and pages with filter[revoked]", async () => {
    const org = await team();
    const secrets: string[] = [];
    for (const name of ["one", "two", "three"]) {
      secrets.push(
        (
          await jsonOf<ApiKeyWithSecretDto>(
            await owner.api.post(keysPath(org), { body: { name, scopes: ["org:read"] } }),
            201,
          )
        ).key,
      );
    }
    const { key: revoked } = await createApiKey(org, { name: "old", revokedAt: new Date() });

    const listed = await owner.api.get(keysPath(org, "?limit=2&sort=name"));
    const text = await listed.text();
    const page = JSON.parse(text) as Page<ApiKeyDto>;
    expect(page.meta.total).toBe(4);
    expect(page.data.map((k) => k.name)).toEqual(["old", "one"]);
    for (const secret of secrets) expect(text).not.toContain(secret.slice(16));
    for (const item of page.data) expect(Object.keys(item)).not.toContain("key");

    const active = await jsonOf<Page<ApiKeyDto>>(
      await owner.api.get(keysPath(org, "?filter[revoked]=false")),
      200,
    );
    expect(active.data.map((k) => k.name).sort()).toEqual(["one", "three", "two"]);
    const gone = await jsonOf<Page<ApiKeyDto>>(
      await owner.api.get(keysPath(org, "?filter[revoked]=true")),
      200,
    );
    expect(gone.data.map((k) => [k.id, k.status])).toEqual([[revoked.id, "revoked"]]);

    const read = await owner.api.get(keysPath(org, `/${page.data[1]?.id}`));
    const readText = await read.text();
    expect(read.status).toBe(200);
    for (const secret of secrets) expect(readText).not.toContain(secret.slice(16));
    expect(Object.keys(JSON.parse(readText))).not.toContain("key");
  });
});

describe("PATCH /orgs/{org_id}/api-keys/{key_id}", () => {
  it("renames and re-scopes; removing scopes takes effect at once", async () => {
    const org = await team();
    const { key, secret } = await createApiKey(org, { scopes: ["org:read", "tasks:read"] });
    expect((await readOrg(org, secret)).status).toBe(200);
    const updated = await jsonOf<ApiKeyDto>(
      await admin.api.patch(keysPath(org, `/${key.id}`), {
        body: { name: "Read tasks only", scopes: ["tasks:read"] },
      }),
      200,
    );
    expect(updated).toMatchObject({ name: "Read tasks only", scopes: ["tasks:read"] });
    const refused = await readOrg(org, secret);
    expect((await problemOf(refused, 403)).code).toBe("insufficient_scope");
  });

  it("lets admins remove a scope they could not grant, never add one", async () => {
    const org = await team();
    const { key } = await createApiKey(org, { scopes: ["org:read", "billing:read"] });
    const add = await admin.api.patch(keysPath(org, `/${key.id}`), {
      body: { scopes: ["org:read", "billing:read", "tasks:read"] },
    });
    expect((await jsonOf<ApiKeyDto>(add, 200)).scopes).toEqual(["org:read", "billing:read", "tasks:read"]);
    const narrowed = await admin.api.patch(keysPath(org, `/${key.id}`), { body: { scopes: ["org:read"] } });
    expect((await jsonOf<ApiKeyDto>(narrowed, 200)).scopes).toEqual(["org:read"]);
    const widen = await admin.api.patch(keysPath(org, `/${key.id}`), {
      body: { scopes: ["org:read", "billing:read"] },
    });
    expect((await problemOf(widen, 403)).code).toBe("scope_not_allowed");
  });

  it("sets and clears expiry and rate limit; a revoked key cannot be changed (409)", async () => {
    const org = await team();
    const { key } = await createApiKey(org);
    const expiresAt = new Date(Date.now() + 24 * 3600 * 1000).toISOString();
    const set = await jsonOf<ApiKeyDto>(
      await owner.api.patch(keysPath(org, `/${key.id}`), {
        body: { expires_at: expiresAt, rate_limit: { limit: 10, window_seconds: 1 } },
      }),
      200,
    );
    expect(set).toMatchObject({ expires_at: expiresAt, rate_limit: { limit: 10, window_seconds: 1 } });
    const cleared = await jsonOf<ApiKeyDto>(
      await owner.api.patch(keysPath(org, `/${key.id}`), { body: { expires_at: null, rate_limit: null } }),
      200,
    );
    expect(cleared).toMatchObject({ expires_at: null, rate_limit: null });
    expect((await owner.api.delete(keysPath(org, `/${key.id}`))).status).toBe(204);
    const late = await owner.api.patch(keysPath(org, `/${key.id}`), { body: { name: "again" } });
    expect((await problemOf(late, 409)).code).toBe("api_key_revoked");
  });
});

describe("DELETE /orgs/{org_id}/api-keys/{key_id}", () => {
  it("revokes: the key is refused from the next request, and revoking again changes nothing", async () => {
    const org = await team();
    const { key, secret } = await createApiKey(org);
    expect((await readOrg(org, secret)).status).toBe(200);
    expect((await owner.api.delete(keysPath(org, `/${key.id}`))).status).toBe(204);
    const refused = await readOrg(org, secret);
    expect(await problemOf(refused, 401)).toMatchObject({
      code: "invalid_token",
      detail: "The API key has been revoked.",
    });
    const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, key.id));
    expect((await owner.api.delete(keysPath(org, `/${key.id}`))).status).toBe(204);
    const [after] = await db.select().from(apiKeys).where(eq(apiKeys.id, key.id));
    expect(after?.revokedAt).toEqual(row?.revokedAt);
    const read = await jsonOf<ApiKeyDto>(await owner.api.get(keysPath(org, `/${key.id}`)), 200);
    expect(read.status).toBe("revoked");
  });
});

describe("POST /orgs/{org_id}/api-keys/{key_id}/rotate", () => {
  it("gives a new secret for the same key; the old one is refused at once", async () => {
    const org = await team();
    const { key, secret: old } = await createApiKey(org);
    expect((await readOrg(org, old)).status).toBe(200);
    // No body at all: no grace period.
    const res = await api("POST", keysPath(org, `/${key.id}/rotate`), {
      token: (await signIn(owner.user)).accessToken,
    });
    const rotated = await jsonOf<RotatedApiKeyDto>(res, 200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(rotated).toMatchObject({ id: key.id, scopes: key.scopes, prefix: rotated.key.slice(0, 16) });
    expect(rotated.key).not.toBe(old);
    expect(rotated.key).toMatch(API_KEY_REGEX);
    expect(new Date(rotated.previous_secret_expires_at).getTime()).toBeLessThanOrEqual(Date.now());

    const refused = await readOrg(org, old);
    expect((await problemOf(refused, 401)).detail).toBe(
      "This API key secret was rotated out; use the new secret.",
    );
    expect((await readOrg(org, rotated.key)).status).toBe(200);
  });

  it("keeps the old secret working for the grace period asked for, and not a moment longer", async () => {
    const org = await team();
    const { key, secret: old } = await createApiKey(org);
    const rotated = await jsonOf<ApiKeyWithSecretDto>(
      await owner.api.post(keysPath(org, `/${key.id}/rotate`), { body: { grace_period_seconds: 3600 } }),
      200,
    );
    expect((await readOrg(org, old)).status).toBe(200);
    expect((await readOrg(org, rotated.key)).status).toBe(200);

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 3601 * 1000);
    expect((await readOrg(org, old)).status).toBe(401);
    expect((await readOrg(org, rotated.key)).status).toBe(200);
  });

  it("a second rotation ends the first one's grace period no later than its own", async () => {
    const org = await team();
    const { key, secret: first } = await createApiKey(org);
    const second = await jsonOf<ApiKeyWithSecretDto>(
      await owner.api.post(keysPath(org, `/${key.id}/rotate`), { body: { grace_period_seconds: 3600 } }),
      200,
    );
    const third = await jsonOf<ApiKeyWithSecretDto>(
      await owner.api.post(keysPath(org, `/${key.id}/rotate`), { body: { grace_period_seconds: 0 } }),
      200,
    );
    expect((await readOrg(org, first)).status).toBe(401);
    expect((await readOrg(org, second.key)).status).toBe(401);
    expect((await readOrg(org, third.key)).status).toBe(200);
  });

  it("refuses a grace period over 7 days (400) and a revoked key (409)", async () => {
    const org = await team();
    const { key } = await createApiKey(org);
    const long = await owner.api.post(keysPath(org, `/${key.id}/rotate`), {
      body: { grace_period_seconds: 8 * 86_400 },
    });
    expect(fieldsOf(await problemOf(long, 400))).toEqual(["/grace_period_seconds"]);
    await owner.api.delete(keysPath(org, `/${key.id}`));
    const revoked = await owner.api.post(keysPath(org, `/${key.id}/rotate`), { body: {} });
    expect((await problemOf(revoked, 409)).code).toBe("api_key_revoked");
  });
});

describe("expiry", () => {
  it("refuses a key once its expiry passes, even while its lookup is cached", async () => {
    const org = await team();
    const { key, secret } = await createApiKey(org, { expiresAt: new Date(Date.now() + 10 * 60_000) });
    expect((await readOrg(org, secret)).status).toBe(200);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 11 * 60_000);
    expect(await problemOf(await readOrg(org, secret), 401)).toMatchObject({
      detail: "The API key has expired.",
    });
    const fresh = as((await signIn(owner.user)).accessToken);
    expect((await jsonOf<ApiKeyDto>(await fresh.get(keysPath(org, `/${key.id}`)), 200)).status).toBe(
      "expired",
    );
  });
});

describe("who may use which credential", () => {
  it("accepts a key as Bearer or X-API-Key; user-only routes refuse it with 403", async () => {
    const org = await team();
    const { secret } = await createApiKey(org);
    expect((await api("GET", `/api/v1/orgs/${org.id}`, { headers: apiKeyHeaders(secret) })).status).toBe(200);
    expect((await readOrg(org, secret)).status).toBe(200);
    expect((await api("GET", "/api/v1/users/me", { token: secret })).status).toBe(403);
    // Keys cannot manage keys, whatever their scopes.
    const { secret: mighty } = await createApiKey(org, {
      scopes: [
        "org:read",
        "tasks:read",
        "tasks:write",
        "notifications:read",
        "products:write",
        "billing:read",
      ],
    });
    const res = await api("POST", keysPath(org), {
      token: mighty,
      body: { name: "child", scopes: ["org:read"] },
    });
    expect((await problemOf(res, 403)).code).toBe("forbidden");
  });

  it("a deleted account's keys keep working for the organization, with created_by cleared", async () => {
    const org = await team();
    const leaver = await person();
    await addMember(org, leaver.user, "admin");
    const created = await jsonOf<ApiKeyWithSecretDto>(
      await leaver.api.post(keysPath(org), { body: { name: "integration", scopes: ["org:read"] } }),
      201,
    );
    expect((await leaver.api.delete("/api/v1/users/me")).status).toBe(204);
    expect(await db.select().from(users).where(eq(users.id, leaver.user.id))).toEqual([]);
    expect((await readOrg(org, created.key)).status).toBe(200);
    const read = await jsonOf<ApiKeyDto>(await owner.api.get(keysPath(org, `/${created.id}`)), 200);
    expect(read.created_by).toBeNull();
  });
});

describe("security", () => {
  const org = crypto.randomUUID();
  const key = crypto.randomUUID();
  const someoneElses = (method: string, suffix: string) => async () => {
    const other = await createUser();
    const theirs = await createOrg(other.user);
    const { key: theirKey } = await createApiKey(theirs);
    const me = await person();
    await createOrg(me.user);
    return {
      path: `/api/v1/orgs/${theirs.id}/api-keys${suffix.replace("{id}", theirKey.id)}`,
      headers: { authorization: `Bearer ${(await signIn(me.user)).accessToken}` },
      method,
    };
  };
  const routes: Array<[string, string, unknown?]> = [
    ["POST", "", { name: "k", scopes: ["org:read"] }],
    ["GET", ""],
    ["GET", "/{id}"],
    ["PATCH", "/{id}", { name: "k" }],
    ["DELETE", "/{id}"],
    ["POST", "/{id}/rotate", {}],
  ];
  for (const [method, suffix, body] of routes) {
    securitySuite(`${method} /api/v1/orgs/{org_id}/api-keys${suffix.replace("{id}", "{key_id}")}`, {
      method,
      path: `/api/v1/orgs/${org}/api-keys${suffix.replace("{id}", key)}`,
      body,
      notOwned: someoneElses(method, suffix),
    });
  }
});
