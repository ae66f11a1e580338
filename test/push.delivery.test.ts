/**
 * Push delivery end to end: a notification the user's preferences send to `push`
 * becomes one `notifications.push` job on JOBS_QUEUE (held here, then handed to the
 * Worker's queue handler as the queue would), which sends it to each of the user's
 * devices. Only the outside services are faked, at `fetch`, answering as they document:
 * a Web Push service (the body must decrypt with the subscriber's keys, the VAPID JWT
 * must verify), Google's OAuth token endpoint (the assertion must verify with the
 * service account's key) and FCM HTTP v1. Gone devices are pruned, busy services
 * retried, and a device that took a notification never gets it twice.
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { notifications, pushSubscriptions } from "../src/db/schema";
import type { Bindings } from "../src/env";
import { broadcastSystemNotification } from "../src/modules/notifications/notifications.broadcast";
import { PUSH_FOLLOW_UP_DELAY_SECONDS } from "../src/modules/notifications/notifications.push.job";
import { notify } from "../src/modules/notifications/notifications.service";
import type { PushSubscriptionDto } from "../src/modules/push/push.schemas";
import { vapidKeys } from "../src/modules/push/vapid";
import { runQueueBatch } from "./support/background";
import { type Person, person, serviceContext } from "./support/factories";
import { apiWith, jsonOf } from "./support/http";
import {
  decryptWebPush,
  fakeNetwork,
  fcmError,
  googleTokenEndpoint,
  holdPushJobs,
  newServiceAccount,
  newSubscriber,
  type PushJob,
  runPushJob,
  type ServiceAccount,
  type Subscriber,
  verifyVapid,
} from "./support/push";

const PATH = "/api/v1/users/me/push-subscriptions";
const PUSH_SERVICE = "https://updates.push.services.mozilla.com/wpush/v2/";
const db = getDb(env);
const decoder = new TextDecoder();

afterEach(() => {
  vi.restoreAllMocks();
});

type Browser = { subscriber: Subscriber; device: PushSubscriptionDto; endpoint: string };

/** A browser that subscribed: its keys stay here (as in the browser); the API has its endpoint and public keys. */
async function subscribeBrowser(
  owner: Person,
  endpoint = `${PUSH_SERVICE}${crypto.randomUUID()}`,
): Promise<Browser> {
  const subscriber = await newSubscriber();
  const res = await owner.api.post(PATH, { body: { type: "webpush", endpoint, keys: subscriber.keys } });
  return { subscriber, device: await jsonOf<PushSubscriptionDto>(res, 201), endpoint };
}

async function registerApp(owner: Person, bindings: Partial<Bindings>) {
  const token = `${crypto.randomUUID().replaceAll("-", "")}:APA91bH${crypto.randomUUID().replaceAll("-", "")}`;
  const res = await apiWith(bindings, "POST", PATH, { token: owner.token, body: { type: "fcm", token } });
  return { token, device: await jsonOf<PushSubscriptionDto>(res, 201) };
}

/** POST /notifications/test as `owner` (a `system` notification), returning it and the push jobs it queued. */
async function testNotification(owner: Person, bindings: Partial<Bindings> = {}) {
  const queue = holdPushJobs();
  const res = await apiWith(bindings, "POST", "/api/v1/notifications/test", { token: owner.token });
  const notification = await jsonOf<{ id: string; created_at: string }>(res, 201);
  return { notification, jobs: queue.jobs(owner.user.id), queue };
}

const accepted = () => new Response(null, { status: 201, headers: { Location: "https://push.example/m/1" } });
const devicesOf = (userId: string) =>
  db.select().from(pushSubscriptions).where(eq(pushSubscriptions.userId, userId));

