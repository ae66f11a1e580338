/**
 * `npm run dev:oidc`: a tiny OpenID Connect provider on http://localhost:9400, so provider
 * sign-in can be tried on a laptop without Docker or a Google/GitHub app. Development only:
 * it lives in scripts/, nothing in src/ imports it, and it signs in whoever clicks a name.
 *
 * What it serves, as a real provider does:
 *   GET  /.well-known/openid-configuration   discovery
 *   GET  /jwks                                its RS256 public key (a new key on every start)
 *   GET  /authorize                           a page to pick a person (or decline); PKCE S256 required
 *   POST /token                               code → ID token (with the nonce) + access token; checks the
 *                                             client secret (Basic or form), redirect_uri and code_verifier
 *   GET  /userinfo                            the person, for the access token
 *
 * Configure the API with (in .dev.vars):
 *   OIDC_PROVIDERS=[{"id":"mock","name":"Local mock IdP","issuer":"http://localhost:9400","client_id":"edge-api-local","client_secret":"mock-secret-not-for-production"}]
 * Options: --port 9400 (the issuer follows it).
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { exportJWK, generateKeyPair, SignJWT } from "jose";

const portArg = process.argv.find((arg, i) => process.argv[i - 1] === "--port" || arg.startsWith("--port="));
const PORT = Number(portArg?.replace("--port=", "") ?? 9400);
const ISSUER = `http://localhost:${PORT}`;
// A development fixture, not a secret: the mock accepts only this client.
const CLIENT_ID = "edge-api-local";
const CLIENT_SECRET = "mock-secret-not-for-production";

type MockPerson = {
  sub: string;
  email: string;
  email_verified: boolean;
  given_name: string;
  family_name: string;
};

/** Who can sign in. `mallory` has an address the provider has not verified: it never links to an account. */
const PEOPLE: Record<string, MockPerson> = {
  ada: {
    sub: "mock-ada",
    email: "ada@example.com",
    email_verified: true,
    given_name: "Ada",
    family_name: "Lovelace",
  },
  grace: {
    sub: "mock-grace",
    email: "grace@example.com",
    email_verified: true,
    given_name: "Grace",
    family_name: "Hopper",
  },
  mallory: {
    sub: "mock-mallory",
    email: "ada@example.com",
    email_verified: false,
    given_name: "Mallory",
    family_name: "Unverified",
  },
};

type Grant = {
  person: MockPerson;
  nonce?: string;
  challenge: string;
  redirectUri: string;
  expiresAt: number;
};
const grants = new Map<string, Grant>();
const accessTokens = new Map<string, MockPerson>();

const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
const KID = `mock-${randomUUID().slice(0, 8)}`;
const publicJwk = { ...(await exportJWK(publicKey)), kid: KID, alg: "RS256", use: "sig" };

const base64url = (bytes: Buffer) => bytes.toString("base64url");
const s256 = (verifier: string) => base64url(createHash("sha256").update(verifier).digest());
const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch] ?? ch,
  );

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, {
    "content-type": typeof body === "string" ? "text/html; charset=utf-8" : "application/json",
    "cache-control": "no-store",
    ...headers,
  });
  res.end(text);
}

