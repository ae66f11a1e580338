/** The OpenAPI document, Swagger UI, ReDoc, their local assets, the off switch, and problem types. */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/app";

const fetchRoute = (path: string) => exports.default.fetch(`http://localhost${path}`);

type OpenApiDoc = {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, { tags?: string[]; responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, { type: string }> };
};

describe("GET /api/openapi.json", () => {
  it("is an OpenAPI 3.1 document with security schemes and the shared components", async () => {
    const res = await fetchRoute("/api/openapi.json");
    expect(res.status).toBe(200);
    const doc = (await res.json()) as OpenApiDoc;
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info.title).toBe("Edge API Platform");
    expect(Object.keys(doc.components.securitySchemes)).toEqual(
      expect.arrayContaining(["bearerAuth", "apiKeyHeader"]),
    );
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining(["Problem", "FieldError", "HealthReport"]),
    );
  });

  it("documents every route with a tag and a response example", async () => {
    const doc = (await (await fetchRoute("/api/openapi.json")).json()) as OpenApiDoc;
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/", "/health", "/health/live", "/health/ready"]),
    );
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        expect(operation.tags?.length, `${method} ${path} has a tag`).toBeGreaterThan(0);
        const documented = JSON.stringify(operation.responses);
        expect(
          documented.includes('"example"') || documented.includes('"examples"'),
          `${method} ${path} example`,
        ).toBe(true);
      }
    }
  });

  it("does not list the docs routes themselves", async () => {
    const doc = (await (await fetchRoute("/api/openapi.json")).json()) as OpenApiDoc;
    expect(
      Object.keys(doc.paths).some((path) => path.startsWith("/api/docs") || path === "/api/openapi.json"),
    ).toBe(false);
  });
});

describe("docs pages", () => {
  for (const [path, asset] of [
    ["/api/docs", "/api/docs/assets/swagger-ui-dist/swagger-ui-bundle.js"],
    ["/api/redoc", "/api/docs/assets/redoc/redoc.standalone.js"],
  ] as const) {
    it(`${path} loads its scripts from this worker, not a CDN`, async () => {
      const res = await fetchRoute(path);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("text/html");
      expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
      const html = await res.text();
      expect(html).toContain(asset);
      expect(html).not.toMatch(/https?:\/\//);
    });

    it(`serves ${asset}`, async () => {
      const res = await fetchRoute(asset);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("javascript");
      expect((await res.text()).length).toBeGreaterThan(100_000);
    });
  }

  it("serves the Swagger UI stylesheet", async () => {
    const res = await fetchRoute("/api/docs/assets/swagger-ui-dist/swagger-ui.css");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/css");
  });

  it("answers a missing asset with a 404 problem", async () => {
    const res = await fetchRoute("/api/docs/assets/nothing.js");
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
  });
});

describe("API_DOCS_ENABLED=false", () => {
  const app = createApp();
  const off = { ...env, API_DOCS_ENABLED: "false" };
  for (const path of [
    "/api/openapi.json",
    "/api/docs",
    "/api/redoc",
    "/api/docs/assets/swagger-ui-dist/swagger-ui-bundle.js",
  ]) {
    it(`answers ${path} with 404`, async () => {
      const res = await app.request(path, {}, off);
      expect(res.status).toBe(404);
      expect(((await res.json()) as { code: string }).code).toBe("not_found");
    });
  }

  it("answers another method with 404, not a 405 whose Allow would give the route away", async () => {
    for (const path of [
      "/api/openapi.json",
      "/api/docs",
      "/api/docs/assets/swagger-ui-dist/swagger-ui-bundle.js",
    ]) {
      const res = await app.request(path, { method: "POST" }, off);
      expect(res.status, path).toBe(404);
      expect(res.headers.get("allow"), path).toBeNull();
      const on = await app.request(path, { method: "POST" }, env);
      expect(on.status, path).toBe(405);
      expect(on.headers.get("allow"), path).toBe("GET, HEAD");
    }
  });

  it("defaults to off in production", async () => {
    const res = await app.request(
      "/api/docs",
      {},
      { ...env, ENVIRONMENT: "production", API_DOCS_ENABLED: "", EMAIL_PROVIDER: "resend" },
    );
    expect(res.status).toBe(404);
  });
});

describe("GET /problems/{code}", () => {
  it("describes a problem type", async () => {
    const res = await fetchRoute("/problems/validation_failed");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ code: "validation_failed", status: 400, title: "Bad Request" });
  });

  it("answers an unknown code with 404", async () => {
    expect((await fetchRoute("/problems/no_such_thing")).status).toBe(404);
  });

  it("answers a 404, not an undeclared 400, for a code of any length, and not for Object's own keys", async () => {
    for (const code of ["x".repeat(2_000), "constructor", "__proto__", "toString", "%00%ff"]) {
      const res = await fetchRoute(`/problems/${code}`);
      expect(res.status, code).toBe(404);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(((await res.json()) as { detail: string }).detail).not.toContain("x".repeat(100));
    }
  });
});