describe("Web Push", () => {
  it("sends each notification as an aes128gcm message that opens with the subscriber's keys, under a verifiable VAPID JWT", async () => {
    const ada = await person();
    const browser = await subscribeBrowser(ada);
    const { notification, jobs } = await testNotification(ada);
    expect(jobs).toEqual([
      {
        type: "notifications.push",
        notification_id: notification.id,
        user_id: ada.user.id,
        queued_at: expect.any(String),
        request_id: expect.any(String),
        d1_bookmark: expect.any(String),
      },
    ]);

    const network = fakeNetwork({ [PUSH_SERVICE]: accepted });
    const started = Math.floor(Date.now() / 1000);
    expect(await runPushJob(jobs[0])).toMatchObject({ acked: true, retried: false });

    const [push] = network.requests;
    if (!push) throw new Error("nothing was pushed");
    expect(push.method).toBe("POST");
    expect(push.url).toBe(browser.endpoint);
    expect(push.headers.get("content-encoding")).toBe("aes128gcm");
    expect(push.headers.get("content-type")).toBe("application/octet-stream");
    expect(push.headers.get("ttl")).toBe("86400");
    expect(push.headers.get("urgency")).toBe("high"); // a `system` notification
    expect(push.headers.get("topic")).toBe(notification.id.replaceAll("-", ""));

    // What the browser reads, once it decrypts with its private key and auth secret.
    expect(push.body.byteLength).toBe(4096);
    const message = JSON.parse(decoder.decode(await decryptWebPush(push.body, browser.subscriber)));
    expect(message).toEqual({
      id: notification.id,
      type: "system",
      title: "Test notification",
      body: "If you can read this on each of your devices, notifications reach them.",
      url: null,
      data: { test: true },
      created_at: notification.created_at,
    });

    // What the push service checks: the JWT verifies with the key in the header, which is ours.
    const vapid = await verifyVapid(push.headers.get("authorization"));
    expect(vapid.key).toBe((await vapidKeys({ VAPID_PRIVATE_KEY: env.VAPID_PRIVATE_KEY })).publicKey);
    expect(vapid.protectedHeader).toMatchObject({ alg: "ES256", typ: "JWT" });
    expect(vapid.payload.aud).toBe("https://updates.push.services.mozilla.com");
    expect(vapid.payload.sub).toBe("mailto:no-reply@example.com"); // APP_URL is http here: EMAIL_FROM's address
    expect(vapid.payload.exp).toBeGreaterThan(started);
    expect((vapid.payload.exp ?? 0) - started).toBeLessThanOrEqual(24 * 60 * 60);

    const [row] = await devicesOf(ada.user.id);
    expect(row?.lastDeliveredAt).toBeInstanceOf(Date);
  });

  it("sends notify()'s types with their urgency and an absolute link, to every device of the user", async () => {
    const ada = await person();
    const first = await subscribeBrowser(ada);
    const second = await subscribeBrowser(ada, `https://fcm.googleapis.com/fcm/send/${crypto.randomUUID()}`);
    const queue = holdPushJobs();
    const sent = await notify(serviceContext(), ada.user.id, {
      type: "new_comment",
      title: "Grace replied",
      message: "Looks good to me.",
      target_url: "/threads/42",
      data: { thread_id: 42 },
    });
    const network = fakeNetwork({
      [PUSH_SERVICE]: accepted,
      "https://fcm.googleapis.com/fcm/send/": accepted,
    });
    const [job] = queue.jobs(ada.user.id);
    expect(await runPushJob(job)).toMatchObject({ acked: true });
    expect(network.requests.map((request) => request.url).sort()).toEqual(
      [first.endpoint, second.endpoint].sort(),
    );
    for (const [browser, request] of [
      [first, network.to(first.endpoint)[0]],
      [second, network.to(second.endpoint)[0]],
    ] as const) {
      if (!request) throw new Error("a device was not pushed to");
      expect(request.headers.get("urgency")).toBe("normal");
      expect(
        JSON.parse(decoder.decode(await decryptWebPush(request.body, browser.subscriber))),
      ).toMatchObject({
        id: sent.id,
        type: "new_comment",
        url: "http://localhost:8787/threads/42",
        data: { thread_id: 42 },
      });
      // The audience of each JWT is that device's push service.
      expect((await verifyVapid(request.headers.get("authorization"))).payload.aud).toBe(
        new URL(browser.endpoint).origin,
      );
    }
  });

  for (const status of [404, 410]) {
    it(`removes a subscription the push service answers ${status} for`, async () => {
      const ada = await person();
      const gone = await subscribeBrowser(ada);
      const kept = await subscribeBrowser(ada);
      const { jobs } = await testNotification(ada);
      fakeNetwork({
        [gone.endpoint]: () => new Response("push subscription has unsubscribed or expired.", { status }),
        [kept.endpoint]: accepted,
      });
      expect(await runPushJob(jobs[0])).toMatchObject({ acked: true });
      expect((await devicesOf(ada.user.id)).map((row) => row.id)).toEqual([kept.device.id]);
    });
  }

  it("keeps a device the service refuses for our own reason (403: another VAPID key), without retrying", async () => {
    const ada = await person();
    const browser = await subscribeBrowser(ada);
    const { jobs } = await testNotification(ada);
    fakeNetwork({ [PUSH_SERVICE]: () => new Response("VAPID public key mismatch", { status: 403 }) });
    vi.spyOn(console, "error").mockImplementation(() => {});
    expect(await runPushJob(jobs[0])).toMatchObject({ acked: true, retried: false });
    expect((await devicesOf(ada.user.id)).map((row) => row.id)).toEqual([browser.device.id]);
  });

  for (const [what, answer] of [
    [
      "429 with Retry-After",
      () => new Response("slow down", { status: 429, headers: { "Retry-After": "120" } }),
    ],
    ["503", () => new Response("unavailable", { status: 503 })],
    [
      "no answer",
      () => {
        throw new TypeError("Network connection lost.");
      },
    ],
  ] as const) {
    it(`retries the job with the queue's backoff when the only device's service gives ${what}`, async () => {
      const ada = await person();
      await subscribeBrowser(ada);
      const { jobs } = await testNotification(ada);
      fakeNetwork({ [PUSH_SERVICE]: answer });
      vi.spyOn(console, "warn").mockImplementation(() => {});
      const outcome = await runPushJob(jobs[0], { attempts: 2 });
      expect(outcome).toMatchObject({ acked: false, retried: true, retryDelaySeconds: 4 });
      expect(await devicesOf(ada.user.id)).toHaveLength(1);
    });
  }

  it("when some devices took it, tries only the others again, in a follow-up job", async () => {
    const ada = await person();
    const took = await subscribeBrowser(ada);
    const busy = await subscribeBrowser(ada);
    const { jobs, queue } = await testNotification(ada);
    const network = fakeNetwork({
      [took.endpoint]: accepted,
      [busy.endpoint]: () => new Response("busy", { status: 503 }),
    });
    vi.spyOn(console, "warn").mockImplementation(() => {});
    expect(await runPushJob(jobs[0])).toMatchObject({ acked: true });

    const followUp = queue.held.at(-1);
    expect(followUp?.body).toMatchObject({
      type: "notifications.push",
      notification_id: (jobs[0] as PushJob).notification_id,
      subscription_ids: [busy.device.id],
    });
    expect(followUp?.delaySeconds).toBe(PUSH_FOLLOW_UP_DELAY_SECONDS);

    expect(network.requests).toHaveLength(2);
    const later = fakeNetwork({ [PUSH_SERVICE]: accepted });
    expect(await runPushJob(followUp?.body)).toMatchObject({ acked: true });
    expect(later.requests.map((request) => request.url)).toEqual([busy.endpoint]);
  });

  it("skips a notification deleted before its push went out", async () => {
    const ada = await person();
    await subscribeBrowser(ada);
    const { notification, jobs } = await testNotification(ada);
    await db.delete(notifications).where(eq(notifications.id, notification.id));
    const network = fakeNetwork({});
    expect(await runPushJob(jobs[0])).toMatchObject({ acked: true });
    expect(network.requests).toEqual([]);
  });

  it("in production, prunes a stored loopback endpoint instead of calling it", async () => {
    const ada = await person();
    await subscribeBrowser(ada, "http://127.0.0.1:8790/push/local");
    const { jobs } = await testNotification(ada);
    const network = fakeNetwork({});
    const production = { ...env, ENVIRONMENT: "production", EMAIL_PROVIDER: "postmark" } as Bindings;
    expect(await runPushJob(jobs[0], { bindings: production })).toMatchObject({ acked: true });
    expect(network.requests).toEqual([]);
    expect(await devicesOf(ada.user.id)).toEqual([]);
  });
});

