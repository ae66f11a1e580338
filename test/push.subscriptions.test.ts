/**
 * Devices that receive push notifications, through HTTP as a client registers them:
 * POST/GET /api/v1/users/me/push-subscriptions, DELETE /{id}, and the VAPID public key
 * a browser subscribes with. Registering twice is one device; a device follows the
 * account that registered it last and the session that registered it; every refusal
 * names its field; other users' devices are 404s.
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { pushSubscriptions } from "../src/db/schema";
import type { PushSubscriptionDto } from "../src/modules/push/push.schemas";
import { vapidKeys } from "../src/modules/push/vapid";
import { person, signIn } from "./support/factories";
import { api, apiWith, as, fieldsOf, jsonOf, type Page, problemOf } from "./support/http";
import { newServiceAccount, newSubscriber } from "./support/push";
import { securitySuite } from "./support/security";

const PATH = "/api/v1/users/me/push-subscriptions";

let endpointSequence = 0;
/** A push service URL no other test uses (the endpoint is unique across accounts). */
const newEndpoint = (host = "fcm.googleapis.com") =>
  `https://${host}/fcm/send/test-${++endpointSequence}-${crypto.randomUUID()}`;

async function webpushBody(endpoint = newEndpoint()) {
  const subscriber = await newSubscriber();
  return { type: "webpush", endpoint, keys: subscriber.keys };
}

const fcmToken = () =>
  `${crypto.randomUUID().replaceAll("-", "")}:APA91bH${crypto.randomUUID().replaceAll("-", "")}`;

describe("POST /users/me/push-subscriptions", () => {
  it("registers a browser: 201 with Location, the device as listed, no keys echoed", async () => {
    const ada = await person();
    const body = await webpushBody();
    const res = await ada.api.post(PATH, {
      body,
      headers: { "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0" },
    });
    const device = await jsonOf<PushSubscriptionDto>(res, 201);
    expect(res.headers.get("location")).toBe(`${PATH}/${device.id}`);
    expect(device).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      type: "webpush",
      endpoint: body.endpoint,
      token: null,
      user_agent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
      created_at: expect.any(String),
      updated_at: expect.any(String),
      last_delivered_at: null,
    });
    expect(JSON.stringify(device)).not.toContain(body.keys.auth);
  });

  it("registering the same endpoint again updates that device (200, same id, new keys)", async () => {
    const ada = await person();
    const first = await webpushBody();
    const created = await jsonOf<PushSubscriptionDto>(await ada.api.post(PATH, { body: first }), 201);
    const again = { ...first, keys: (await newSubscriber()).keys };
    const res = await ada.api.post(PATH, { body: again });
    const updated = await jsonOf<PushSubscriptionDto>(res, 200);
    expect(updated.id).toBe(created.id);
    expect(res.headers.get("location")).toBe(`${PATH}/${created.id}`);
    const rows = await getDb(env)
      .select()
      .from(pushSubscriptions)
      .where(eq(pushSubscriptions.target, first.endpoint));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ p256dh: again.keys.p256dh, auth: again.keys.auth, userId: ada.user.id });
  });

  it("registers an app by its FCM token when FCM is configured, once per token", async () => {
    const ada = await person();
    const account = await newServiceAccount();
    const token = fcmToken();
    const post = () =>
      apiWith({ FCM_SERVICE_ACCOUNT: account.json }, "POST", PATH, {
        token: ada.token,
        body: { type: "fcm", token },
      });
    const created = await jsonOf<PushSubscriptionDto>(await post(), 201);
    expect(created).toMatchObject({ type: "fcm", token, endpoint: null });
    expect((await jsonOf<PushSubscriptionDto>(await post(), 200)).id).toBe(created.id);
  });

  it("moves a device to the account that registers it last (a shared browser)", async () => {
    const ada = await person();
    const grace = await person();
    const body = await webpushBody();
    const adas = await jsonOf<PushSubscriptionDto>(await ada.api.post(PATH, { body }), 201);
    const graces = await jsonOf<PushSubscriptionDto>(await grace.api.post(PATH, { body }), 200);
    expect(graces.id).toBe(adas.id);
    expect((await jsonOf<Page<PushSubscriptionDto>>(await ada.api.get(PATH), 200)).data).toEqual([]);
    expect(
      (await jsonOf<Page<PushSubscriptionDto>>(await grace.api.get(PATH), 200)).data.map((d) => d.id),
    ).toEqual([adas.id]);
    expect((await problemOf(await ada.api.delete(`${PATH}/${adas.id}`), 404)).code).toBe("not_found");
  });

  it("keeps at most 20 devices per account: the least recently registered makes room", async () => {
    const ada = await person();
    const ids: string[] = [];
    for (let index = 0; index < 21; index++) {
      ids.push(
        (await jsonOf<PushSubscriptionDto>(await ada.api.post(PATH, { body: await webpushBody() }), 201)).id,
      );
    }
    const page = await jsonOf<Page<PushSubscriptionDto>>(await ada.api.get(`${PATH}?limit=100`), 200);
    expect(page.meta.total).toBe(20);
    expect(page.data.map((device) => device.id).sort()).toEqual(ids.slice(1).sort());
  });

  it("accepts padded base64url keys (some libraries add '=') and stores them unpadded", async () => {
    const ada = await person();
    const body = await webpushBody();
    const padded = { ...body, keys: { p256dh: `${body.keys.p256dh}=`, auth: `${body.keys.auth}==` } };
    const device = await jsonOf<PushSubscriptionDto>(await ada.api.post(PATH, { body: padded }), 201);
    const [row] = await getDb(env)
      .select()
      .from(pushSubscriptions)
      .where(eq(pushSubscriptions.id, device.id));
    expect(row).toMatchObject({ p256dh: body.keys.p256dh, auth: body.keys.auth });
  });
});

