/**
 * The OpenAPI document declares every status an operation can answer, so generated clients
 * can rely on it:
 *
 * 1. walking every operation of /api/openapi.json, the statuses the app-wide middleware can
 *    answer are declared where they apply (429 unless exempt from the global limiter, 400 with
 *    parameters or a body, 413/415 with a JSON body, 401 with credentials, 409/422 with an
 *    Idempotency-Key);
 * 2. a bounded fuzz of every operation (garbage path parameters, bad query values, a wrong
 *    content type, invalid JSON, oversized headers): never a 5xx, always problem+json, and a
 *    status the operation declares.
 */
import { exports } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { isPathExemptFromGlobalRateLimit } from "../src/middleware/rate-limit";
import { createUser, signIn } from "./support/factories";
import { apiWith, testIp } from "./support/http";

type Parameter = { name: string; in: "path" | "query" | "header" | "cookie" };
type ResponseObject = { description: string; headers?: Record<string, unknown>; content?: object };
type Operation = {
  security?: Record<string, string[]>[];
  parameters?: Parameter[];
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, ResponseObject>;
};
type OpenApiDoc = {
  paths: Record<string, Record<string, Operation>>;
  components: { headers?: Record<string, unknown> };
};

/** Operations whose errors are not problem+json, by contract: RFC 6749 answers `{ error, error_description }`. */
const NON_PROBLEM_ERRORS = new Set(["POST /api/v1/oauth/token"]);

/**
 * The one 5xx a malformed request may meet: a feature this test server leaves unconfigured
 * (no Stripe webhook secret, no VAPID key) answers its declared 503 before reading anything.
 */
const isUnconfiguredFeature = (status: number, body: string) =>
  status === 503 && /"code":"[a-z_]+_not_configured"/.test(body);

/**
 * JSON bodies with no 415: the Stripe webhook verifies the raw bytes against their signature
 * whatever their declared type, and the OAuth token endpoint answers a wrong type with the
 * RFC 6749 `invalid_request` (400) the RFC asks for.
 */
const NO_CONTENT_TYPE_CHECK = new Set(["POST /api/v1/webhooks/stripe", "POST /api/v1/oauth/token"]);

let doc: OpenApiDoc;
const operations: Array<{ key: string; method: string; path: string; operation: Operation }> = [];

beforeAll(async () => {
  doc = (await (await exports.default.fetch("http://localhost/api/openapi.json")).json()) as OpenApiDoc;
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      operations.push({
        key: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        operation,
      });
    }
  }
});

const declared = (operation: Operation) => Object.keys(operation.responses).map(Number);
const hasParameters = (operation: Operation) =>
  (operation.parameters ?? []).some((parameter) => parameter.in !== "cookie");
const hasJsonBody = (operation: Operation) =>
  Object.keys(operation.requestBody?.content ?? {}).some((type) => /json/.test(type));
const takesCredentials = (operation: Operation) =>
  (operation.security ?? []).some((requirement) => Object.keys(requirement).length > 0);