describe("FCM HTTP v1", () => {
  const ACCESS_TOKEN = "ya29.c.b0AXv0zTPtest-access-token";

  async function fcmSetup() {
    const account = await newServiceAccount();
    const bindings = { FCM_SERVICE_ACCOUNT: account.json };
    const ada = await person();
    const app = await registerApp(ada, bindings);
    return { account, bindings, ada, app };
  }

  const fcmUrl = (account: ServiceAccount) =>
    `https://fcm.googleapis.com/v1/projects/${account.projectId}/messages:send`;

  it("sends with an OAuth token minted from the service account, and mints it once", async () => {
    const { account, bindings, ada, app } = await fcmSetup();
    const { notification, jobs } = await testNotification(ada, bindings);
    const network = fakeNetwork({
      "https://oauth2.googleapis.com/token": googleTokenEndpoint(account, ACCESS_TOKEN),
      [fcmUrl(account)]: () =>
        Response.json({ name: `projects/${account.projectId}/messages/0:1500415314455276%31bd1c9631bd1c96` }),
    });
    const full = { ...env, ...bindings } as Bindings;
    expect(await runPushJob(jobs[0], { bindings: full })).toMatchObject({ acked: true });

    expect(network.to("https://oauth2.googleapis.com/token")).toHaveLength(1);
    const [send] = network.to(fcmUrl(account));
    if (!send) throw new Error("FCM was not called");
    expect(send.method).toBe("POST");
    expect(send.headers.get("authorization")).toBe(`Bearer ${ACCESS_TOKEN}`);
    expect(send.headers.get("content-type")).toBe("application/json");
    expect(JSON.parse(decoder.decode(send.body))).toEqual({
      message: {
        token: app.token,
        notification: {
          title: "Test notification",
          body: "If you can read this on each of your devices, notifications reach them.",
        },
        data: { notification_id: notification.id, type: "system", created_at: notification.created_at },
        android: { priority: "high", ttl: "86400s", notification: { tag: notification.id } },
        apns: {
          headers: {
            "apns-priority": "10",
            "apns-collapse-id": notification.id,
            "apns-expiration": expect.stringMatching(/^\d+$/),
          },
        },
      },
    });

    // A second notification reuses the token: Google is not asked again.
    const second = await testNotification(ada, bindings);
    expect(await runPushJob(second.jobs[0], { bindings: full })).toMatchObject({ acked: true });
    expect(network.to("https://oauth2.googleapis.com/token")).toHaveLength(1);
    expect(network.to(fcmUrl(account))).toHaveLength(2);
  });

  for (const [what, answer, pruned] of [
    ["404 UNREGISTERED", () => fcmError(404, "UNREGISTERED", "Requested entity was not found."), true],
    [
      "400 INVALID_ARGUMENT about the token",
      () =>
        fcmError(
          400,
          "INVALID_ARGUMENT",
          "The registration token is not a valid FCM registration token",
          true,
        ),
      true,
    ],
    ["403 SENDER_ID_MISMATCH", () => fcmError(403, "SENDER_ID_MISMATCH", "SenderId mismatch"), true],
    [
      "400 INVALID_ARGUMENT about the payload",
      () => fcmError(400, "INVALID_ARGUMENT", "Invalid value at 'message.data[0].value'"),
      false,
    ],
  ] as const) {
    it(`${pruned ? "removes" : "keeps"} the device on ${what}`, async () => {
      const { account, bindings, ada, app } = await fcmSetup();
      const { jobs } = await testNotification(ada, bindings);
      fakeNetwork({
        "https://oauth2.googleapis.com/token": googleTokenEndpoint(account, ACCESS_TOKEN),
        [fcmUrl(account)]: answer,
      });
      vi.spyOn(console, "error").mockImplementation(() => {});
      const outcome = await runPushJob(jobs[0], { bindings: { ...env, ...bindings } as Bindings });
      expect(outcome).toMatchObject({ acked: true, retried: false });
      expect((await devicesOf(ada.user.id)).map((row) => row.id)).toEqual(pruned ? [] : [app.device.id]);
    });
  }

  it("retries on 429 QUOTA_EXCEEDED and 503 UNAVAILABLE", async () => {
    for (const answer of [
      () => fcmError(429, "QUOTA_EXCEEDED", "Quota exceeded for quota metric 'Send requests'"),
      () => fcmError(503, "UNAVAILABLE", "The service is currently unavailable."),
    ]) {
      const { account, bindings, ada } = await fcmSetup();
      const { jobs } = await testNotification(ada, bindings);
      fakeNetwork({
        "https://oauth2.googleapis.com/token": googleTokenEndpoint(account, ACCESS_TOKEN),
        [fcmUrl(account)]: answer,
      });
      vi.spyOn(console, "warn").mockImplementation(() => {});
      const outcome = await runPushJob(jobs[0], { bindings: { ...env, ...bindings } as Bindings });
      expect(outcome).toMatchObject({ acked: false, retried: true });
      expect(await devicesOf(ada.user.id)).toHaveLength(1);
      vi.restoreAllMocks();
    }
  });

  it("mints a new token after FCM refuses one (401), and retries", async () => {
    const { account, bindings, ada } = await fcmSetup();
    const full = { ...env, ...bindings } as Bindings;
    let fcmAnswers = [
      () => fcmError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."),
      () => Response.json({ name: "projects/x/messages/1" }),
    ];
    const network = fakeNetwork({
      "https://oauth2.googleapis.com/token": googleTokenEndpoint(account, ACCESS_TOKEN),
      [fcmUrl(account)]: () => {
        const [next, ...rest] = fcmAnswers;
        fcmAnswers = rest.length > 0 ? rest : fcmAnswers;
        return (next as () => Response)();
      },
    });
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const { jobs } = await testNotification(ada, bindings);
    expect(await runPushJob(jobs[0], { bindings: full })).toMatchObject({ retried: true });
    expect(await runPushJob(jobs[0], { bindings: full, attempts: 2 })).toMatchObject({ acked: true });
    expect(network.to("https://oauth2.googleapis.com/token")).toHaveLength(2);
  });

  it("a token endpoint that refuses the assertion (invalid_grant) fails the send without a retry loop", async () => {
    const { bindings, ada } = await fcmSetup();
    const { jobs } = await testNotification(ada, bindings);
    fakeNetwork({
      "https://oauth2.googleapis.com/token": () =>
        Response.json(
          { error: "invalid_grant", error_description: "Invalid JWT Signature." },
          { status: 400 },
        ),
    });
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const outcome = await runPushJob(jobs[0], { bindings: { ...env, ...bindings } as Bindings });
    expect(outcome).toMatchObject({ acked: true, retried: false });
    expect(JSON.stringify(errors.mock.calls)).toContain("invalid_grant");
    expect(JSON.stringify(errors.mock.calls)).not.toContain("BEGIN PRIVATE KEY");
  });
});

