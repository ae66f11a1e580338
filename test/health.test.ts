import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

describe("health", () => {
  it("answers /health/live", async () => {
    const res = await exports.default.fetch("http://localhost/health/live");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });
  it("checks every dependency", async () => {
    const res = await exports.default.fetch("http://localhost/health");
    const body = await res.json();
    console.log(JSON.stringify(body));
    expect(res.status).toBe(200);
  });
});
