/** Request ids, the access log line, CORS and the security headers every response carries. */
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../src/app";

const fetchRoute = (path: string, init?: RequestInit) =>
  exports.default.fetch(`http://localhost${path}`, init);

afterEach(() => vi.restoreAllMocks());

describe("X-Request-Id", () => {
  it("echoes a sane client id", async () => {
    const res = await fetchRoute("/health/live", { headers: { "x-request-id": "client-req-0001" } });
    expect(res.headers.get("x-request-id")).toBe("client-req-0001");
  });

  it.each([
    ["too short", "abc"],
    ["too long", "x".repeat(200)],
    ["unsafe characters", "abc def<script>"],
  ])("replaces an id that is %s with a generated UUIDv7", async (_, value) => {
    const res = await fetchRoute("/health/live", { headers: { "x-request-id": value } });
    expect(res.headers.get("x-request-id")).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it("is in the problem body and in the access log line", async () => {
    const app = createApp();
    const logged = vi.spyOn(console, "log").mockImplementation(() => {});
    const res = await app.request(
      "/missing",
      { headers: { "x-request-id": "trace-me-0042" } },
      { ...env, LOG_LEVEL: "info" },
    );
    expect(((await res.json()) as { request_id: string }).request_id).toBe("trace-me-0042");
    const line = logged.mock.calls
      .map((call) => JSON.parse(String(call[0])))
      .find((entry) => entry.msg === "request");
    expect(line).toMatchObject({
      level: "info",
      request_id: "trace-me-0042",
      method: "GET",
      route: "(unmatched)",
      path: "/missing",
      status: 404,
      principal: "anonymous",
    });
    expect(typeof line.duration_ms).toBe("number");
  });

  it("logs the route pattern, not the raw path", async () => {
    const app = createApp();
    const logged = vi.spyOn(console, "log").mockImplementation(() => {});
    await app.request("/problems/validation_failed", {}, { ...env, LOG_LEVEL: "info" });
    const line = logged.mock.calls
      .map((call) => JSON.parse(String(call[0])))
      .find((entry) => entry.msg === "request");
    expect(line.route).toBe("/problems/:code");
  });

  it("logs the route that answered, not a later parameter route the path also fits", async () => {
    const app = createApp();
    const logged = vi.spyOn(console, "log").mockImplementation(() => {});
    await app.request("/api/v1/users/me", {}, { ...env, LOG_LEVEL: "info" });
    await app.request("/api/v1/tasks/types", {}, { ...env, LOG_LEVEL: "info" });
    const routes = logged.mock.calls
      .map((call) => JSON.parse(String(call[0])))
      .filter((entry) => entry.msg === "request")
      .map((entry) => entry.route);
    expect(routes).toEqual(["/api/v1/users/me", "/api/v1/tasks/types"]);
  });
});

describe("CORS", () => {
  it("allows a listed origin and exposes the API's headers", async () => {
    const res = await fetchRoute("/health/live", { headers: { origin: "http://localhost:3000" } });
    expect(res.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
    expect(res.headers.get("access-control-expose-headers")).toContain("X-Request-Id");
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
  });

  it("gives an unlisted origin no CORS grant", async () => {
    const res = await fetchRoute("/health/live", { headers: { origin: "https://evil.example" } });
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("answers a preflight from a listed origin", async () => {
    const res = await fetchRoute("/health", {
      method: "OPTIONS",
      headers: {
        origin: "http://localhost:5173",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,idempotency-key",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    expect(res.headers.get("access-control-allow-headers")).toContain("Idempotency-Key");
    expect(res.headers.get("access-control-allow-methods")).toContain("PATCH");
  });

  it("follows CORS_ORIGINS from the environment", async () => {
    const app = createApp();
    const res = await app.request(
      "/health/live",
      { headers: { origin: "https://app.example.com" } },
      { ...env, CORS_ORIGINS: "https://app.example.com" },
    );
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
  });
});

describe("security headers", () => {
  it("are on every response, errors included", async () => {
    for (const res of [await fetchRoute("/health/live"), await fetchRoute("/no/such/route")]) {
      expect(res.headers.get("content-security-policy")).toBe(
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
      );
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("x-frame-options")).toBe("DENY");
      expect(res.headers.get("strict-transport-security")).toContain("max-age=31536000");
      expect(res.headers.get("referrer-policy")).toBe("no-referrer");
      expect(res.headers.get("cross-origin-resource-policy")).toBe("same-site");
    }
  });
});
