/**
 * The cryptography of Web Push, against its standards: the RFC 8291 example (§5 and
 * Appendix A) reproduced byte for byte by the encryption the Worker uses, and opened by
 * the browser-side decryption of test/support/push.ts; VAPID (RFC 8292) keys derived
 * from VAPID_PRIVATE_KEY and JWTs that verify; what a push payload keeps when it must
 * shrink; and which push endpoints a user may register (SSRF).
 */
import { encryptNotification } from "@block65/webcrypto-web-push";
import { afterEach, describe, expect, it, vi } from "vitest";
import { base64urlDecode, base64urlEncode } from "../src/lib/crypto";
import { isLoopbackHost, isPrivateHost, outboundUrlRefusal } from "../src/lib/outbound-url";
import { type PushContent, WEB_PUSH_MAX_PLAINTEXT, webPushPayload } from "../src/modules/push/push-content";
import {
  VAPID_JWT_TTL_SECONDS,
  vapidAuthorization,
  vapidKeys,
  vapidSubject,
} from "../src/modules/push/vapid";
import { decryptWebPush, newSubscriber, pointJwk, subscriberFrom, verifyVapid } from "./support/push";

/** RFC 8291 §5 / Appendix A, verbatim. */
const RFC8291 = {
  plaintext: "When I grow up, I want to be a watermelon",
  uaPublic: "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
  uaPrivate: "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94",
  asPublic: "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8",
  asPrivate: "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw",
  salt: "DGv6ra1nlYgDCS1FRnbzlw",
  authSecret: "BTBZMqHH6r4Tts7J_aSIgg",
  body:
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml" +
    "mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT" +
    "pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
};

const decoder = new TextDecoder();

afterEach(() => {
  vi.restoreAllMocks();
});

describe("RFC 8291 aes128gcm", () => {
  it("the browser-side decryption opens the RFC's example body to its plaintext", async () => {
    const subscriber = await subscriberFrom(RFC8291.uaPublic, RFC8291.uaPrivate, RFC8291.authSecret);
    const plaintext = await decryptWebPush(base64urlDecode(RFC8291.body), subscriber);
    expect(decoder.decode(plaintext)).toBe(RFC8291.plaintext);
  });

  it("the Worker's encryption reproduces the RFC's body byte for byte with the RFC's salt and sender key", async () => {
    // The two random inputs of the encryption, pinned to the RFC's: the salt and the sender's key pair.
    const jwk = pointJwk(RFC8291.asPublic);
    const senderKeys = {
      privateKey: await crypto.subtle.importKey(
        "jwk",
        { ...jwk, d: RFC8291.asPrivate },
        { name: "ECDH", namedCurve: "P-256" },
        false,
        ["deriveBits"],
      ),
      publicKey: await crypto.subtle.importKey("jwk", jwk, { name: "ECDH", namedCurve: "P-256" }, true, []),
    };
    vi.spyOn(crypto.subtle, "generateKey").mockResolvedValueOnce(senderKeys as CryptoKeyPair);
    vi.spyOn(crypto, "getRandomValues").mockImplementationOnce((array) => {
      (array as Uint8Array).set(base64urlDecode(RFC8291.salt));
      return array;
    });

    const body = await encryptNotification(
      {
        endpoint: "https://push.example.net/push/JzLQ3raZJfFBR0aqvOMsLrt54w4rJUsV",
        expirationTime: null,
        keys: { p256dh: RFC8291.uaPublic, auth: RFC8291.authSecret },
      },
      new TextEncoder().encode(RFC8291.plaintext),
      // The RFC's example has no padding; the Worker pads every push to one full record.
      { pad: false },
    );
    expect(base64urlEncode(body)).toBe(RFC8291.body);
  });

  it("a push as the Worker sends it (padded to a full 4096-byte record) opens with the subscriber's keys", async () => {
    const subscriber = await newSubscriber();
    const message = '{"title":"Task failed","body":"process_data gave up after 3 tries"}';
    const body = await encryptNotification(
      { endpoint: "https://fcm.googleapis.com/fcm/send/x", expirationTime: null, keys: subscriber.keys },
      new TextEncoder().encode(message),
    );
    expect(body.byteLength).toBe(4096);
    expect(decoder.decode(await decryptWebPush(body, subscriber))).toBe(message);
    // Another subscriber's keys cannot open it.
    await expect(decryptWebPush(body, await newSubscriber())).rejects.toThrow();
  });
});