describe("what is pushed, and to whom", () => {
  it("follows the preferences: no push job when the user turned push off for the type", async () => {
    const ada = await person();
    await subscribeBrowser(ada);
    await jsonOf(
      await ada.api.patch("/api/v1/users/me", {
        body: { notification_preferences: { system: { push: false } } },
      }),
      200,
    );
    const { jobs } = await testNotification(ada);
    expect(jobs).toEqual([]);
  });

  it("defaults: task_completed is not pushed, task_failed is", async () => {
    const ada = await person();
    await subscribeBrowser(ada);
    const queue = holdPushJobs();
    const input = { title: "Task", message: "process_data" } as const;
    await notify(serviceContext(), ada.user.id, { ...input, type: "task_completed" });
    expect(queue.jobs(ada.user.id)).toEqual([]);
    const failed = await notify(serviceContext(), ada.user.id, { ...input, type: "task_failed" });
    expect(queue.jobs(ada.user.id).map((job) => job.notification_id)).toEqual([failed.id]);
  });

  it("queues nothing for a user without devices", async () => {
    const ada = await person();
    const { jobs, queue } = await testNotification(ada);
    expect(jobs).toEqual([]);
    expect(queue.held).toEqual([]);
  });

  it("a broadcast queues one push job per recipient with a device, in one batch", async () => {
    const withDevice = await person();
    const without = await person();
    await subscribeBrowser(withDevice);
    const broadcastJobs: unknown[] = [];
    const queue = holdPushJobs();
    await broadcastSystemNotification(serviceContext(), {
      title: "Scheduled maintenance",
      message: "Read-only on Sunday 02:00–02:30 UTC.",
      user_ids: [withDevice.user.id, without.user.id],
    });
    broadcastJobs.push(...queue.held.map((message) => message.body));
    queue.held.length = 0;
    const { result } = await runQueueBatch(
      "edge-api-jobs",
      broadcastJobs.map((body, index) => ({ id: `broadcast-${index}`, body })),
    );
    expect(result.explicitAcks).toHaveLength(1);
    expect(queue.jobs().map((job) => job.user_id)).toEqual([withDevice.user.id]);
    expect(env.JOBS_QUEUE.sendBatch).toHaveBeenCalledTimes(1);
  });
});
