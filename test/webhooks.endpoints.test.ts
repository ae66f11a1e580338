/**
 * The webhook endpoints API through HTTP: create (secret shown once, stored sealed),
 * read, list, change, delete, rotate; every refusal names its field and is never a 500;
 * the SSRF rules refuse private and loopback URLs in production (and staging) and
 * accept them outside; other tenants get 404 on every route; API-key scopes; audit rows;
 * the event-type catalogue; Idempotency-Key.
 */
import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import fc from "fast-check";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { auditLogs, type Organization } from "../src/db/schema";
import { WEBHOOK_EVENT_TYPES } from "../src/modules/webhooks/event-catalog";
import {
  authorizationMatrix,
  type MatrixCaller,
  type MatrixPerson,
  type MatrixRow,
} from "./support/authz-matrix";
import { type Person, person } from "./support/factories";
import { api, apiWith, fieldsOf, jsonOf, type Page, problemOf } from "./support/http";
import { addMember, apiKeyHeaders, createApiKey, createOrg } from "./support/orgs";
import { securitySuite } from "./support/security";
import { holdJobsQueue } from "./support/tasks";
import {
  type DeliveryDto,
  deliveryRow,
  type EndpointDto,
  type EndpointWithSecret,
  endpointRow,
  fakeReceiver,
  RECEIVER_URL,
  reply,
  runWebhookJobs,
  webhooksClient,
} from "./support/webhooks";

vi.setConfig({ testTimeout: 30_000 });

let owner: Person;
let admin: Person;
let member: Person;
let org: Organization;
let hooks: ReturnType<typeof webhooksClient>;
/** Another tenant: its owner, organization and an endpoint of it. */
let stranger: Person;
let otherOrg: Organization;
let theirs: EndpointWithSecret;

beforeAll(async () => {
  owner = await person();
  admin = await person();
  member = await person();
  org = await createOrg(owner.user, { name: "Hooked" });
  await addMember(org, admin.user, "admin");
  await addMember(org, member.user, "member");
  hooks = webhooksClient(owner.token, org.id);
  stranger = await person();
  otherOrg = await createOrg(stranger.user);
  theirs = await webhooksClient(stranger.token, otherOrg.id).create({
    url: RECEIVER_URL,
    event_types: ["*"],
  });
});