describe("the statuses the middleware can answer are declared on every operation", () => {
  it("walks over a hundred operations", () => {
    expect(operations.length).toBeGreaterThan(100);
  });

  it("429 with Retry-After and the rate-limit headers, unless the path is exempt from the global limiter", () => {
    const missing: string[] = [];
    for (const { key, path, operation } of operations) {
      if (isPathExemptFromGlobalRateLimit(path)) continue;
      const response = operation.responses[429];
      if (!response) {
        missing.push(key);
        continue;
      }
      const headers = Object.keys(response.headers ?? {});
      expect(response.content, key).toHaveProperty(["application/problem+json", "example", "code"]);
      expect(headers, key).toEqual(
        expect.arrayContaining(["Retry-After", "X-RateLimit-Limit", "X-RateLimit-Reset", "RateLimit-Policy"]),
      );
    }
    expect(missing).toEqual([]);
    expect(doc.components.headers).toHaveProperty("Retry-After");
  });

  it("a route's own 429 (a route policy, the sign-in throttle) keeps its text and learns of the app-wide limit", () => {
    const login = doc.paths["/api/v1/auth/login"]?.post?.responses[429] as ResponseObject;
    expect(login.description).toMatch(/too_many_attempts/);
    expect(login.description).toMatch(/app-wide/);
    expect(Object.keys(login.headers ?? {})).toContain("Retry-After");
  });

  it("400 with parameters or a body; 413 with a body; 415 with a JSON body; 401 with credentials; 409 and 422 with an Idempotency-Key", () => {
    const missing: string[] = [];
    const expectStatus = (key: string, operation: Operation, status: number, when: boolean) => {
      if (when && !declared(operation).includes(status)) missing.push(`${key}: ${status}`);
    };
    for (const { key, operation } of operations) {
      const idempotent = (operation.parameters ?? []).some(
        (parameter) => parameter.name === "Idempotency-Key",
      );
      expectStatus(key, operation, 400, hasParameters(operation) || operation.requestBody !== undefined);
      expectStatus(key, operation, 413, operation.requestBody !== undefined);
      expectStatus(key, operation, 415, hasJsonBody(operation) && !NO_CONTENT_TYPE_CHECK.has(key));
      expectStatus(key, operation, 401, takesCredentials(operation));
      expectStatus(key, operation, 409, idempotent);
      expectStatus(key, operation, 422, idempotent);
    }
    expect(missing).toEqual([]);
  });

  it("POST /auth/logout says what it accepts: a bearer token, or none with a refresh token", () => {
    const logout = doc.paths["/api/v1/auth/logout"]?.post;
    expect(logout?.security).toEqual([{ bearerAuth: [] }, {}]);
    expect(JSON.stringify(logout)).toMatch(/refresh token/);
  });
});

/** Odd values for a path segment or a query value: encodings, lengths, types, injections. */
const GARBAGE = [
  "x".repeat(600),
  "%00",
  "..%2F..%2Fetc%2Fpasswd",
  "%27%20OR%201%3D1--",
  "-1",
  "1e309",
  "%F0%9F%92%A9",
  "%ZZ",
  "null",
  "%5B%5D",
];

/** A plausible value for each path parameter, to get past routing to the query and body checks. */
function plausible(name: string): string {
  if (name === "provider") return "google";
  if (name === "code") return "validation_failed";
  if (name === "key") return "new-checkout";
  return "0190c6c4-8d1e-7c2a-9f5e-1b2c3d4e5f60";
}

type Case = { label: string; path: string; headers?: Record<string, string>; body?: string; token: boolean };

/** A handful of malformed requests for one operation (bounded: the fuzz runs in seconds). */
function casesFor(path: string, operation: Operation, seed: number): Case[] {
  const pick = (offset: number) => GARBAGE[(seed + offset) % GARBAGE.length] as string;
  const withParams = (value: (name: string) => string) =>
    path.replace(/\{([^}]+)\}/g, (_, name: string) => value(name));
  const validPath = withParams(plausible);
  const cases: Case[] = [];
  if (path.includes("{")) {
    cases.push({ label: "garbage path parameters", path: withParams(() => pick(0)), token: true });
    cases.push({
      label: "garbage path parameters, anonymous",
      path: withParams(() => pick(1)),
      token: false,
    });
  }
  const query = (operation.parameters ?? []).filter((parameter) => parameter.in === "query");
  if (query.length > 0) {
    const bad = query.map((parameter, i) => `${encodeURIComponent(parameter.name)}=${pick(i + 2)}`).join("&");
    cases.push({ label: "bad query values", path: `${validPath}?${bad}`, token: true });
    cases.push({
      label: "repeated and unknown query parameters",
      path: `${validPath}?${query[0]?.name}=1&${query[0]?.name}=2&filter[nope]=1&limit=0`,
      token: true,
    });
  }
  if (operation.requestBody) {
    cases.push({
      label: "wrong content type",
      path: validPath,
      headers: { "content-type": "text/plain" },
      body: "hello",
      token: false,
    });
    cases.push({
      label: "invalid JSON",
      path: validPath,
      headers: { "content-type": "application/json" },
      body: '{"email": "a@example.test", ',
      token: true,
    });
    cases.push({
      label: "JSON of the wrong shape",
      path: validPath,
      headers: { "content-type": "application/json" },
      body: pick(3) === "null" ? "null" : '[{"__proto__": {"admin": true}}, 1e309]',
      token: true,
    });
  }
  const headerParameters = (operation.parameters ?? []).filter((parameter) => parameter.in === "header");
  cases.push({
    label: "oversized header values",
    path: validPath,
    headers: {
      "x-request-id": "r".repeat(4_000),
      "cf-connecting-ip": "9".repeat(2_000),
      "accept-language": "en;q=".repeat(500),
      ...Object.fromEntries(headerParameters.map((parameter) => [parameter.name, "h".repeat(5_000)])),
    },
    token: true,
  });
  cases.push({
    label: "a malformed credential",
    path: validPath,
    headers: { authorization: `Bearer ${"e30.".repeat(700)}`, "x-api-key": "sk_live_" },
    token: false,
  });
  return cases;
}