describe("POST /users/me/push-subscriptions: refusals name the field", () => {
  const refused = async (body: unknown, pointer: string, vars: Record<string, string> = {}) => {
    const ada = await person();
    const res = Object.keys(vars).length
      ? await apiWith(vars, "POST", PATH, { token: ada.token, body })
      : await ada.api.post(PATH, { body });
    const problem = await problemOf(res, 400);
    expect(problem.code).toBe("validation_failed");
    expect(fieldsOf(problem)).toContain(pointer);
    return problem;
  };

  it("an unknown type, a missing endpoint, extra fields", async () => {
    await refused({ type: "apns", token: "x".repeat(64) }, "/type");
    await refused({ type: "webpush", keys: (await newSubscriber()).keys }, "/endpoint");
    await refused({ ...(await webpushBody()), expirationTime: null }, "/expirationTime");
    await refused({ type: "fcm", token: "short" }, "/token");
    await refused({ type: "fcm", token: `${"a".repeat(40)} ${"b".repeat(10)}` }, "/token");
  });

  it("keys of the wrong size or alphabet, and a p256dh that is not a point on P-256", async () => {
    const body = await webpushBody();
    await refused({ ...body, keys: { ...body.keys, p256dh: body.keys.p256dh.slice(0, 60) } }, "/keys/p256dh");
    await refused({ ...body, keys: { ...body.keys, auth: `${body.keys.auth}AAAA` } }, "/keys/auth");
    await refused({ ...body, keys: { ...body.keys, auth: "tBHItJI5svbpez7KI4CC+g" } }, "/keys/auth");
    await refused({ ...body, keys: { auth: body.keys.auth } }, "/keys/p256dh");
    // 65 bytes that start like a point but are not on the curve.
    const offCurve = `BA${"A".repeat(85)}`;
    const problem = await refused({ ...body, keys: { ...body.keys, p256dh: offCurve } }, "/keys/p256dh");
    expect(problem.errors?.[0]?.detail).toMatch(/P-256/);
  });

  it("endpoints that are not https on a public host (SSRF); loopback only outside production", async () => {
    for (const endpoint of [
      "ftp://push.example.com/x",
      "http://push.example.com/x",
      "https://10.1.2.3/push",
      "https://169.254.169.254/latest",
      "https://[fd00::1]/push",
      "https://user:pw@push.example.com/x",
      "not a url",
    ]) {
      await refused(await webpushBody(endpoint), "/endpoint");
    }
    // A local receiver works on a laptop...
    const ada = await person();
    await jsonOf(await ada.api.post(PATH, { body: await webpushBody("http://127.0.0.1:8790/push/a1") }), 201);
    // ...and is refused in production, like any other private host.
    const production = { ENVIRONMENT: "production", EMAIL_PROVIDER: "postmark", API_DOCS_ENABLED: "false" };
    await refused(await webpushBody("http://127.0.0.1:8790/push/a2"), "/endpoint", production);
    await refused(await webpushBody("https://localhost/push/a3"), "/endpoint", production);
  });

  it("nothing a client sends is a 500: wrong JSON types everywhere are 400s", async () => {
    const ada = await person();
    for (const body of [
      null,
      [],
      "webpush",
      42,
      { type: 1 },
      { type: "webpush", endpoint: 5, keys: "x" },
      {},
    ]) {
      const res = await ada.api.post(PATH, { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
  });
});

describe("POST /users/me/push-subscriptions: property", () => {
  const PROBLEM_CODES = new Set(["validation_failed", "malformed_json"]);
  const keyish = fc.oneof(
    fc.string({ maxLength: 120 }),
    fc.base64String({ maxLength: 120 }),
    fc.constantFrom("", "=", "tBHItJI5svbpez7KI4CCXg", `B${"A".repeat(86)}`),
  );
  const endpointish = fc.oneof(
    fc.webUrl(),
    fc.string({ maxLength: 200 }),
    fc.constantFrom(
      "https://[::1]/x",
      "http://127.0.0.1:1/x",
      "https://169.254.169.254/",
      "javascript:alert(1)",
    ),
  );
  const body = fc.oneof(
    fc.record(
      {
        type: fc.constantFrom("webpush", "fcm", "apns", 1),
        endpoint: endpointish,
        keys: fc.oneof(fc.record({ p256dh: keyish, auth: keyish }, { requiredKeys: [] }), fc.jsonValue()),
        token: fc.oneof(keyish, fc.jsonValue()),
      },
      { requiredKeys: [] },
    ),
    fc.jsonValue({ maxDepth: 3 }),
  );

  it("whatever JSON a client sends, the answer is 200/201 or a 4xx problem naming it, never a 5xx", async () => {
    const ada = await person();
    const account = await newServiceAccount();
    await fc.assert(
      fc.asyncProperty(body, async (sent) => {
        const res = await apiWith({ FCM_SERVICE_ACCOUNT: account.json }, "POST", PATH, {
          token: ada.token,
          body: sent,
        });
        const label = JSON.stringify(sent).slice(0, 200);
        expect(res.status, label).toBeLessThan(500);
        if (res.status >= 400) {
          const problem = (await res.json()) as { code: string };
          expect(PROBLEM_CODES.has(problem.code), `${label}: ${problem.code}`).toBe(true);
        } else {
          await res.body?.cancel();
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe("push not configured", () => {
  it("Web Push without VAPID_PRIVATE_KEY: 503 push_not_configured, for the key and for registering", async () => {
    const ada = await person();
    const vars = { VAPID_PRIVATE_KEY: "" };
    const key = await problemOf(
      await apiWith(vars, "GET", "/api/v1/notifications/push/vapid-public-key"),
      503,
    );
    expect(key).toMatchObject({
      code: "push_not_configured",
      detail: expect.stringContaining("VAPID_PRIVATE_KEY"),
    });
    const register = await problemOf(
      await apiWith(vars, "POST", PATH, { token: ada.token, body: await webpushBody() }),
      503,
    );
    expect(register.code).toBe("push_not_configured");
  });

  it("FCM without FCM_SERVICE_ACCOUNT: 503 push_not_configured naming it", async () => {
    const ada = await person();
    const problem = await problemOf(
      await ada.api.post(PATH, { body: { type: "fcm", token: fcmToken() } }),
      503,
    );
    expect(problem).toMatchObject({
      code: "push_not_configured",
      detail: expect.stringContaining("FCM_SERVICE_ACCOUNT"),
    });
  });

  it("a FCM_SERVICE_ACCOUNT that is not a key file is a configuration error naming the field, never its value", async () => {
    const account = await newServiceAccount();
    const broken = JSON.stringify({ ...JSON.parse(account.json), private_key: "not a key" });
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await apiWith(
      { FCM_SERVICE_ACCOUNT: broken },
      "GET",
      "/api/v1/notifications/push/vapid-public-key",
    );
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toContain("not a key");
    expect(text).not.toContain("BEGIN PRIVATE KEY");
    expect(JSON.stringify(logged.mock.calls)).toContain("FCM_SERVICE_ACCOUNT.private_key");
    expect(JSON.stringify(logged.mock.calls)).not.toContain("BEGIN PRIVATE KEY");
    logged.mockRestore();
  });
});

describe("GET /users/me/push-subscriptions and DELETE /{id}", () => {
  it("lists my devices newest first, in cursor pages with a Link header", async () => {
    const ada = await person();
    const ids: string[] = [];
    for (let index = 0; index < 3; index++) {
      ids.push(
        (await jsonOf<PushSubscriptionDto>(await ada.api.post(PATH, { body: await webpushBody() }), 201)).id,
      );
    }
    const res = await ada.api.get(`${PATH}?limit=2`);
    const first = await jsonOf<Page<PushSubscriptionDto>>(res, 200);
    expect(first.data.map((device) => device.id)).toEqual([ids[2], ids[1]]);
    expect(first.meta.total).toBe(3);
    expect(res.headers.get("link")).toContain('rel="next"');
    const second = await jsonOf<Page<PushSubscriptionDto>>(
      await ada.api.get(`${PATH}?limit=2&cursor=${encodeURIComponent(first.meta.next ?? "")}`),
      200,
    );
    expect(second.data.map((device) => device.id)).toEqual([ids[0]]);
    const oldest = await jsonOf<Page<PushSubscriptionDto>>(await ada.api.get(`${PATH}?sort=created_at`), 200);
    expect(oldest.data.map((device) => device.id)).toEqual(ids);
    expect((await problemOf(await ada.api.get(`${PATH}?sort=endpoint`), 400)).code).toBe("validation_failed");
  });

  it("deletes my device (204, gone from the list); another user's device or a bad id is refused", async () => {
    const ada = await person();
    const grace = await person();
    const mine = await jsonOf<PushSubscriptionDto>(
      await ada.api.post(PATH, { body: await webpushBody() }),
      201,
    );
    expect((await problemOf(await grace.api.delete(`${PATH}/${mine.id}`), 404)).code).toBe("not_found");
    expect((await ada.api.delete(`${PATH}/${mine.id}`)).status).toBe(204);
    expect((await jsonOf<Page<PushSubscriptionDto>>(await ada.api.get(PATH), 200)).meta.total).toBe(0);
    expect((await ada.api.delete(`${PATH}/${mine.id}`)).status).toBe(404);
    expect(fieldsOf(await problemOf(await ada.api.delete(`${PATH}/not-a-uuid`), 400))).toContain("id");
  });

  it("signing out the session that registered a device removes the device; other sessions' devices stay", async () => {
    const ada = await person();
    const phone = as((await signIn(ada.user)).accessToken);
    const laptopDevice = await jsonOf<PushSubscriptionDto>(
      await ada.api.post(PATH, { body: await webpushBody() }),
      201,
    );
    const phoneDevice = await jsonOf<PushSubscriptionDto>(
      await phone.post(PATH, { body: await webpushBody() }),
      201,
    );
    expect((await api("POST", "/api/v1/auth/logout", { token: ada.token })).status).toBe(204);
    const page = await jsonOf<Page<PushSubscriptionDto>>(await phone.get(PATH), 200);
    expect(page.data.map((device) => device.id)).toEqual([phoneDevice.id]);
    expect(page.data.map((device) => device.id)).not.toContain(laptopDevice.id);
  });

  it("erasing the account erases its devices", async () => {
    const ada = await person();
    const device = await jsonOf<PushSubscriptionDto>(
      await ada.api.post(PATH, { body: await webpushBody() }),
      201,
    );
    const res = await ada.api.delete("/api/v1/users/me", { body: { current_password: ada.password } });
    expect(res.status).toBe(204);
    expect(
      await getDb(env).select().from(pushSubscriptions).where(eq(pushSubscriptions.id, device.id)),
    ).toEqual([]);
  });
});

describe("GET /notifications/push/vapid-public-key", () => {
  it("answers the public half of VAPID_PRIVATE_KEY, with no credentials, cacheable", async () => {
    const res = await api("GET", "/api/v1/notifications/push/vapid-public-key");
    const body = await jsonOf<{ key: string }>(res, 200);
    expect(body).toEqual({ key: (await vapidKeys({ VAPID_PRIVATE_KEY: env.VAPID_PRIVATE_KEY })).publicKey });
    expect(body.key).toMatch(/^B[A-Za-z0-9_-]{86}$/);
    expect(res.headers.get("cache-control")).toBe("public, max-age=3600");
  });
});

securitySuite("POST /users/me/push-subscriptions", {
  method: "POST",
  path: PATH,
  body: { type: "fcm", token: "f".repeat(64) },
});
securitySuite("GET /users/me/push-subscriptions", { method: "GET", path: PATH });
securitySuite("DELETE /users/me/push-subscriptions/{id}", {
  method: "DELETE",
  path: `${PATH}/0193a1f4-1b2c-7d3e-8f4a-5b6c7d8e9f0a`,
  notOwned: async () => {
    const ada = await person();
    const grace = await person();
    const device = await jsonOf<PushSubscriptionDto>(
      await ada.api.post(PATH, { body: await webpushBody() }),
      201,
    );
    return { path: `${PATH}/${device.id}`, headers: { authorization: `Bearer ${grace.token}` } };
  },
});