function redirect(res: ServerResponse, to: URL) {
  res.writeHead(302, { location: to.toString(), "cache-control": "no-store" });
  res.end();
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

function discovery() {
  return {
    issuer: ISSUER,
    authorization_endpoint: `${ISSUER}/authorize`,
    token_endpoint: `${ISSUER}/token`,
    userinfo_endpoint: `${ISSUER}/userinfo`,
    jwks_uri: `${ISSUER}/jwks`,
    response_types_supported: ["code"],
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: ["RS256"],
    scopes_supported: ["openid", "email", "profile"],
    token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    code_challenge_methods_supported: ["S256"],
    claims_supported: ["sub", "email", "email_verified", "given_name", "family_name", "name"],
  };
}

/** GET /authorize: checks the request, then shows who may sign in. */
function authorizePage(url: URL, res: ServerResponse) {
  const params = url.searchParams;
  const problem =
    params.get("client_id") !== CLIENT_ID
      ? `unknown client_id (this mock knows ${CLIENT_ID})`
      : params.get("response_type") !== "code"
        ? "response_type must be code"
        : params.get("code_challenge_method") !== "S256" || !params.get("code_challenge")
          ? "PKCE S256 is required"
          : !params.get("redirect_uri")
            ? "redirect_uri is missing"
            : null;
  if (problem) return send(res, 400, `<h1>Bad authorization request</h1><p>${escapeHtml(problem)}</p>`);
  const hidden = [...params]
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join("");
  const buttons = Object.entries(PEOPLE)
    .map(
      ([id, person]) =>
        `<button name="person" value="${id}">${escapeHtml(`${person.given_name} ${person.family_name}`)} — ${escapeHtml(person.email)} (${person.email_verified ? "verified" : "not verified"})</button>`,
    )
    .join("<br>");
  send(
    res,
    200,
    `<!doctype html><meta charset="utf-8"><title>Mock IdP</title>
<style>body{font:16px system-ui;max-width:40rem;margin:3rem auto}button{margin:.3rem 0;padding:.5rem 1rem}</style>
<h1>Mock IdP: sign in as…</h1>
<p>Returning to <code>${escapeHtml(params.get("redirect_uri") ?? "")}</code></p>
<form method="get" action="/authorize/decide">${hidden}${buttons}<br><br>
<button name="person" value="">Decline (access_denied)</button></form>`,
  );
}

/** GET /authorize/decide: the person picked (or declined); back to the client with a code. */
function decide(url: URL, res: ServerResponse) {
  const params = url.searchParams;
  const back = new URL(params.get("redirect_uri") ?? "");
  back.searchParams.set("state", params.get("state") ?? "");
  back.searchParams.set("iss", ISSUER);
  const person = PEOPLE[params.get("person") ?? ""];
  if (!person) {
    back.searchParams.set("error", "access_denied");
    return redirect(res, back);
  }
  const code = base64url(randomBytes(24));
  grants.set(code, {
    person,
    nonce: params.get("nonce") ?? undefined,
    challenge: params.get("code_challenge") ?? "",
    redirectUri: params.get("redirect_uri") ?? "",
    expiresAt: Date.now() + 60_000,
  });
  back.searchParams.set("code", code);
  redirect(res, back);
}

/** POST /token: the checks a real provider makes, then the ID token. */
async function token(req: IncomingMessage, res: ServerResponse) {
  const form = await readForm(req);
  const basic = req.headers.authorization?.match(/^Basic (.+)$/)?.[1];
  const [id, secret] = basic
    ? Buffer.from(basic, "base64").toString("utf8").split(":")
    : [form.get("client_id"), form.get("client_secret")];
  if (id !== CLIENT_ID || secret !== CLIENT_SECRET) {
    return send(res, 401, { error: "invalid_client", error_description: "Client authentication failed" });
  }
  const code = form.get("code") ?? "";
  const grant = grants.get(code);
  grants.delete(code);
  const refusal =
    form.get("grant_type") !== "authorization_code"
      ? "unsupported grant_type"
      : !grant || grant.expiresAt < Date.now()
        ? "unknown, used or expired code"
        : form.get("redirect_uri") !== grant.redirectUri
          ? "redirect_uri does not match the authorization request"
          : s256(form.get("code_verifier") ?? "") !== grant.challenge
            ? "code_verifier does not match the code_challenge"
            : null;
  if (refusal || !grant) return send(res, 400, { error: "invalid_grant", error_description: refusal });
  const accessToken = base64url(randomBytes(32));
  accessTokens.set(accessToken, grant.person);
  const { sub, ...claims } = grant.person;
  const idToken = await new SignJWT({
    ...claims,
    name: `${claims.given_name} ${claims.family_name}`,
    ...(grant.nonce ? { nonce: grant.nonce } : {}),
  })
    .setProtectedHeader({ alg: "RS256", kid: KID, typ: "JWT" })
    .setIssuer(ISSUER)
    .setAudience(CLIENT_ID)
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(privateKey);
  send(res, 200, {
    access_token: accessToken,
    token_type: "Bearer",
    expires_in: 300,
    id_token: idToken,
    scope: "openid email profile",
  });
}

async function handle(req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? "/", ISSUER);
  try {
    if (req.method === "GET" && url.pathname === "/.well-known/openid-configuration")
      return send(res, 200, discovery());
    if (req.method === "GET" && url.pathname === "/jwks") return send(res, 200, { keys: [publicJwk] });
    if (req.method === "GET" && url.pathname === "/authorize") return authorizePage(url, res);
    if (req.method === "GET" && url.pathname === "/authorize/decide") return decide(url, res);
    if (req.method === "POST" && url.pathname === "/token") return await token(req, res);
    if (req.method === "GET" && url.pathname === "/userinfo") {
      const person = accessTokens.get(req.headers.authorization?.replace(/^Bearer /, "") ?? "");
      return person ? send(res, 200, person) : send(res, 401, { error: "invalid_token" });
    }
    send(res, 404, { error: "not_found" });
  } catch (error) {
    send(res, 400, { error: "invalid_request", error_description: String(error) });
  }
}

// Loopback only (it signs anyone in), on both IPv4 and IPv6: "localhost" may resolve to either.
createServer(handle)
  .on("error", () => undefined)
  .listen(PORT, "::1");
createServer(handle).listen(PORT, "127.0.0.1", () => {
  console.log(`mock-oidc: issuer ${ISSUER} (development only: it signs in whoever clicks a name)`);
  console.log(`mock-oidc: people: ${Object.keys(PEOPLE).join(", ")}`);
  console.log("mock-oidc: in .dev.vars, then restart npm run dev:");
  console.log(
    `OIDC_PROVIDERS=[{"id":"mock","name":"Local mock IdP","issuer":"${ISSUER}","client_id":"${CLIENT_ID}","client_secret":"${CLIENT_SECRET}"}]`,
  );
});