describe("a bounded fuzz of every operation", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("never answers a 5xx, always answers problem+json, and only statuses the operation declares", async () => {
    // Refusals are logged (the unconfigured Stripe webhook as an error); the findings say what matters.
    vi.spyOn(console, "error").mockImplementation(() => {});
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const findings: string[] = [];
    let sent = 0;
    for (const [index, { key, method, path, operation }] of operations.entries()) {
      // A fresh person per operation: a request that signs them out cannot blind the next ones.
      const { accessToken } = await signIn((await createUser()).user);
      for (const fuzz of casesFor(path, operation, index)) {
        const headers = new Headers(fuzz.headers);
        if (!headers.has("cf-connecting-ip")) headers.set("cf-connecting-ip", testIp());
        if (fuzz.token) headers.set("authorization", `Bearer ${accessToken}`);
        const res = await exports.default.fetch(`http://localhost${fuzz.path}`, {
          method,
          headers,
          body: fuzz.body,
          redirect: "manual",
        });
        sent += 1;
        const text = await res.text();
        const where = `${key} (${fuzz.label}) → ${res.status}`;
        if (res.status >= 500 && !isUnconfiguredFeature(res.status, text))
          findings.push(`${where}: ${text.slice(0, 200)}`);
        else if (!declared(operation).includes(res.status)) findings.push(`${where}: not declared`);
        else if (
          res.status >= 400 &&
          !NON_PROBLEM_ERRORS.has(key) &&
          !res.headers.get("content-type")?.startsWith("application/problem+json")
        ) {
          findings.push(`${where}: ${res.headers.get("content-type")}, not problem+json`);
        }
      }
    }
    expect(findings).toEqual([]);
    expect(sent).toBeGreaterThan(operations.length * 3);
  }, 120_000);
});

describe("over the anonymous budget", () => {
  it("every operation the global limiter counts answers its declared 429 problem with Retry-After; the exempt ones are not limited", async () => {
    // One request an hour per address: after the first, every counted operation is over it.
    const tight = { RATE_LIMIT_POLICIES: '{"anonymous":"1/3600"}' };
    const ip = "203.0.113.250";
    await (await apiWith(tight, "GET", "/", { ip })).text();
    const findings: string[] = [];
    for (const { key, method, path, operation } of operations) {
      const res = await apiWith(
        tight,
        method,
        path.replace(/\{([^}]+)\}/g, (_, name: string) => plausible(name)),
        {
          ip,
        },
      );
      const text = await res.text();
      // The dev mailbox is exempt only where it is on (it is, in tests); it declares the 429 for elsewhere.
      const exempt = isPathExemptFromGlobalRateLimit(path) || path.startsWith("/dev/mailbox");
      if (exempt ? res.status === 429 : res.status !== 429) findings.push(`${key} → ${res.status}`);
      else if (!exempt && !(res.headers.get("retry-after") && /"code":"rate_limited"/.test(text))) {
        findings.push(`${key}: a 429 without Retry-After or rate_limited`);
      } else if (!declared(operation).includes(res.status) && !isUnconfiguredFeature(res.status, text)) {
        findings.push(`${key} → ${res.status}: not declared`);
      }
    }
    expect(findings).toEqual([]);
  }, 120_000);
});
