/**
 * The far side of push, for tests: a browser's subscription keys and the decryption a
 * browser does (RFC 8291 on Web Crypto's HKDF, written independently of the library that
 * encrypts), a Firebase service account with a fresh RSA key, and the
 * push services and Google's token endpoint faked at `fetch`, answering what they
 * document and recording what they were sent. JOBS_QUEUE sends are held so a test
 * delivers the `notifications.push` jobs itself.
 */
import { env } from "cloudflare:workers";
import { jwtVerify } from "jose";
import { expect, vi } from "vitest";
import { decryptWebPush as decrypt } from "../../scripts/lib/web-push-decrypt";
import { base64urlDecode, base64urlEncode } from "../../src/lib/crypto";
import { runQueueBatch } from "./background";

// ---------------------------------------------------------------------------
// A subscriber (the browser side)

export type Subscriber = {
  /** What the browser posts: `keys` of PushSubscription.toJSON(). */
  keys: { p256dh: string; auth: string };
  privateKey: CryptoKey;
};

export async function newSubscriber(): Promise<Subscriber> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, [
    "deriveBits",
  ])) as CryptoKeyPair;
  const publicKey = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
  return {
    keys: {
      p256dh: base64urlEncode(publicKey),
      auth: base64urlEncode(crypto.getRandomValues(new Uint8Array(16))),
    },
    privateKey: pair.privateKey,
  };
}

/** The JWK of an uncompressed P-256 point (base64url), the form Web Push keys travel in. */
export function pointJwk(point: string): JsonWebKey {
  const bytes = base64urlDecode(point);
  return {
    kty: "EC",
    crv: "P-256",
    x: base64urlEncode(bytes.slice(1, 33)),
    y: base64urlEncode(bytes.slice(33, 65)),
  };
}

/** A subscriber from raw key material (the RFC 8291 example's user agent). */
export async function subscriberFrom(
  publicKey: string,
  privateScalar: string,
  auth: string,
): Promise<Subscriber> {
  const privateKey = await crypto.subtle.importKey(
    "jwk",
    { ...pointJwk(publicKey), d: privateScalar },
    { name: "ECDH", namedCurve: "P-256" },
    false,
    ["deriveBits"],
  );
  return { keys: { p256dh: publicKey, auth }, privateKey };
}

/**
 * What a browser does with an `aes128gcm` body (scripts/lib/web-push-decrypt.ts, shared with
 * `npm run dev:push`), with the subscriber's keys.
 */
export function decryptWebPush(body: Uint8Array, subscriber: Subscriber): Promise<Uint8Array> {
  return decrypt(body, { privateKey: subscriber.privateKey, ...subscriber.keys });
}

// ---------------------------------------------------------------------------
// VAPID, as a push service checks it

/** The `Authorization: vapid t=<jwt>, k=<key>` of a push request, verified with the key it names. */
export async function verifyVapid(authorization: string | null) {
  const match = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(authorization ?? "");
  if (!match?.[1] || !match[2]) throw new Error(`not a VAPID authorization: ${authorization}`);
  const publicKey = await crypto.subtle.importKey(
    "jwk",
    pointJwk(match[2]),
    { name: "ECDSA", namedCurve: "P-256" },
    false,
    ["verify"],
  );
  const { payload, protectedHeader } = await jwtVerify(match[1], publicKey, { algorithms: ["ES256"] });
  return { key: match[2], payload, protectedHeader };
}

// ---------------------------------------------------------------------------
// A Firebase service account and Google's side of FCM

export type ServiceAccount = { json: string; publicKey: CryptoKey; clientEmail: string; projectId: string };

function pem(der: ArrayBuffer): string {
  const base64 = btoa(String.fromCharCode(...new Uint8Array(der)));
  return `-----BEGIN PRIVATE KEY-----\n${base64.match(/.{1,64}/g)?.join("\n")}\n-----END PRIVATE KEY-----\n`;
}

