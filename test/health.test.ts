/** Operations routes: service info, liveness, and dependency health with a failing binding. */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { createApp } from "../src/app";
import type { Bindings } from "../src/env";

const app = createApp();

describe("GET /", () => {
  it("names the service and links the docs", async () => {
    const res = await exports.default.fetch("http://localhost/");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      name: "Edge API Platform",
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      environment: "test",
      links: { health: "/health", openapi: "/api/openapi.json", docs: "/api/docs", redoc: "/api/redoc" },
    });
  });

  it("does not link the docs when they are off", async () => {
    const res = await app.request("/", {}, { ...env, API_DOCS_ENABLED: "false" });
    expect(((await res.json()) as { links: unknown }).links).toEqual({
      health: "/health",
      openapi: null,
      docs: null,
      redoc: null,
    });
  });
});

describe("GET /health/live", () => {
  it("answers without touching dependencies", async () => {
    const res = await app.request("/health/live", {}, { ...env, DB: brokenD1() });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
    expect(res.headers.get("cache-control")).toBe("no-store");
  });
});

describe("GET /health and /health/ready", () => {
  for (const path of ["/health", "/health/ready"]) {
    it(`${path} checks every binding for real`, async () => {
      const res = await exports.default.fetch(`http://localhost${path}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as {
        status: string;
        checks: Record<string, { status: string; latency_ms: number }>;
      };
      expect(body.status).toBe("ok");
      expect(Object.keys(body.checks).sort()).toEqual(
        ["auth_kv", "d1", "email_provider", "email_queue", "jobs_queue", "r2", "rate_limit_kv"].sort(),
      );
      for (const check of Object.values(body.checks)) {
        expect(check.status).toBe("ok");
        expect(check.latency_ms).toBeGreaterThanOrEqual(0);
      }
    });
  }

  it("answers 503 naming the dependency that is down", async () => {
    const res = await app.request("/health", {}, { ...env, DB: brokenD1() } as Bindings);
    expect(res.status).toBe(503);
    const body = (await res.json()) as {
      status: string;
      checks: Record<string, { status: string; error?: string }>;
    };
    expect(body.status).toBe("down");
    expect(body.checks.d1).toMatchObject({ status: "down", error: "D1_ERROR: database unavailable" });
    expect(body.checks.auth_kv?.status).toBe("ok");
  });

  it("reports a failing queue producer", async () => {
    const brokenQueue = {
      send: async () => {
        throw new Error("Queue send failed: queue does not exist");
      },
    } as unknown as Queue;
    const res = await app.request("/health/ready", {}, { ...env, EMAIL_QUEUE: brokenQueue });
    expect(res.status).toBe(503);
    const body = (await res.json()) as { checks: Record<string, { status: string }> };
    expect(body.checks.email_queue?.status).toBe("down");
    expect(body.checks.jobs_queue?.status).toBe("ok");
  });
});

describe("GET /health: the email provider's settings", () => {
  it("is down, naming the missing secret, when EMAIL_PROVIDER lacks its key", async () => {
    const res = await app.request("/health", {}, {
      ...env,
      EMAIL_PROVIDER: "postmark",
      POSTMARK_SERVER_TOKEN: "",
    } as Bindings);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { checks: Record<string, { status: string; error?: string }> };
    expect(body.checks.email_provider).toMatchObject({
      status: "down",
      error: expect.stringContaining("POSTMARK_SERVER_TOKEN: required when EMAIL_PROVIDER=postmark"),
    });
    expect(body.checks.d1?.status).toBe("ok");
  });

  it("is ok once the key is there (the provider itself is not called)", async () => {
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    const res = await app.request("/health", {}, {
      ...env,
      EMAIL_PROVIDER: "mailgun",
      MAILGUN_API_KEY: "key-test",
      MAILGUN_DOMAIN: "mg.example.com",
    } as Bindings);
    expect(res.status).toBe(200);
    expect(fetchSpy).not.toHaveBeenCalled();
    fetchSpy.mockRestore();
  });
});

/**
 * Local D1 cannot be switched off, so this stands in for a database that is
 * down: every statement fails the way D1 reports errors.
 */
function brokenD1(): D1Database {
  const fail = () => {
    throw new Error("D1_ERROR: database unavailable");
  };
  // Opening a session does no I/O (a real binding's withSession() never fails): its queries do.
  const session = { prepare: fail, batch: fail, getBookmark: () => null };
  return {
    prepare: fail,
    batch: fail,
    exec: fail,
    dump: fail,
    withSession: () => session,
  } as unknown as D1Database;
}
