/**
 * `npm run dev:push`: a Web Push service on http://127.0.0.1:8790 that plays a browser
 * too, so push notifications can be tried on a laptop with no browser, no internet and
 * no Firebase project. Development only: nothing in src/ imports it.
 *
 * On start it makes a subscriber (a P-256 key pair and an auth secret, as a browser's
 * PushManager does) and prints the JSON to register it with. Each push the Worker sends
 * is then checked as a push service and a browser would: the VAPID JWT verified with the
 * key in its header (ES256, `aud` this origin, `exp` within 24 hours), the body decrypted
 * (RFC 8291 aes128gcm) and printed. Answers 201, or 410 with `--gone` (the API then
 * removes the subscription).
 *
 * Options: --port 8790, --gone. The API accepts this http://127.0.0.1 endpoint outside
 * production only.
 */
import { createServer } from "node:http";
import { importJWK, jwtVerify } from "jose";
import { decryptWebPush, fromBase64url } from "./lib/web-push-decrypt.ts";

const portArg = process.argv.find((arg, i) => process.argv[i - 1] === "--port" || arg.startsWith("--port="));
const PORT = Number(portArg?.replace("--port=", "") ?? 8790);
const GONE = process.argv.includes("--gone");
const ORIGIN = `http://127.0.0.1:${PORT}`;
const API = process.env.API_URL ?? "http://localhost:8787";

const toBase64url = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64url");

const pair = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, [
  "deriveBits",
])) as CryptoKeyPair;
const subscriber = {
  privateKey: pair.privateKey,
  p256dh: toBase64url(new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey))),
  auth: toBase64url(crypto.getRandomValues(new Uint8Array(16))),
};
const path = `/push/${crypto.randomUUID()}`;
const subscription = {
  type: "webpush",
  endpoint: `${ORIGIN}${path}`,
  keys: { p256dh: subscriber.p256dh, auth: subscriber.auth },
};

/** The VAPID JWT of `authorization` (`vapid t=…, k=…`), verified with the key it names. */
async function checkVapid(authorization: string | undefined): Promise<string> {
  const match = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(authorization ?? "");
  if (!match?.[1] || !match[2]) throw new Error(`no VAPID authorization (got ${authorization ?? "none"})`);
  const point = fromBase64url(match[2]);
  const key = await importJWK(
    { kty: "EC", crv: "P-256", x: toBase64url(point.slice(1, 33)), y: toBase64url(point.slice(33, 65)) },
    "ES256",
  );
  const { payload } = await jwtVerify(match[1], key, { algorithms: ["ES256"], audience: ORIGIN });
  const lifetime = (payload.exp ?? 0) - Math.floor(Date.now() / 1000);
  if (lifetime > 24 * 60 * 60) throw new Error(`the JWT lives ${lifetime} s, over RFC 8292's 24 hours`);
  return `VAPID ok: sub ${payload.sub}, expires in ${Math.round(lifetime / 60)} min, key ${match[2].slice(0, 12)}…`;
}

const server = createServer(async (request, response) => {
  if (request.method !== "POST" || request.url !== path) {
    response.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const body = new Uint8Array(Buffer.concat(chunks));
  const headers = request.headers;
  console.log(
    `\n← push: ${body.byteLength} bytes, Content-Encoding ${headers["content-encoding"]}, TTL ${headers.ttl}, Urgency ${headers.urgency ?? "-"}, Topic ${headers.topic ?? "-"}`,
  );
  try {
    console.log(`  ${await checkVapid(headers.authorization)}`);
    const plaintext = await decryptWebPush(body, subscriber);
    console.log(`  decrypted: ${JSON.stringify(JSON.parse(new TextDecoder().decode(plaintext)), null, 2)}`);
  } catch (error) {
    console.log(`  refused: ${error instanceof Error ? error.message : String(error)}`);
    response.writeHead(400).end((error as Error).message);
    return;
  }
  if (GONE) {
    console.log("  → 410 Gone (--gone): the API removes this subscription");
    response.writeHead(410).end("push subscription has unsubscribed or expired.");
    return;
  }
  response.writeHead(201, { Location: `${ORIGIN}/message/${crypto.randomUUID()}` }).end();
});

server.listen(PORT, "127.0.0.1", () => {
  console.log(`A local Web Push service (and its browser) on ${ORIGIN}${GONE ? ", answering 410 Gone" : ""}.

Register it as a device of a signed-in user (TOKEN is an access token, e.g. from POST /api/v1/auth/login):

  curl -X POST ${API}/api/v1/users/me/push-subscriptions \\
    -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\
    -d '${JSON.stringify(subscription)}'

Then send yourself a notification; it arrives here, decrypted:

  curl -X POST ${API}/api/v1/notifications/test -H "Authorization: Bearer $TOKEN"
`);
});