/** A service-account key file as Firebase hands it out, with a fresh RSA key (a new account each call). */
export async function newServiceAccount(projectId = "edge-api-test"): Promise<ServiceAccount> {
  const pair = (await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
  const clientEmail = `fcm-${crypto.randomUUID().slice(0, 8)}@${projectId}.iam.gserviceaccount.com`;
  const json = JSON.stringify({
    type: "service_account",
    project_id: projectId,
    private_key_id: crypto.randomUUID().replaceAll("-", ""),
    private_key: pem((await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer),
    client_email: clientEmail,
    client_id: "103456789012345678901",
    auth_uri: "https://accounts.google.com/o/oauth2/auth",
    token_uri: "https://oauth2.googleapis.com/token",
  });
  return { json, publicKey: pair.publicKey, clientEmail, projectId };
}

// ---------------------------------------------------------------------------
// The network: push services and Google, faked at fetch

export type Recorded = { url: string; method: string; headers: Headers; body: Uint8Array };
type Route = (request: Recorded) => Response | Promise<Response>;

/**
 * `fetch` answered by the first route whose prefix the URL starts with (an unrouted URL
 * fails the test); every request is recorded with its body as bytes.
 */
export function fakeNetwork(routes: Record<string, Route>) {
  const requests: Recorded[] = [];
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    const recorded: Recorded = {
      url: request.url,
      method: request.method,
      headers: request.headers,
      body: new Uint8Array(await request.arrayBuffer()),
    };
    requests.push(recorded);
    const prefix = Object.keys(routes).find((each) => recorded.url.startsWith(each));
    const route = prefix ? routes[prefix] : undefined;
    if (!route) throw new Error(`unexpected fetch in a test: ${request.method} ${request.url}`);
    return route(recorded);
  });
  return {
    spy,
    requests,
    to: (prefix: string) => requests.filter((request) => request.url.startsWith(prefix)),
  };
}

/** Google's token endpoint: checks the assertion like Google does (RS256 by the account's key, iss, aud, scope, lifetime). */
export function googleTokenEndpoint(account: ServiceAccount, accessToken: string): Route {
  return async (request) => {
    const form = new URLSearchParams(new TextDecoder().decode(request.body));
    expect(request.headers.get("content-type")).toBe("application/x-www-form-urlencoded");
    expect(form.get("grant_type")).toBe("urn:ietf:params:oauth:grant-type:jwt-bearer");
    const { payload, protectedHeader } = await jwtVerify(form.get("assertion") ?? "", account.publicKey, {
      algorithms: ["RS256"],
      issuer: account.clientEmail,
      audience: "https://oauth2.googleapis.com/token",
    });
    expect(protectedHeader.kid).toBe(JSON.parse(account.json).private_key_id);
    expect(payload.scope).toBe("https://www.googleapis.com/auth/firebase.messaging");
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBeLessThanOrEqual(3600);
    return Response.json({ access_token: accessToken, expires_in: 3599, token_type: "Bearer" });
  };
}

/** FCM's error body for `errorCode` (google.rpc.Status with an FcmError detail). */
export function fcmError(
  status: number,
  errorCode: string,
  message: string,
  tokenViolation = false,
): Response {
  return Response.json(
    {
      error: {
        code: status,
        message,
        status: errorCode === "UNREGISTERED" ? "NOT_FOUND" : errorCode,
        details: [
          { "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", errorCode },
          ...(tokenViolation
            ? [
                {
                  "@type": "type.googleapis.com/google.rpc.BadRequest",
                  fieldViolations: [{ field: "message.token", description: "Invalid registration token" }],
                },
              ]
            : []),
        ],
      },
    },
    { status },
  );
}

// ---------------------------------------------------------------------------
// JOBS_QUEUE: push jobs held, then delivered by the test

export const JOBS_QUEUE = "edge-api-jobs";

export type PushJob = {
  type: "notifications.push";
  notification_id: string;
  user_id: string;
  subscription_ids?: string[];
};

/** Records every JOBS_QUEUE send and sendBatch instead of delivering them. Restored by vi.restoreAllMocks(). */
export function holdPushJobs() {
  const held: { body: unknown; delaySeconds?: number }[] = [];
  const metadata = { metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } } };
  vi.spyOn(env.JOBS_QUEUE, "send").mockImplementation(async (body, options) => {
    held.push({ body, delaySeconds: options?.delaySeconds });
    return metadata;
  });
  vi.spyOn(env.JOBS_QUEUE, "sendBatch").mockImplementation(async (messages) => {
    for (const message of messages) held.push({ body: message.body, delaySeconds: message.delaySeconds });
    return metadata;
  });
  return {
    held,
    /** The push jobs queued so far (optionally for one user). */
    jobs: (userId?: string) =>
      held
        .map((message) => message.body as PushJob)
        .filter(
          (body) => body.type === "notifications.push" && (userId === undefined || body.user_id === userId),
        ),
  };
}

let sequence = 0;

/** Runs the Worker's queue handler on one push job as delivery number `attempts`; acked or retried. */
export async function runPushJob(body: unknown, options: { attempts?: number; bindings?: typeof env } = {}) {
  const id = `push-${++sequence}`;
  const { result, retryOptions } = await runQueueBatch(
    JOBS_QUEUE,
    [{ id, body, attempts: options.attempts }],
    options.bindings ?? env,
  );
  return {
    acked: result.explicitAcks.includes(id),
    retried: result.retryMessages.some((retried) => retried.msgId === id),
    retryDelaySeconds: retryOptions[0]?.[0]?.delaySeconds,
  };
}
