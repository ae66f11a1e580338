/**
 * Authenticating with an API key: the checksum refuses forgeries before any
 * lookup; lookups are by SHA-256 of the whole secret, compared in constant time;
 * revoked, expired and rotated-out keys are refused at once on the isolate that
 * changed them even while KV still serves the old lookup; the secret never
 * reaches a log line or an error; last use is recorded at most once a minute off
 * the response path; test keys are refused in production; a key's own rate limit.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createApp } from "../src/app";
import { getDb } from "../src/db/client";
import { apiKeys } from "../src/db/schema";
import type { Bindings } from "../src/env";
import { createServiceContext } from "../src/lib/context";
import { sha256Hex, timingSafeEqual } from "../src/lib/crypto";
import { ANONYMOUS } from "../src/lib/principal";
import { ProblemError } from "../src/lib/problem";
import { authenticateApiKey, forgetKeyUses, matchSecretHash } from "../src/modules/api-keys/api-key-auth";
import { CACHE_TTL_SECONDS, forgetLocalInvalidations } from "../src/modules/api-keys/key-cache";
import { checksumOf, generateApiKey, parseApiKey } from "../src/modules/api-keys/key-format";
import { createUser, signIn, type TestUser } from "./support/factories";
import { as, jsonOf, problemOf } from "./support/http";
import { type ApiKeyWithSecretDto, apiKeyHeaders, createApiKey, createOrg, readOrg } from "./support/orgs";

vi.setConfig({ testTimeout: 30_000 });

const db = getDb(env);
let owner: TestUser;
let ownerToken: string;
beforeAll(async () => {
  owner = await createUser();
  ownerToken = (await signIn(owner.user)).accessToken;
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

/** The same secret with one random character changed and a checksum that holds again: a forgery of the right shape. */
function tamper(secret: string, at = 30): string {
  const replaced = secret[at] === "A" ? "B" : "A";
  const body = `${secret.slice(0, at)}${replaced}${secret.slice(at + 1, secret.length - 6)}`;
  return `${body}${checksumOf(body)}`;
}

/**
 * The same secret with its last checksum character changed to another one, so the checksum never holds
 * (replacing it with a fixed character would leave the key valid whenever it already was that character).
 */
function wrongChecksum(secret: string): string {
  return `${secret.slice(0, -1)}${secret.endsWith("0") ? "1" : "0"}`;
}

/** Everything about a 401 a client sees, minus what differs per request. */
async function refusal(res: Response) {
  const body = (await problemOf(res, 401)) as Record<string, unknown>;
  const { request_id: _r, instance: _i, ...rest } = body;
  return { ...rest, challenge: res.headers.get("www-authenticate") };
}

describe("key format", () => {
  it("is sk_live_/sk_test_ + 43 base62 + a 6-character CRC32 of the rest", () => {
    const secret = generateApiKey("live");
    expect(secret).toMatch(/^sk_live_[0-9A-Za-z]{49}$/);
    expect(parseApiKey(secret)).toEqual({ mode: "live" });
    expect(parseApiKey(generateApiKey("test"))).toEqual({ mode: "test" });
    // One mistyped character anywhere breaks the checksum.
    for (const at of [8, 20, 50, 55]) {
      const typo = `${secret.slice(0, at)}${secret[at] === "x" ? "y" : "x"}${secret.slice(at + 1)}`;
      expect(parseApiKey(typo), `typo at ${at}`).toBeNull();
    }
    expect(parseApiKey(`${secret} `)).toBeNull();
    expect(parseApiKey(secret.replace("sk_live_", "sk_prod_"))).toBeNull();
    expect(parseApiKey(tamper(secret))).toEqual({ mode: "live" });
  });
});

