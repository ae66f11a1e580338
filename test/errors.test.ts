/**
 * The error handler: every kind of failure becomes RFC 9457 problem+json with the
 * right status, a stable code and the request id — never a stack trace, never a
 * 500 for something the client sent.
 */

import { env } from "cloudflare:workers";
import { z } from "@hono/zod-openapi";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../src/app";
import type { AppEnv } from "../src/app-env";
import { defineRoute, jsonContent } from "../src/lib/openapi";
import { ProblemError } from "../src/lib/problem";
import { handleError, handleUnmatched } from "../src/middleware/error-handler";
import { switchedOn, switchOf } from "../src/middleware/switched-on";
import { person } from "./support/factories";

const EchoBody = z.strictObject({
  email: z.email(),
  age: z.number().int().min(0),
  tags: z.array(z.string().max(10)).max(3).optional(),
});

function buildApp() {
  const app = createApp();
  app.openapi(
    defineRoute({
      method: "post",
      path: "/test/echo",
      request: {
        body: { content: { "application/json": { schema: EchoBody } } },
        query: z.object({ mode: z.enum(["plain", "loud"]).default("plain") }),
      },
      responses: { 200: jsonContent(EchoBody, "echo") },
    }),
    (c) => c.json(c.req.valid("json"), 200),
  );
  app.openapi(
    defineRoute({
      method: "put",
      path: "/test/small",
      bodyLimit: 16,
      request: { body: { content: { "application/json": { schema: z.object({ a: z.string() }) } } } },
      responses: { 204: { description: "ok" } },
    }),
    (c) => c.body(null, 204),
  );
  app.get("/test/boom", () => {
    throw new Error("secret internals: db password is hunter2");
  });
  app.get("/test/http-exception", () => {
    throw new HTTPException(418, { message: "I'm a teapot" });
  });
  app.get("/test/problem", () => {
    throw new ProblemError({
      status: 409,
      code: "already_done",
      detail: "It was already done.",
      headers: { "Retry-After": "5" },
      extensions: { hint: "wait" },
    });
  });
  return app;
}

const app = buildApp();
const request = (path: string, init?: RequestInit) => app.request(path, init, env);
const postJson = (path: string, body: string, headers: Record<string, string> = {}) =>
  request(path, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });

async function expectProblem(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const body = (await res.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ status, code, type: `/problems/${code}` });
  expect(typeof body.title).toBe("string");
  expect(typeof body.detail).toBe("string");
  expect(body.request_id).toBe(res.headers.get("x-request-id"));
  return body;
}

afterEach(() => vi.restoreAllMocks());

describe("validation failures", () => {
  it("passes a valid body through", async () => {
    const res = await postJson("/test/echo", JSON.stringify({ email: "a@example.com", age: 3 }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ email: "a@example.com", age: 3 });
  });

  it("names every invalid body field with a JSON pointer", async () => {
    const res = await postJson(
      "/test/echo",
      JSON.stringify({ email: "nope", age: -1, tags: ["x".repeat(11)] }),
    );
    const body = await expectProblem(res, 400, "validation_failed");
    const pointers = (body.errors as Array<{ pointer: string }>).map((e) => e.pointer).sort();
    expect(pointers).toEqual(["/age", "/email", "/tags/0"]);
  });

  it("reports missing fields, wrong types and unknown fields", async () => {
    const res = await postJson("/test/echo", JSON.stringify({ age: "3", admin: true }));
    const body = await expectProblem(res, 400, "validation_failed");
    const errors = body.errors as Array<{ pointer: string; detail: string }>;
    expect(errors.map((e) => e.pointer).sort()).toEqual(["/admin", "/age", "/email"]);
    expect(errors.find((e) => e.pointer === "/admin")?.detail).toBe("Unknown field.");
  });

  it("rejects a body that is not an object", async () => {
    const body = await expectProblem(await postJson("/test/echo", "[1,2]"), 400, "validation_failed");
    expect(body.errors).toEqual([expect.objectContaining({ pointer: "" })]);
  });

  it("names an invalid query parameter", async () => {
    const res = await postJson("/test/echo?mode=shout", JSON.stringify({ email: "a@example.com", age: 1 }));
    const body = await expectProblem(res, 400, "validation_failed");
    expect(body.errors).toEqual([expect.objectContaining({ parameter: "mode", location: "query" })]);
  });
});