describe("VAPID (RFC 8292)", () => {
  async function keyPair() {
    const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
    ])) as CryptoKeyPair;
    const jwk = (await crypto.subtle.exportKey("jwk", pair.privateKey)) as JsonWebKey;
    const point = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
    return { d: jwk.d as string, publicKey: base64urlEncode(point) };
  }

  it("derives the public key (the browsers' applicationServerKey) from the 32-byte private scalar", async () => {
    const { d, publicKey } = await keyPair();
    const keys = await vapidKeys({ VAPID_PRIVATE_KEY: d });
    expect(keys.publicKey).toBe(publicKey);
    expect(base64urlDecode(keys.publicKey)).toHaveLength(65);
    expect(keys.privateKey.extractable).toBe(false);
  });

  it("signs an ES256 JWT for the push service's origin, under 24 hours, that the public key verifies", async () => {
    const { d, publicKey } = await keyPair();
    const keys = await vapidKeys({ VAPID_PRIVATE_KEY: d });
    const now = Date.parse("2026-11-21T09:00:00Z");
    const header = await vapidAuthorization(
      keys,
      new URL("https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk-long-token"),
      "mailto:ops@example.com",
      now,
    );
    vi.useFakeTimers({ now, toFake: ["Date"] });
    const verified = await verifyVapid(header);
    vi.useRealTimers();
    expect(verified.key).toBe(publicKey);
    expect(verified.protectedHeader).toEqual({ typ: "JWT", alg: "ES256" });
    expect(verified.payload).toEqual({
      aud: "https://updates.push.services.mozilla.com",
      sub: "mailto:ops@example.com",
      iat: now / 1000,
      exp: now / 1000 + VAPID_JWT_TTL_SECONDS,
    });
    expect(VAPID_JWT_TTL_SECONDS).toBeLessThanOrEqual(24 * 60 * 60);
  });

  it("refuses 32 bytes that are no P-256 private key with a configuration error", async () => {
    await expect(vapidKeys({ VAPID_PRIVATE_KEY: base64urlEncode(new Uint8Array(32)) })).rejects.toThrow(
      /VAPID_PRIVATE_KEY: is not a P-256 private key/,
    );
    await expect(vapidKeys({ VAPID_PRIVATE_KEY: undefined })).rejects.toMatchObject({
      status: 503,
      code: "push_not_configured",
    });
  });

  it("names a mailto: or https: subject: VAPID_SUBJECT, else an https APP_URL, else EMAIL_FROM's address", () => {
    const base = { VAPID_SUBJECT: undefined, EMAIL_FROM: "Acme <no-reply@acme.example>" };
    expect(
      vapidSubject({
        ...base,
        VAPID_SUBJECT: "mailto:ops@acme.example",
        APP_URL: "https://api.acme.example",
      }),
    ).toBe("mailto:ops@acme.example");
    expect(vapidSubject({ ...base, APP_URL: "https://api.acme.example/v1/" })).toBe(
      "https://api.acme.example",
    );
    expect(vapidSubject({ ...base, APP_URL: "http://localhost:8787" })).toBe("mailto:no-reply@acme.example");
  });
});