describe("refused before any lookup", () => {
  /**
   * A context whose D1 and KV record every use (and fail), to see whether authentication touched them.
   * Opening the context's D1 session is not a use (withSession() makes no call to the database):
   * it hands back a session that is a tripwire itself.
   */
  function tripwireContext() {
    const touched: string[] = [];
    const tripwire = <T extends object>(name: string): T =>
      new Proxy({} as T, {
        get: (_target, prop) =>
          prop === "withSession"
            ? () => tripwire(name)
            : () => {
                touched.push(`${name}.${String(prop)}`);
                throw new Error(`${name} was used`);
              },
      });
    const ctx = createServiceContext({
      env: { ...env, DB: tripwire<D1Database>("DB"), AUTH_KV: tripwire<KVNamespace>("AUTH_KV") } as Bindings,
      principal: ANONYMOUS,
      requestId: "tripwire",
    });
    touched.length = 0;
    return { ctx, touched };
  }

  it.each([
    ["a wrong checksum", () => wrongChecksum(generateApiKey("test"))],
    ["a typo", () => generateApiKey("test").replace(/^(.{20})./, "$1_")],
    ["a truncated key", () => generateApiKey("test").slice(0, 40)],
    ["an unknown prefix", () => generateApiKey("test").replace("sk_test_", "sk_demo_")],
  ])("%s: 401 without touching KV or D1", async (_label, make) => {
    const { ctx, touched } = tripwireContext();
    const error = await authenticateApiKey(ctx, make()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProblemError);
    expect((error as ProblemError).status).toBe(401);
    expect(touched).toEqual([]);
  });

  it("a well-formed key is looked up (the tripwire fires)", async () => {
    const { ctx, touched } = tripwireContext();
    await expect(authenticateApiKey(ctx, generateApiKey("test"))).rejects.toThrow("DB was used");
    expect(touched).toContain("AUTH_KV.get");
    expect(touched).toContain("DB.prepare");
  });
});