describe("malformed requests", () => {
  it("answers malformed JSON with 400 malformed_json", async () => {
    await expectProblem(await postJson("/test/echo", '{"email": "a@example.com",'), 400, "malformed_json");
  });

  it("answers an empty JSON body with 400 malformed_json", async () => {
    await expectProblem(await postJson("/test/echo", ""), 400, "malformed_json");
  });

  it("answers a wrong content type with 415 and says what is accepted", async () => {
    const res = await request("/test/echo", {
      method: "POST",
      body: "email=a@example.com",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    const body = await expectProblem(res, 415, "unsupported_media_type");
    expect(body.accepted_media_types).toEqual(["application/json"]);
  });

  it("answers a body without any content type with 415", async () => {
    const res = await request("/test/echo", { method: "POST", body: new TextEncoder().encode('{"a":1}') });
    await expectProblem(res, 415, "unsupported_media_type");
  });

  it("answers an oversize body (Content-Length) with 413", async () => {
    const big = JSON.stringify({ email: "a@example.com", age: 1, pad: "x".repeat(1024 * 1024) });
    const body = await expectProblem(await postJson("/test/echo", big), 413, "payload_too_large");
    expect(body.max_bytes).toBe(1024 * 1024);
  });

  it("answers an oversize streamed body (no Content-Length) with 413", async () => {
    const chunks = [
      new TextEncoder().encode('{"a":"'),
      new TextEncoder().encode("y".repeat(64)),
      new TextEncoder().encode('"}'),
    ];
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(chunk);
        controller.close();
      },
    });
    const res = await request("/test/small", {
      method: "PUT",
      body: stream,
      headers: { "content-type": "application/json" },
      // @ts-expect-error duplex is required by the fetch spec for streamed bodies; workers-types omits it
      duplex: "half",
    });
    const body = await expectProblem(res, 413, "payload_too_large");
    expect(body.max_bytes).toBe(16);
  });

  it("accepts a body right at a route's own limit", async () => {
    const res = await request("/test/small", {
      method: "PUT",
      body: JSON.stringify({ a: "12345678" }), // exactly 16 bytes
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(204);
  });
});

describe("routing failures", () => {
  it("answers an unknown route with 404 not_found", async () => {
    const body = await expectProblem(await request("/nope/nothing"), 404, "not_found");
    expect(body.detail).toBe("No route matches GET /nope/nothing.");
    expect(body.instance).toBe("/nope/nothing");
  });

  it("answers a wrong method with 405 and an Allow header", async () => {
    const res = await request("/health/live", { method: "DELETE" });
    await expectProblem(res, 405, "method_not_allowed");
    expect(res.headers.get("allow")).toBe("GET, HEAD");
  });

  it("answers a wrong method on a parameterised route with 405", async () => {
    const res = await request("/test/echo", { method: "GET" });
    await expectProblem(res, 405, "method_not_allowed");
    expect(res.headers.get("allow")).toBe("POST");
  });

  it("lists every method of a path with parameters, and answers HEAD where only POST exists with 405", async () => {
    const res = await request(`/api/v1/orgs/${crypto.randomUUID()}`, { method: "PUT" });
    await expectProblem(res, 405, "method_not_allowed");
    expect(res.headers.get("allow")?.split(", ").sort()).toEqual(["DELETE", "GET", "HEAD", "PATCH"]);
    const head = await request("/test/echo", { method: "HEAD" });
    expect(head.status).toBe(405);
    expect(head.headers.get("allow")).toBe("POST");
  });

  it("keeps a route's own 404 a 404, and the 405 still passes through the chain (request id, CORS, security headers)", async () => {
    const { token } = await person();
    const missing = await request(`/api/v1/orgs/${crypto.randomUUID()}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    await expectProblem(missing, 404, "not_found");
    const res = await request("/health/live", {
      method: "POST",
      headers: { origin: "https://app.example.com" },
    });
    await expectProblem(res, 405, "method_not_allowed");
    expect(res.headers.get("x-request-id")).toBeTruthy();
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("content-security-policy")).toBeTruthy();
  });
});

describe("405 and switched-off routes (handleUnmatched with switchedOn)", () => {
  // A sub-app with an error handler of its own: app.route() wraps each of its handlers.
  function appWith(sub: { onError: boolean }) {
    const feature = new Hono<AppEnv>();
    if (sub.onError) feature.onError(handleError);
    const featureOn = switchedOn((config) => config.API_DOCS_ENABLED);
    feature.get("/thing", featureOn, (c) => c.text("thing"));
    feature.post("/thing", (c) => c.text("posted"));
    feature.get("/only-switched", featureOn, (c) => c.text("switched"));
    const app = new Hono<AppEnv>();
    app.route("/feature", feature);
    app.notFound(handleUnmatched(app));
    app.onError(handleError);
    return app;
  }

  it.each([{ onError: false }, { onError: true }])(
    "offers only the methods still on, and 404 when none is (sub-app error handler: $onError)",
    async (sub) => {
      const app = appWith(sub);
      const on = { ...env, API_DOCS_ENABLED: "true" };
      const off = { ...env, API_DOCS_ENABLED: "false" };
      const put = (path: string, vars: typeof env) => app.request(path, { method: "PUT" }, vars);

      expect((await put("/feature/thing", on)).headers.get("allow")?.split(", ").sort()).toEqual([
        "GET",
        "HEAD",
        "POST",
      ]);
      const thingOff = await put("/feature/thing", off);
      expect(thingOff.status).toBe(405);
      expect(thingOff.headers.get("allow")).toBe("POST");

      expect((await put("/feature/only-switched", on)).status).toBe(405);
      const onlyOff = await put("/feature/only-switched", off);
      expect(onlyOff.status).toBe(404);
      expect(onlyOff.headers.get("allow")).toBeNull();
      expect(((await onlyOff.json()) as { code: string }).code).toBe("not_found");
    },
  );

  it("knows a switchedOn() middleware through hono's wrapper, and nothing else", () => {
    const isOn = () => true;
    const gate = switchedOn(isOn);
    const wrapped = Object.assign(async () => {}, { __COMPOSED_HANDLER: gate });
    expect(switchOf(gate)).toBe(isOn);
    expect(switchOf(wrapped)).toBe(isOn);
    expect(switchOf(async () => {})).toBeUndefined();
    expect(switchOf(undefined)).toBeUndefined();
  });
});

describe("thrown errors", () => {
  it("keeps a thrown problem's status, code, headers and extensions", async () => {
    const res = await request("/test/problem");
    const body = await expectProblem(res, 409, "already_done");
    expect(body.hint).toBe("wait");
    expect(res.headers.get("retry-after")).toBe("5");
  });

  it("maps a thrown HTTPException to a problem", async () => {
    const body = await expectProblem(await request("/test/http-exception"), 418, "http_error");
    expect(body.detail).toBe("I'm a teapot");
  });

  it("answers an unexpected error with a generic 500 and logs it with the request id", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await request("/test/boom", { headers: { "x-request-id": "req-boom-12345" } });
    const body = await expectProblem(res, 500, "internal_error");
    expect(JSON.stringify(body)).not.toContain("hunter2");
    expect(body.request_id).toBe("req-boom-12345");
    const line = JSON.parse(String(logged.mock.calls[0]?.[0]));
    expect(line).toMatchObject({ level: "error", msg: "unhandled error", request_id: "req-boom-12345" });
    expect(line.error.message).toContain("hunter2");
  });

  it("answers a broken configuration with 500 configuration_error, logging which variable", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await app.request("/", {}, { ...env, ACCESS_TOKEN_TTL: "forever" });
    await expectProblem(res, 500, "configuration_error");
    const line = JSON.parse(String(logged.mock.calls[0]?.[0]));
    expect(line.issues.join(" ")).toContain("ACCESS_TOKEN_TTL");
  });
});