let queue: ReturnType<typeof holdJobsQueue>;
beforeEach(() => {
  queue = holdJobsQueue();
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

const production = { ENVIRONMENT: "production", EMAIL_PROVIDER: "resend", RESEND_API_KEY: "re_placeholder" };

describe("POST /orgs/{org_id}/webhook-endpoints", () => {
  it("answers 201 with the secret once; reads never show it, and it is stored sealed", async () => {
    const res = await hooks.post(hooks.base, {
      body: {
        url: "https://hooks.example.com/a",
        description: "  Orders  ",
        event_types: ["task.completed", "member.added"],
      },
    });
    const created = await jsonOf<EndpointWithSecret>(res, 201);
    expect(res.headers.get("location")).toBe(`${hooks.base}/${created.id}`);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(created).toMatchObject({
      url: "https://hooks.example.com/a",
      description: "Orders",
      event_types: ["task.completed", "member.added"],
      enabled: true,
      disabled_reason: null,
      failing_since: null,
      previous_secret_expires_at: null,
      created_by: owner.user.id,
    });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(atob(created.secret.slice("whsec_".length))).toHaveLength(32);

    const read = await jsonOf<EndpointDto>(await hooks.get(`${hooks.base}/${created.id}`), 200);
    const listed = await jsonOf<Page<EndpointDto>>(await hooks.get(hooks.base), 200);
    for (const shown of [read, ...listed.data]) expect(JSON.stringify(shown)).not.toMatch(/whsec_|secret"/);
    expect(listed.data.map((endpoint) => endpoint.id)).toContain(created.id);

    const row = await endpointRow(created.id);
    expect(row?.secretCiphertext).toMatch(/^v1\./);
    expect(row?.secretCiphertext).not.toContain(created.secret.slice(6, 20));
  });

  it("answers 503 webhooks_not_configured without WEBHOOK_SECRET_ENCRYPTION_KEY", async () => {
    const res = await apiWith({ WEBHOOK_SECRET_ENCRYPTION_KEY: "" }, "POST", hooks.base, {
      token: owner.token,
      body: { url: RECEIVER_URL, event_types: ["*"] },
    });
    expect((await problemOf(res, 503)).code).toBe("webhooks_not_configured");
  });

  it("refuses bad input with a 400 naming the field", async () => {
    const cases: Array<[unknown, string]> = [
      [{ event_types: ["*"] }, "/url"],
      [{ url: RECEIVER_URL }, "/event_types"],
      [{ url: RECEIVER_URL, event_types: [] }, "/event_types"],
      [{ url: RECEIVER_URL, event_types: ["task.exploded"] }, "/event_types/0"],
      [{ url: RECEIVER_URL, event_types: ["*", "task.failed"] }, "/event_types"],
      [{ url: RECEIVER_URL, event_types: ["task.failed", "task.failed"] }, "/event_types"],
      [{ url: RECEIVER_URL, event_types: ["*"], description: "a\u0007b" }, "/description"],
      [{ url: RECEIVER_URL, event_types: ["*"], description: "x".repeat(501) }, "/description"],
      [{ url: RECEIVER_URL, event_types: ["*"], enabled: "yes" }, "/enabled"],
      [{ url: RECEIVER_URL, event_types: ["*"], secret: "whsec_mine" }, "/secret"],
      [{ url: 42, event_types: ["*"] }, "/url"],
      [{ url: "not a url", event_types: ["*"] }, "/url"],
      [{ url: "ftp://files.example.com/", event_types: ["*"] }, "/url"],
      [{ url: "https://user:pass@hooks.example.com/", event_types: ["*"] }, "/url"],
      [{ url: `https://example.com/${"a".repeat(2100)}`, event_types: ["*"] }, "/url"],
    ];
    for (const [body, field] of cases) {
      const problem = await problemOf(await hooks.post(hooks.base, { body }), 400);
      expect(fieldsOf(problem), JSON.stringify(body).slice(0, 100)).toContain(field);
    }
  });

  it("never answers a 500, whatever the body", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            url: fc.oneof(fc.string(), fc.webUrl(), fc.constant("http://[::1]:80/"), fc.integer()),
            event_types: fc.oneof(fc.array(fc.constantFrom(...WEBHOOK_EVENT_TYPES, "*", "x")), fc.string()),
            description: fc.oneof(fc.string(), fc.constant(null)),
            enabled: fc.oneof(fc.boolean(), fc.string()),
          },
          { requiredKeys: [] },
        ),
        async (body) => {
          const res = await hooks.post(hooks.base, { body });
          expect(res.status).toBeLessThan(500);
          if (res.status === 201) {
            const created = await jsonOf<EndpointDto>(res, 201);
            await hooks.delete(`${hooks.base}/${created.id}`);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it("caps an organization at 20 endpoints (409 webhook_endpoint_limit)", async () => {
    const crowded = await createOrg(owner.user);
    const client = webhooksClient(owner.token, crowded.id);
    for (let i = 0; i < 20; i++) await client.create({ url: `${RECEIVER_URL}/${i}`, event_types: ["*"] });
    const res = await client.post(client.base, { body: { url: RECEIVER_URL, event_types: ["*"] } });
    expect((await problemOf(res, 409)).code).toBe("webhook_endpoint_limit");
  });
});

describe("SSRF rules", () => {
  const refused = [
    "https://127.1/hook",
    "https://0x7f000001/hook",
    "https://017700000001/hook",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://10.0.0.8/hook",
    "https://172.16.5.4/hook",
    "https://172.31.255.254/hook",
    "https://192.168.1.10/hook",
    "https://100.64.0.1/hook",
    "https://[fc00::1]/hook",
    "https://[fd00:ec2::254]/hook",
    "https://[fe80::1]/hook",
    "https://localhost./hook",
    "https://localhost/hook",
    "https://foo.localhost/hook",
    "https://printer.local/hook",
    "https://metadata.google.internal/computeMetadata/v1",
    "https://intranet/hook",
    "https://user@hooks.example.com/hook",
    "http://hooks.example.com/hook",
    "http://127.0.0.1:8080/hook",
    "http://localhost:3000/hook",
    "https://hooks.example.com:22/hook",
  ];

  it("refuses private, loopback, link-local and local URLs in production with 400 url_not_allowed naming /url", async () => {
    for (const url of refused) {
      const res = await apiWith(production, "POST", hooks.base, {
        token: owner.token,
        body: { url, event_types: ["*"] },
      });
      const problem = await problemOf(res, 400);
      expect(problem.code, url).toBe("url_not_allowed");
      expect(fieldsOf(problem), url).toEqual(["/url"]);
    }
  });

  it("applies the same rules in staging, and to PATCH", async () => {
    const staging = await apiWith({ ENVIRONMENT: "staging" }, "POST", hooks.base, {
      token: owner.token,
      body: { url: "https://10.1.2.3/", event_types: ["*"] },
    });
    expect((await problemOf(staging, 400)).code).toBe("url_not_allowed");
    const endpoint = await hooks.create({ url: RECEIVER_URL, event_types: ["*"] });
    const patched = await apiWith(production, "PATCH", `${hooks.base}/${endpoint.id}`, {
      token: owner.token,
      body: { url: "https://[::ffff:10.0.0.1]/" },
    });
    expect((await problemOf(patched, 400)).code).toBe("url_not_allowed");
  });

  it("accepts a public https URL in production", async () => {
    const res = await apiWith(production, "POST", hooks.base, {
      token: owner.token,
      body: { url: "https://hooks.example.com:8443/edge", event_types: ["*"] },
    });
    expect((await jsonOf<EndpointDto>(res, 201)).url).toBe("https://hooks.example.com:8443/edge");
  });

  it("accepts loopback and private receivers outside production, so a local receiver works", async () => {
    for (const url of [
      "http://127.0.0.1:8080/hook",
      "http://localhost:3000/hook",
      "https://[::1]/hook",
      "http://192.168.1.10/",
    ]) {
      const created = await hooks.create({ url, event_types: ["*"] });
      expect(created.url, url).toBe(new URL(url).href);
      await hooks.delete(`${hooks.base}/${created.id}`);
    }
    // Credentials in the URL are refused everywhere.
    const problem = await problemOf(
      await hooks.post(hooks.base, { body: { url: "http://user:pw@localhost:3000/", event_types: ["*"] } }),
      400,
    );
    expect(problem.code).toBe("url_not_allowed");
  });
});

describe("PATCH and DELETE", () => {
  it("changes url, description, event types and enabled, with an audit row for each change", async () => {
    const endpoint = await hooks.create({ url: RECEIVER_URL, event_types: ["task.failed"] });
    const res = await hooks.patch(`${hooks.base}/${endpoint.id}`, {
      body: { url: "https://hooks.example.com/v2", description: "v2", event_types: ["*"], enabled: false },
    });
    const changed = await jsonOf<EndpointDto>(res, 200);
    expect(changed).toMatchObject({
      url: "https://hooks.example.com/v2",
      description: "v2",
      event_types: ["*"],
      enabled: false,
      disabled_reason: "manual",
    });
    expect(changed.disabled_at).not.toBeNull();
    const back = await jsonOf<EndpointDto>(
      await hooks.patch(`${hooks.base}/${endpoint.id}`, { body: { enabled: true, description: null } }),
      200,
    );
    expect(back).toMatchObject({
      enabled: true,
      disabled_reason: null,
      disabled_at: null,
      description: null,
    });

    await jsonOf(await hooks.post(`${hooks.base}/${endpoint.id}/rotate-secret`), 200);
    expect((await hooks.delete(`${hooks.base}/${endpoint.id}`)).status).toBe(204);
    expect((await problemOf(await hooks.get(`${hooks.base}/${endpoint.id}`), 404)).code).toBe("not_found");

    const rows = await getDb(env)
      .select()
      .from(auditLogs)
      .where(and(eq(auditLogs.targetType, "webhook_endpoint"), eq(auditLogs.targetId, endpoint.id)));
    expect(rows.map((row) => row.action)).toEqual([
      "webhook_endpoint.create",
      "webhook_endpoint.update",
      "webhook_endpoint.update",
      "webhook_endpoint.rotate_secret",
      "webhook_endpoint.delete",
    ]);
    expect(rows.every((row) => row.actorId === owner.user.id)).toBe(true);
    expect(JSON.stringify(rows)).not.toMatch(/whsec_|v1\./);
  });

  it("deletes the delivery log with the endpoint", async () => {
    const endpoint = await hooks.create({ url: RECEIVER_URL, event_types: ["*"] });
    const delivery = await hooks.test(endpoint.id);
    expect((await hooks.delete(`${hooks.base}/${endpoint.id}`)).status).toBe(204);
    // Its queued message finds nothing and sends nothing.
    const receiver = fakeReceiver(reply(200));
    await runWebhookJobs(queue.held);
    expect(receiver.requests).toHaveLength(0);
    expect(await deliveryRow(delivery.id)).toBeUndefined();
  });
});

describe("deliveries list", () => {
  it("pages newest first and filters by status", async () => {
    const endpoint = await hooks.create({ url: RECEIVER_URL, event_types: ["*"] });
    fakeReceiver(reply(200), reply(500), reply(200));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await hooks.test(endpoint.id)).id);
      await runWebhookJobs(queue.held);
    }
    const all = await hooks.deliveries(endpoint.id, "?limit=2");
    expect(all.meta.total).toBe(3);
    expect(all.data.map((delivery) => delivery.id)).toEqual([ids[2], ids[1]]);
    const rest = await hooks.deliveries(endpoint.id, `?limit=2&cursor=${all.meta.next}`);
    expect(rest.data.map((delivery) => delivery.id)).toEqual([ids[0]]);
    const retrying = await hooks.deliveries(endpoint.id, "?filter[status]=retrying");
    expect(retrying.data.map((delivery: DeliveryDto) => delivery.id)).toEqual([ids[1]]);
    const succeeded = await hooks.deliveries(endpoint.id, "?filter[status]=succeeded");
    expect(succeeded.meta.total).toBe(2);

    for (const query of [
      "?filter[status]=exploded",
      "?filter[event_type]=x",
      "?sort=url",
      "?limit=0",
      "?cursor=zzz",
    ]) {
      const problem = await problemOf(
        await hooks.get(`${hooks.base}/${endpoint.id}/deliveries${query}`),
        400,
      );
      expect(problem.errors?.length, query).toBeGreaterThan(0);
    }
  });

  it("honours Idempotency-Key on the test event: the retry replays, no second delivery", async () => {
    const endpoint = await hooks.create({ url: RECEIVER_URL, event_types: ["*"] });
    const headers = { "idempotency-key": crypto.randomUUID() };
    const first = await jsonOf<DeliveryDto>(
      await hooks.post(`${hooks.base}/${endpoint.id}/test`, { headers }),
      202,
    );
    const again = await hooks.post(`${hooks.base}/${endpoint.id}/test`, { headers });
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect((await jsonOf<DeliveryDto>(again, 202)).id).toBe(first.id);
    expect((await hooks.deliveries(endpoint.id)).meta.total).toBe(1);
  });
});

describe("who may do what", () => {
  it("keeps other tenants out: every route answers 404 for another organization's endpoint or delivery", async () => {
    const mine = await hooks.create({ url: RECEIVER_URL, event_types: ["*"] });
    const myDelivery = await hooks.test(mine.id);
    const theirDelivery = await webhooksClient(stranger.token, otherOrg.id).test(theirs.id);
    const outsider = webhooksClient(stranger.token, org.id);
    const routes = (
      base: string,
      endpointId: string,
      deliveryId: string,
    ): Array<[string, string, unknown?]> => [
      ["GET", base],
      ["POST", base, { url: RECEIVER_URL, event_types: ["*"] }],
      ["GET", `${base}/${endpointId}`],
      ["PATCH", `${base}/${endpointId}`, { enabled: false }],
      ["DELETE", `${base}/${endpointId}`],
      ["POST", `${base}/${endpointId}/rotate-secret`],
      ["POST", `${base}/${endpointId}/test`],
      ["GET", `${base}/${endpointId}/deliveries`],
      ["GET", `${base}/${endpointId}/deliveries/${deliveryId}`],
      ["POST", `${base}/${endpointId}/deliveries/${deliveryId}/retry`],
    ];
    // A stranger on my organization's paths.
    for (const [method, path, body] of routes(outsider.base, mine.id, myDelivery.id)) {
      const res = await api(method, path, { token: stranger.token, body });
      expect((await problemOf(res, 404)).code, `${method} ${path}`).toBe("not_found");
    }
    // Me, on my organization's paths, with their endpoint and delivery ids.
    for (const [method, path, body] of routes(hooks.base, theirs.id, theirDelivery.id).slice(2)) {
      const res = await api(method, path, { token: owner.token, body });
      expect((await problemOf(res, 404)).code, `${method} ${path}`).toBe("not_found");
    }
    // My endpoint with their delivery id.
    const crossed = await hooks.get(`${hooks.base}/${mine.id}/deliveries/${theirDelivery.id}`);
    expect((await problemOf(crossed, 404)).code).toBe("not_found");
    expect((await endpointRow(theirs.id))?.enabled).toBe(true);
  });

  it("lets owners and admins in, not members", async () => {
    expect((await admin.api.get(hooks.base)).status).toBe(200);
    const created = await jsonOf<EndpointDto>(
      await admin.api.post(hooks.base, { body: { url: RECEIVER_URL, event_types: ["*"] } }),
      201,
    );
    for (const [method, path] of [
      ["GET", hooks.base],
      ["POST", hooks.base],
      ["GET", `${hooks.base}/${created.id}`],
      ["GET", `${hooks.base}/${created.id}/deliveries`],
    ] as const) {
      const res = await api(method, path, {
        token: member.token,
        body: method === "POST" ? { url: RECEIVER_URL, event_types: ["*"] } : undefined,
      });
      expect((await problemOf(res, 403)).code, `${method} ${path}`).toBe("forbidden");
    }
  });

  it("lets API keys in by scope: webhooks:read reads, webhooks:write writes", async () => {
    const reader = await createApiKey(org, { scopes: ["webhooks:read"] });
    const writer = await createApiKey(org, { scopes: ["webhooks:write"] });
    const neither = await createApiKey(org, { scopes: ["tasks:read"] });
    const all = await createApiKey(org, { scopes: ["*"] });
    const as = (secret: string, method: string, path: string, body?: unknown) =>
      api(method, path, { headers: apiKeyHeaders(secret), body });
    const body = { url: RECEIVER_URL, event_types: ["task.completed"] };

    const created = await jsonOf<EndpointWithSecret>(await as(writer.secret, "POST", hooks.base, body), 201);
    expect(created.created_by).toBeNull();
    expect((await as(reader.secret, "GET", hooks.base)).status).toBe(200);
    expect((await as(reader.secret, "GET", `${hooks.base}/${created.id}`)).status).toBe(200);
    expect((await as(all.secret, "GET", hooks.base)).status).toBe(200);

    const refusals: Array<[string, string, string, unknown?]> = [
      [reader.secret, "POST", hooks.base, body],
      [reader.secret, "POST", `${hooks.base}/${created.id}/test`],
      [reader.secret, "DELETE", `${hooks.base}/${created.id}`],
      [writer.secret, "GET", hooks.base],
      [neither.secret, "GET", hooks.base],
      [neither.secret, "POST", hooks.base, body],
    ];
    for (const [secret, method, path, payload] of refusals) {
      const res = await as(secret, method, path, payload);
      const problem = await problemOf(res, 403);
      expect(problem.code, `${method} ${path}`).toBe("insufficient_scope");
    }
    // A key of another organization: 404.
    const foreign = await createApiKey(otherOrg, { scopes: ["webhooks:read", "webhooks:write"] });
    expect((await problemOf(await as(foreign.secret, "GET", hooks.base), 404)).code).toBe("not_found");
    expect((await as(writer.secret, "DELETE", `${hooks.base}/${created.id}`)).status).toBe(204);
  });

  securitySuite("GET /orgs/{org_id}/webhook-endpoints", {
    method: "GET",
    path: () => `/api/v1/orgs/${org.id}/webhook-endpoints`,
    forbidden: async () => ({ authorization: `Bearer ${member.token}` }),
    notOwned: async () => ({
      path: `/api/v1/orgs/${otherOrg.id}/webhook-endpoints`,
      headers: { authorization: `Bearer ${owner.token}` },
    }),
  });

  securitySuite("POST /orgs/{org_id}/webhook-endpoints/{id}/rotate-secret", {
    method: "POST",
    path: () => `/api/v1/orgs/${org.id}/webhook-endpoints/${theirs.id}/rotate-secret`,
    forbidden: async () => ({ authorization: `Bearer ${member.token}` }),
    notOwned: async () => ({
      path: `/api/v1/orgs/${otherOrg.id}/webhook-endpoints/${theirs.id}/rotate-secret`,
      headers: { authorization: `Bearer ${owner.token}` },
    }),
  });
});

describe("authorization matrix", () => {
  type Fixture = {
    base: string;
    endpointId: string;
    deliveryId: string;
    headers: Record<MatrixCaller, Record<string, string>>;
  };
  /** The "key without scope" holds the other webhooks scope: read does not grant write, nor write read. */
  type Row = MatrixRow<Fixture, "webhooks:read" | "webhooks:write">;
  const reads = (ok: number): Row["expect"] => [ok, ok, 403, 403, 404, ok, 403, 404];
  const ROWS: Row[] = [
    { route: "GET …", method: "GET", path: (f) => f.base, scope: "webhooks:read", expect: reads(200) },
    {
      route: "POST …",
      method: "POST",
      path: (f) => f.base,
      body: () => ({ url: RECEIVER_URL, event_types: ["*"] }),
      scope: "webhooks:write",
      expect: reads(201),
    },
    {
      route: "GET …/{id}",
      method: "GET",
      path: (f) => `${f.base}/${f.endpointId}`,
      scope: "webhooks:read",
      expect: reads(200),
    },
    {
      route: "PATCH …/{id}",
      method: "PATCH",
      path: (f) => `${f.base}/${f.endpointId}`,
      body: () => ({ description: "changed" }),
      scope: "webhooks:write",
      expect: reads(200),
    },
    {
      route: "DELETE …/{id}",
      method: "DELETE",
      path: (f) => `${f.base}/${f.endpointId}`,
      scope: "webhooks:write",
      expect: reads(204),
    },
    {
      route: "POST …/{id}/rotate-secret",
      method: "POST",
      path: (f) => `${f.base}/${f.endpointId}/rotate-secret`,
      scope: "webhooks:write",
      expect: reads(200),
    },
    {
      route: "POST …/{id}/test",
      method: "POST",
      path: (f) => `${f.base}/${f.endpointId}/test`,
      scope: "webhooks:write",
      expect: reads(202),
    },
    {
      route: "GET …/{id}/deliveries",
      method: "GET",
      path: (f) => `${f.base}/${f.endpointId}/deliveries`,
      scope: "webhooks:read",
      expect: reads(200),
    },
    {
      route: "GET …/{id}/deliveries/{delivery_id}",
      method: "GET",
      path: (f) => `${f.base}/${f.endpointId}/deliveries/${f.deliveryId}`,
      scope: "webhooks:read",
      expect: reads(200),
    },
    {
      route: "POST …/{id}/deliveries/{delivery_id}/retry",
      method: "POST",
      path: (f) => `${f.base}/${f.endpointId}/deliveries/${f.deliveryId}/retry`,
      scope: "webhooks:write",
      expect: reads(202),
    },
  ];

  const people: Partial<Record<MatrixPerson, Person>> = {};
  beforeAll(async () => {
    for (const caller of ["owner", "admin", "member", "billing", "non_member"] as const)
      people[caller] = await person();
  });

  async function fixture(scope: Row["scope"]): Promise<Fixture> {
    const p = people as Record<MatrixPerson, Person>;
    const organization = await createOrg(p.owner.user);
    await addMember(organization, p.admin.user, "admin");
    await addMember(organization, p.member.user, "member");
    await addMember(organization, p.billing.user, "billing");
    const client = webhooksClient(p.owner.token, organization.id);
    const endpoint = await client.create({ url: RECEIVER_URL, event_types: ["*"] });
    const delivery = await client.test(endpoint.id);
    const other = scope === "webhooks:read" ? "webhooks:write" : "webhooks:read";
    const key = async (org: Organization, scopes: Array<"webhooks:read" | "webhooks:write">) =>
      apiKeyHeaders((await createApiKey(org, { scopes })).secret);
    const bearer = (who: Person) => ({ authorization: `Bearer ${who.token}` });
    return {
      base: client.base,
      endpointId: endpoint.id,
      deliveryId: delivery.id,
      headers: {
        owner: bearer(p.owner),
        admin: bearer(p.admin),
        member: bearer(p.member),
        billing: bearer(p.billing),
        non_member: bearer(p.non_member),
        key_with_scope: await key(organization, [scope]),
        key_without_scope: await key(organization, [other]),
        key_other_org: await key(otherOrg, ["webhooks:read", "webhooks:write"]),
      },
    };
  }

  authorizationMatrix(ROWS, {
    fixture,
    headers: (caller, f) => f.headers[caller],
    snapshot: (f) => endpointRow(f.endpointId),
  });
});

describe("GET /api/v1/webhooks/event-types", () => {
  it("lists every event type with a description and a JSON Schema of its body, without credentials", async () => {
    const res = await api("GET", "/api/v1/webhooks/event-types");
    const catalogue = await jsonOf<{
      data: Array<{ type: string; description: string; schema: Record<string, unknown> }>;
    }>(res, 200);
    expect(catalogue.data.map((entry) => entry.type)).toEqual([
      "task.completed",
      "task.failed",
      "member.added",
      "member.removed",
      "invitation.accepted",
      "api_key.created",
      "api_key.revoked",
      "subscription.updated",
      "credits.low",
      "webhook.test",
    ]);
    for (const entry of catalogue.data) {
      expect(entry.description.length, entry.type).toBeGreaterThan(10);
      expect(entry.schema).toMatchObject({
        $schema: "https://json-schema.org/draft/2020-12/schema",
        type: "object",
        required: ["type", "timestamp", "data"],
        properties: { type: { const: entry.type }, data: { type: "object" } },
      });
    }
    const completed = catalogue.data.find((entry) => entry.type === "task.completed");
    const properties = completed?.schema.properties as Record<string, { required?: string[] }> | undefined;
    const data = properties?.data;
    expect(data?.required).toEqual(expect.arrayContaining(["organization_id", "id", "status", "result"]));
  });

  it("is in the OpenAPI document with every webhook route", async () => {
    const doc = await jsonOf<{
      paths: Record<string, Record<string, { tags?: string[]; responses: object }>>;
    }>(await api("GET", "/api/openapi.json"), 200);
    const paths = Object.keys(doc.paths).filter(
      (path) => path.includes("webhook-endpoints") || path.endsWith("/event-types"),
    );
    expect(paths.sort()).toEqual(
      [
        "/api/v1/orgs/{org_id}/webhook-endpoints",
        "/api/v1/orgs/{org_id}/webhook-endpoints/{id}",
        "/api/v1/orgs/{org_id}/webhook-endpoints/{id}/rotate-secret",
        "/api/v1/orgs/{org_id}/webhook-endpoints/{id}/test",
        "/api/v1/orgs/{org_id}/webhook-endpoints/{id}/deliveries",
        "/api/v1/orgs/{org_id}/webhook-endpoints/{id}/deliveries/{delivery_id}",
        "/api/v1/orgs/{org_id}/webhook-endpoints/{id}/deliveries/{delivery_id}/retry",
        "/api/v1/webhooks/event-types",
      ].sort(),
    );
  });
});