describe("a tampered key of the right shape", () => {
  /** D1 that records each statement's SQL and bound values, passing everything through. */
  /** The real D1, and every D1 session opened on it, recording each statement's SQL and bound values. */
  function recordingD1(log: Array<{ sql: string; params: unknown[] }>): D1Database {
    const recording = <T extends D1Database | D1DatabaseSession>(real: T): T =>
      new Proxy(real, {
        get(target, prop) {
          if (prop === "withSession") {
            return (start?: string) => recording((target as D1Database).withSession(start));
          }
          if (prop === "prepare") {
            return (sql: string) => {
              const statement = target.prepare(sql);
              return new Proxy(statement, {
                get(stmt, p) {
                  if (p === "bind") {
                    return (...params: unknown[]) => {
                      log.push({ sql, params });
                      return stmt.bind(...params);
                    };
                  }
                  const value = Reflect.get(stmt, p);
                  return typeof value === "function" ? value.bind(stmt) : value;
                },
              });
            };
          }
          const value = Reflect.get(target, prop);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
    return recording(env.DB);
  }

  it("gets exactly the 401 a random key gets, through a lookup by the SHA-256 of the whole secret", async () => {
    const org = await createOrg(owner.user);
    const { secret } = await createApiKey(org);
    const forged = tamper(secret);
    expect(forged.slice(0, 16)).toBe(secret.slice(0, 16)); // same display prefix as the real key
    expect(forged).not.toBe(secret);

    const forgedAnswer = await refusal(await readOrg(org, forged));
    const randomAnswer = await refusal(await readOrg(org, generateApiKey("test")));
    expect(forgedAnswer).toEqual(randomAnswer);
    expect(forgedAnswer).toMatchObject({ code: "invalid_token", detail: "The API key is not valid." });

    // What the lookup asks D1: the hash of the whole presented secret, never its prefix.
    const log: Array<{ sql: string; params: unknown[] }> = [];
    const app = createApp();
    const res = await app.request(
      `/api/v1/orgs/${org.id}`,
      { headers: apiKeyHeaders(forged) },
      { ...env, DB: recordingD1(log) },
    );
    expect(res.status).toBe(401);
    const lookups = log.filter((entry) => /api_key_secrets/.test(entry.sql));
    expect(lookups).toHaveLength(1);
    expect(lookups[0]?.params).toEqual([await sha256Hex(forged)]);
    const bound = JSON.stringify(log.map((entry) => entry.params));
    expect(bound).not.toContain(secret.slice(0, 16));
    expect(bound).not.toContain(forged.slice(0, 16));
  });

  it("is compared by hash against every candidate, with no early exit on a match or a mismatch", async () => {
    const real = generateApiKey("test");
    const forged = tamper(real);
    const candidates = [
      await sha256Hex(generateApiKey("test")),
      await sha256Hex(real),
      await sha256Hex(generateApiKey("test")),
    ];
    const calls: Array<[string, string]> = [];
    const counting = (a: string, b: string) => {
      calls.push([a, b]);
      return timingSafeEqual(a, b);
    };

    expect(matchSecretHash(await sha256Hex(forged), candidates, counting)).toBe(false);
    const forgedCalls = calls.splice(0);
    expect(matchSecretHash(await sha256Hex(real), candidates, counting)).toBe(true);
    const realCalls = calls.splice(0);
    // Same number of comparisons whether it matches (second candidate) or not.
    expect(forgedCalls).toHaveLength(3);
    expect(realCalls).toHaveLength(3);
    // Always fixed-length SHA-256 hex, never the key or its prefix.
    for (const [a, b] of [...forgedCalls, ...realCalls]) {
      expect(a).toMatch(/^[0-9a-f]{64}$/);
      expect(b).toMatch(/^[0-9a-f]{64}$/);
    }
  });
});

describe("lookups remembered by the isolate", () => {
  /** AUTH_KV as it is, counting the reads of API-key lookups. */
  function countingEnv() {
    const reads: string[] = [];
    const kv = new Proxy(env.AUTH_KV, {
      get(target, property) {
        const value = Reflect.get(target, property, target);
        if (property !== "get" || typeof value !== "function") {
          return typeof value === "function" ? value.bind(target) : value;
        }
        return (key: string, ...rest: unknown[]) => {
          if (key.startsWith("api-key:")) reads.push(key);
          return (value as (...args: unknown[]) => unknown).call(target, key, ...rest);
        };
      },
    });
    return { env: { ...env, AUTH_KV: kv } as Bindings, reads };
  }

  it("cost no KV read while fresh, and are read again once their minute is over", async () => {
    const org = await createOrg(owner.user);
    const { secret } = await createApiKey(org);
    const app = createApp();
    const counting = countingEnv();
    const read = () =>
      app.request(`/api/v1/orgs/${org.id}`, { headers: apiKeyHeaders(secret) }, counting.env);

    expect((await read()).status).toBe(200); // D1, then KV and memory
    const afterFirst = counting.reads.length;
    for (let i = 0; i < 5; i++) expect((await read()).status).toBe(200);
    expect(counting.reads).toHaveLength(afterFirst);

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + CACHE_TTL_SECONDS * 1000);
    expect((await read()).status).toBe(200);
    expect(counting.reads.length).toBeGreaterThan(afterFirst);
  });
});

describe("refused at once on this isolate, even while KV still serves the old lookup", () => {
  const kvEntries = async (secret: string, keyId: string) => ({
    secret: `api-key:secret:${await sha256Hex(secret)}`,
    id: `api-key:id:${keyId}`,
  });

  it("a revoked key", async () => {
    const org = await createOrg(owner.user);
    const { key, secret } = await createApiKey(org);
    expect((await readOrg(org, secret)).status).toBe(200);
    const entry = (await kvEntries(secret, key.id)).secret;
    const cached = await env.AUTH_KV.get(entry);
    expect(cached).not.toBeNull();

    expect((await as(ownerToken).delete(`/api/v1/orgs/${org.id}/api-keys/${key.id}`)).status).toBe(204);
    // KV elsewhere can lag for up to a minute: put the pre-revocation lookup back.
    await env.AUTH_KV.put(entry, cached as string, { expirationTtl: CACHE_TTL_SECONDS });
    expect((await problemOf(await readOrg(org, secret), 401)).detail).toBe("The API key has been revoked.");

    // Another isolate (no memory of the change) reading a KV location that still has the old
    // entry trusts it, and remembers it, until the lookup's minute is over: the documented
    // ~1 minute, counted from when the lookup was read from D1 (`cachedAt`), never extended.
    forgetLocalInvalidations();
    await env.AUTH_KV.put(entry, cached as string, { expirationTtl: CACHE_TTL_SECONDS });
    expect((await readOrg(org, secret)).status).toBe(200);
    await env.AUTH_KV.delete(entry);
    expect((await readOrg(org, secret)).status).toBe(200); // from this isolate's memory
    const { cachedAt } = JSON.parse(cached as string) as { cachedAt: number };
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(cachedAt + CACHE_TTL_SECONDS * 1000);
    expect((await readOrg(org, secret)).status).toBe(401);
  });

  it("a rotated-out secret", async () => {
    const org = await createOrg(owner.user);
    const { key, secret } = await createApiKey(org);
    expect((await readOrg(org, secret)).status).toBe(200);
    const entry = (await kvEntries(secret, key.id)).secret;
    const cached = (await env.AUTH_KV.get(entry)) as string;

    const rotated = await jsonOf<ApiKeyWithSecretDto>(
      await as(ownerToken).post(`/api/v1/orgs/${org.id}/api-keys/${key.id}/rotate`, { body: {} }),
      200,
    );
    await env.AUTH_KV.put(entry, cached, { expirationTtl: CACHE_TTL_SECONDS });
    expect((await readOrg(org, secret)).status).toBe(401);
    expect((await readOrg(org, rotated.key)).status).toBe(200);
  });

  it("a key whose scopes were narrowed", async () => {
    const org = await createOrg(owner.user);
    const { key, secret } = await createApiKey(org, { scopes: ["org:read", "tasks:read"] });
    expect((await readOrg(org, secret)).status).toBe(200);
    const entry = (await kvEntries(secret, key.id)).secret;
    const cached = (await env.AUTH_KV.get(entry)) as string;
    await as(ownerToken).patch(`/api/v1/orgs/${org.id}/api-keys/${key.id}`, {
      body: { scopes: ["tasks:read"] },
    });
    await env.AUTH_KV.put(entry, cached, { expirationTtl: CACHE_TTL_SECONDS });
    expect((await problemOf(await readOrg(org, secret), 403)).code).toBe("insufficient_scope");
  });

  it("an expired key, whose cached lookup still says active", async () => {
    const org = await createOrg(owner.user);
    const { secret } = await createApiKey(org, { expiresAt: new Date(Date.now() + 5 * 60_000) });
    expect((await readOrg(org, secret)).status).toBe(200);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 5 * 60_000 + 1);
    expect((await problemOf(await readOrg(org, secret), 401)).detail).toBe("The API key has expired.");
  });
});

describe("the secret never leaks", () => {
  it("appears in no log line, no error, no table and no answer but the two that hand it over", async () => {
    const app = createApp();
    const debugEnv = { ...env, LOG_LEVEL: "debug" };
    const lines: string[] = [];
    for (const method of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        lines.push(args.map((arg) => (typeof arg === "string" ? arg : JSON.stringify(arg))).join(" "));
      });
    }
    const bodies: string[] = [];
    const call = async (path: string, init: RequestInit = {}) => {
      const res = await app.request(path, init, debugEnv);
      const text = await res.text();
      return { status: res.status, text };
    };
    const asOwner = (method: string, path: string, body?: unknown) =>
      call(path, {
        method,
        headers: { authorization: `Bearer ${ownerToken}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });

    const org = await createOrg(owner.user);
    const base = `/api/v1/orgs/${org.id}/api-keys`;
    const created = await call(base, {
      method: "POST",
      headers: {
        authorization: `Bearer ${ownerToken}`,
        "content-type": "application/json",
        // A retry-safe create must not park the secret in the idempotency store.
        "idempotency-key": crypto.randomUUID(),
      },
      body: JSON.stringify({ name: "leak check", scopes: ["org:read"] }),
    });
    expect(created.status).toBe(201);
    const { id, key: secret } = JSON.parse(created.text) as { id: string; key: string };

    const record = (answer: { status: number; text: string }) => {
      bodies.push(answer.text);
      return answer;
    };
    record(await asOwner("GET", base));
    record(await asOwner("GET", `${base}/${id}`));
    expect(record(await call(`/api/v1/orgs/${org.id}`, { headers: apiKeyHeaders(secret) })).status).toBe(200);
    expect(
      record(await call(`/api/v1/orgs/${org.id}`, { headers: { authorization: `Bearer ${secret}` } })).status,
    ).toBe(200);
    expect(
      record(await call(`/api/v1/orgs/${org.id}`, { headers: apiKeyHeaders(tamper(secret)) })).status,
    ).toBe(401);
    // A secret sent where it does not belong is refused without being echoed.
    expect(record(await asOwner("PATCH", `${base}/${id}`, { name: secret })).status).toBe(400);
    expect(record(await asOwner("PATCH", `${base}/${id}`, { key: secret })).status).toBe(400);
    const token = record(
      await call("/api/v1/oauth/token", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: `grant_type=client_credentials&client_id=${id}&client_secret=${secret}`,
      }),
    );
    expect(token.status).toBe(200);
    const wrongSecret = record(
      await call("/api/v1/oauth/token", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          grant_type: "client_credentials",
          client_id: id,
          client_secret: tamper(secret),
        }),
      }),
    );
    expect(wrongSecret.status).toBe(401);
    const rotated = await asOwner("POST", `${base}/${id}/rotate`, {});
    const newSecret = (JSON.parse(rotated.text) as { key: string }).key;
    expect(record(await call(`/api/v1/orgs/${org.id}`, { headers: apiKeyHeaders(secret) })).status).toBe(401);
    record(await asOwner("DELETE", `${base}/${id}`));
    expect(record(await call(`/api/v1/orgs/${org.id}`, { headers: apiKeyHeaders(newSecret) })).status).toBe(
      401,
    );

    expect(lines.length).toBeGreaterThan(10);
    // Nor in any row of any table of D1.
    const tables = await env.DB.prepare(
      "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like '_cf_%'",
    ).all<{ name: string }>();
    const rows: unknown[] = [];
    for (const { name } of tables.results) {
      rows.push((await env.DB.prepare(`select * from "${name}"`).all()).results);
    }
    const everything = [...lines, ...bodies, JSON.stringify(rows)].join("\n");
    for (const leaked of [secret, newSecret]) {
      // The display prefix is public; the rest of the secret must appear nowhere.
      expect(everything).not.toContain(leaked.slice(16));
    }
  });
});

describe("last use", () => {
  async function fetchWithContext(path: string, headers: Record<string, string>, ip: string) {
    const ctx = createExecutionContext();
    const res = await createApp().fetch(
      new Request(`http://localhost${path}`, { headers: { ...headers, "cf-connecting-ip": ip } }),
      env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    return res;
  }
  const lastUse = async (keyId: string) => {
    const [row] = await db
      .select({ at: apiKeys.lastUsedAt, ip: apiKeys.lastUsedIp, updatedAt: apiKeys.updatedAt })
      .from(apiKeys)
      .where(eq(apiKeys.id, keyId));
    return row;
  };

  it("is written after the response, at most once a minute, whatever the isolate", async () => {
    const org = await createOrg(owner.user);
    const { key, secret } = await createApiKey(org);
    const path = `/api/v1/orgs/${org.id}`;
    expect((await fetchWithContext(path, apiKeyHeaders(secret), "203.0.113.1")).status).toBe(200);
    const first = await lastUse(key.id);
    expect(first?.ip).toBe("203.0.113.1");
    expect(first?.at).not.toBeNull();
    expect(first?.updatedAt).toEqual(key.updatedAt);

    await fetchWithContext(path, apiKeyHeaders(secret), "203.0.113.2");
    expect(await lastUse(key.id)).toEqual(first);
    // Another isolate does not remember the write; the conditional UPDATE still holds it to once a minute.
    forgetKeyUses();
    await fetchWithContext(path, apiKeyHeaders(secret), "203.0.113.3");
    expect(await lastUse(key.id)).toEqual(first);

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 61_000);
    await fetchWithContext(path, apiKeyHeaders(secret), "203.0.113.4");
    const later = await lastUse(key.id);
    expect(later?.ip).toBe("203.0.113.4");
    expect(later?.at?.getTime()).toBeGreaterThan(first?.at?.getTime() ?? 0);
  });
});

describe("environments", () => {
  const production = {
    ...env,
    ENVIRONMENT: "production",
    EMAIL_PROVIDER: "resend",
    RESEND_API_KEY: "re_test_placeholder",
  };

  it("production refuses sk_test_ keys, and issues sk_live_ keys that work there", async () => {
    const app = createApp();
    const org = await createOrg(owner.user);
    const { secret } = await createApiKey(org, { mode: "test" });
    const refused = await app.request(
      `/api/v1/orgs/${org.id}`,
      { headers: apiKeyHeaders(secret) },
      production,
    );
    expect((await problemOf(refused, 401)).detail).toBe(
      "Test keys (sk_test_…) cannot be used in production.",
    );
    // The header carries the same words in the printable ASCII RFC 6750 allows (the body keeps the ellipsis).
    expect(refused.headers.get("www-authenticate")).toBe(
      'Bearer error="invalid_token", error_description="Test keys (sk_test_...) cannot be used in production."',
    );

    const created = await app.request(
      `/api/v1/orgs/${org.id}/api-keys`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${ownerToken}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "live", scopes: ["org:read"] }),
      },
      production,
    );
    const live = await jsonOf<ApiKeyWithSecretDto>(created, 201);
    expect(live.mode).toBe("live");
    expect(live.key.startsWith("sk_live_")).toBe(true);
    const used = await app.request(
      `/api/v1/orgs/${org.id}`,
      { headers: apiKeyHeaders(live.key) },
      production,
    );
    expect(used.status).toBe(200);
  });
});

describe("a key's own rate limit", () => {
  it("replaces the api_key policy for that key", async () => {
    const org = await createOrg(owner.user);
    const { secret } = await createApiKey(org, { rateLimit: { limit: 2, windowSeconds: 60 } });
    const first = await readOrg(org, secret);
    expect(first.status).toBe(200);
    expect(first.headers.get("ratelimit-policy")).toBe('"api_key";q=2;w=60');
    expect(first.headers.get("x-ratelimit-limit")).toBe("2");
    expect((await readOrg(org, secret)).status).toBe(200);
    const third = await readOrg(org, secret);
    expect((await problemOf(third, 429)).code).toBe("rate_limited");

    const { secret: plain } = await createApiKey(org);
    expect((await readOrg(org, plain)).headers.get("ratelimit-policy")).toBe('"api_key";q=1000;w=60');
  });
});
