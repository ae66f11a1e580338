/**
 * Requests through the Worker's own fetch handler (exports.default), exactly as
 * a client would send them: real middleware, real D1/KV, nothing of ours mocked.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import type { Bindings } from "../../src/env";

/** A list answer, `{ data, meta: { next, prev, total } }`: the app's own page type, so tests read what routes send. */
export type { Page } from "../../src/lib/pagination";

export type RequestOptions = {
  /** Bearer token for Authorization. */
  token?: string;
  /** JSON-encoded as the body (Content-Type: application/json). */
  body?: unknown;
  /** Sent as is; Content-Type stays whatever `headers` says. */
  rawBody?: string;
  headers?: Record<string, string>;
  /**
   * Client IP (CF-Connecting-IP). Every request gets a fresh documentation
   * address unless a test pins one, so the app-wide per-IP limit of anonymous
   * requests does not couple unrelated tests together.
   */
  ip?: string;
};

let ipCounter = 0;

/** A fresh address from 198.18.0.0/15 (reserved for benchmarking) per call. */
export function testIp(): string {
  ipCounter += 1;
  return `198.18.${Math.floor(ipCounter / 250) % 250}.${(ipCounter % 250) + 1}`;
}

/** The URL and init `api()` and `apiWith()` send: one place builds a client's request. */
function requestInit(method: string, path: string, options: RequestOptions): [string, RequestInit] {
  const headers = new Headers(options.headers);
  if (!headers.has("cf-connecting-ip")) headers.set("cf-connecting-ip", options.ip ?? testIp());
  if (options.token !== undefined) headers.set("authorization", `Bearer ${options.token}`);
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  return [`http://localhost${path}`, { method, headers, body }];
}

export async function api(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
  return exports.default.fetch(...requestInit(method, path, options));
}

/**
 * The same request through the Worker's handler in this isolate with other bindings
 * (`{ ...env, ...vars }`), for settings a test changes; it waits for the request's
 * after-response work (waitUntil), so whatever that queues or writes is there on return.
 */
export async function apiWith(
  vars: Partial<Bindings>,
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<Response> {
  // Imported here, not at the top: most test files never load the Worker into their own isolate.
  const { default: worker } = await import("../../src/index");
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(...requestInit(method, path, options)),
    { ...env, ...vars } as Bindings,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

/** The same helper with a bearer token bound: `const me = as(token); await me.get("/api/v1/users/me")`. */
export function as(token: string, defaults: Omit<RequestOptions, "token" | "body"> = {}) {
  const call =
    (method: string) =>
    (path: string, options: Omit<RequestOptions, "token"> = {}) =>
      api(method, path, {
        ...defaults,
        ...options,
        headers: { ...defaults.headers, ...options.headers },
        token,
      });
  return {
    get: call("GET"),
    post: call("POST"),
    patch: call("PATCH"),
    put: call("PUT"),
    delete: call("DELETE"),
  };
}

export type Problem = {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  request_id?: string;
  errors?: Array<{ pointer?: string; parameter?: string; location?: string; detail: string }>;
  [extension: string]: unknown;
};

/** Where each of a problem's `errors` points: its body pointer, or the query/path parameter it names. */
export const fieldsOf = (problem: Problem) =>
  (problem.errors ?? []).map((error) => error.pointer ?? error.parameter);

/** Asserts a problem+json answer with `status` and returns its body. */
export async function problemOf(res: Response, status: number): Promise<Problem> {
  const text = await res.text();
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${text.slice(0, 500)}`);
  if (!res.headers.get("content-type")?.startsWith("application/problem+json")) {
    throw new Error(
      `expected application/problem+json, got ${res.headers.get("content-type")}: ${text.slice(0, 200)}`,
    );
  }
  return JSON.parse(text) as Problem;
}

/** Asserts `status` and returns the parsed JSON body. */
export async function jsonOf<T>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}