describe("the Web Push payload", () => {
  const content: PushContent = {
    id: "0193a1f2-6c3d-7e4f-8a5b-9c0d1e2f3a4b",
    type: "new_comment",
    title: "Grace replied",
    body: "Looks good to me.",
    url: "https://app.example.com/threads/42",
    data: { thread_id: 42 },
    created_at: "2026-11-21T09:12:44.512Z",
    urgency: "normal",
  };

  it("is the notification as JSON", () => {
    expect(JSON.parse(decoder.decode(webPushPayload(content)))).toEqual({
      id: content.id,
      type: "new_comment",
      title: "Grace replied",
      body: "Looks good to me.",
      url: "https://app.example.com/threads/42",
      data: { thread_id: 42 },
      created_at: content.created_at,
    });
  });

  it("drops `data`, then shortens the body, to fit one record", () => {
    const large = { ...content, body: "é".repeat(2000), data: { blob: "x".repeat(8000) } };
    const payload = webPushPayload(large);
    expect(payload.byteLength).toBeLessThanOrEqual(WEB_PUSH_MAX_PLAINTEXT);
    const parsed = JSON.parse(decoder.decode(payload));
    expect(parsed.data).toBeUndefined();
    expect(parsed.body).toMatch(/^é+…$/);
    expect(parsed).toMatchObject({ id: content.id, title: "Grace replied", url: content.url });
    // Without the data it fits whole: only the data goes.
    const medium = { ...content, data: { blob: "x".repeat(5000) } };
    expect(JSON.parse(decoder.decode(webPushPayload(medium)))).toMatchObject({ body: content.body });
  });
});

describe("push endpoints a user may register (SSRF)", () => {
  const production = { production: true };
  const development = { production: false };

  it("accepts the public push services over https everywhere", () => {
    for (const endpoint of [
      "https://fcm.googleapis.com/fcm/send/dpH5lCsTSSM:APA91bHq",
      "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk",
      "https://web.push.apple.com/QGuQyavXutnMH",
      "https://wns2-par02p.notify.windows.com/w/?token=BQYAAAD",
      "https://ntfy.example.org/upAbCdEf?up=1",
    ]) {
      expect(outboundUrlRefusal(new URL(endpoint), production), endpoint).toBeNull();
    }
  });

  it("refuses in production: http, loopback, private, link-local and local names, however spelled", () => {
    for (const endpoint of [
      "http://push.example.com/x",
      "https://localhost/push",
      "https://api.localhost/push",
      "https://127.0.0.1/push",
      "https://2130706433/push",
      "https://0x7f.1/push",
      "https://10.0.0.8/push",
      "https://172.16.4.1/push",
      "https://192.168.1.10/push",
      "https://169.254.169.254/latest/meta-data",
      "https://100.64.0.1/push",
      "https://0.0.0.0/push",
      "https://[::1]/push",
      "https://[::ffff:127.0.0.1]/push",
      "https://[::ffff:10.0.0.1]/push",
      "https://[fd00::1]/push",
      "https://[fe80::1]/push",
      "https://[64:ff9b::a9fe:a9fe]/push",
      "https://printer.local/push",
      "https://metadata.google.internal/push",
      "https://intranet/push",
      "https://user:secret@push.example.com/x",
    ]) {
      expect(outboundUrlRefusal(new URL(endpoint), production), endpoint).not.toBeNull();
    }
  });

  it("outside production, also a loopback receiver (http too), but still no other private host", () => {
    for (const endpoint of [
      "http://127.0.0.1:8790/push/1",
      "http://localhost:8790/push/1",
      "https://[::1]:8790/p",
    ]) {
      expect(outboundUrlRefusal(new URL(endpoint), development), endpoint).toBeNull();
    }
    for (const endpoint of [
      "http://10.0.0.8/push",
      "https://192.168.1.10/push",
      "http://push.example.com/x",
    ]) {
      expect(outboundUrlRefusal(new URL(endpoint), development), endpoint).not.toBeNull();
    }
  });

  it("tells loopback from private from public hosts", () => {
    expect(isLoopbackHost("127.8.9.10")).toBe(true);
    expect(isLoopbackHost("[::1]")).toBe(true);
    expect(isLoopbackHost("10.0.0.1")).toBe(false);
    expect(isPrivateHost("8.8.8.8")).toBe(false);
    expect(isPrivateHost("[2606:4700:4700::1111]")).toBe(false);
    expect(isPrivateHost("fcm.googleapis.com")).toBe(false);
  });
});
